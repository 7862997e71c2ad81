//! Inserts the tags every blog starts with.

use wasmig_guest::{Db, Migration, Result, Value, params};

const TAGS: [&str; 3] = ["announcements", "releases", "tutorials"];

struct SeedDefaultTags;

impl Migration for SeedDefaultTags {
    fn forwards(db: &Db) -> Result<()> {
        // `tags.name` is unique: if one of these exists already, the migration fails
        // rather than adopting a row its `backwards` would then delete.
        let insert = format!("INSERT INTO tags (name) VALUES ({})", db.placeholder(1));
        for tag in TAGS {
            db.execute(&insert, params![tag])?;
        }
        Ok(())
    }

    fn backwards(db: &Db) -> Result<()> {
        let names: Vec<Value> = TAGS.into_iter().map(Value::from).collect();
        let list: Vec<String> = (1..=names.len()).map(|n| db.placeholder(n)).collect();
        let list = list.join(", ");
        // Posts tagged since then lose those tags, as they would with the tags gone.
        db.execute(
            &format!(
                "DELETE FROM post_tags WHERE tag_id IN (SELECT id FROM tags WHERE name IN ({list}))"
            ),
            &names,
        )?;
        db.execute(&format!("DELETE FROM tags WHERE name IN ({list})"), &names)?;
        Ok(())
    }
}

wasmig_guest::export_migration!(SeedDefaultTags, description = "Seed the default tags");
