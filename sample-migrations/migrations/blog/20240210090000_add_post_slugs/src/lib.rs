//! Gives every post a unique URL slug, derived from its title.
//!
//! A data migration: it reads the existing posts and writes each slug with a
//! parameterised `UPDATE`. Undoing it drops the column, which did not exist before.

use std::collections::HashSet;

use wasmig_guest::{Db, Dialect, Migration, Result, Rows, params};

struct AddPostSlugs;

impl Migration for AddPostSlugs {
    fn forwards(db: &Db) -> Result<()> {
        // MySQL can only index bounded text.
        let text = if db.dialect() == Dialect::Mysql { "VARCHAR(255)" } else { "TEXT" };
        db.execute(&format!("ALTER TABLE posts ADD COLUMN slug {text}"), &[])?;

        let posts = match db.query("SELECT id, title FROM posts ORDER BY id", &[]) {
            Ok(posts) => posts,
            // Previewing a fresh database: the migration creating `posts` was only
            // recorded, so there is no table to read yet, and in a real run it is empty.
            Err(_) if db.is_preview() => Rows::new(Vec::new(), Vec::new()),
            Err(error) => return Err(error.into()),
        };
        let update = format!(
            "UPDATE posts SET slug = {} WHERE id = {}",
            db.placeholder(1),
            db.placeholder(2)
        );
        let mut taken = HashSet::new();
        for post in &posts {
            let id: i64 = post.get(0)?;
            let base = slugify(&post.get::<String>(1)?);
            let mut slug = base.clone();
            for n in 2.. {
                if taken.insert(slug.clone()) {
                    break;
                }
                slug = format!("{base}-{n}");
            }
            db.execute(&update, params![slug, id])?;
        }
        db.execute("CREATE UNIQUE INDEX posts_slug_key ON posts (slug)", &[])?;
        Ok(())
    }

    fn backwards(db: &Db) -> Result<()> {
        // SQLite cannot drop an indexed column: the index goes first.
        let drop_index = match db.dialect() {
            Dialect::Sqlite | Dialect::Postgres => "DROP INDEX posts_slug_key",
            Dialect::Mysql => "DROP INDEX posts_slug_key ON posts",
        };
        db.execute_batch(&[drop_index, "ALTER TABLE posts DROP COLUMN slug"])?;
        Ok(())
    }
}

/// Lowercase ASCII letters and digits joined by single dashes, at most 200 bytes.
fn slugify(title: &str) -> String {
    let mut slug = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.truncate(200);
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() { "post".to_owned() } else { slug.to_owned() }
}

wasmig_guest::export_migration!(AddPostSlugs, description = "Add unique slugs to posts");
