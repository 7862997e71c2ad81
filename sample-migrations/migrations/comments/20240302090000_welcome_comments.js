// Welcomes each existing post with a first comment by its own author.
//
// A data migration: it reads the posts and inserts one comment per post with a
// parameterised INSERT. Undoing it deletes exactly those comments.

import { DbError, defineMigration } from "./wasmig.js";

const WELCOME = "Comments are open: be kind.";

export const migration = defineMigration({
  description: "Welcome every post with a first comment",

  forwards(db) {
    let posts = [];
    try {
      posts = db.query("SELECT id, author_id FROM posts ORDER BY id");
    } catch (error) {
      // Previewing a fresh database: the tables were only recorded, not created, so
      // there is nothing to read yet (and in a real run, nothing to welcome).
      if (!(error instanceof DbError && db.isPreview)) throw error;
    }
    const insert = `INSERT INTO comments (post_id, author_id, body) VALUES (${db.placeholder(1)}, ${db.placeholder(2)}, ${db.placeholder(3)})`;
    for (const post of posts) {
      db.execute(insert, [post.get("id"), post.get("author_id"), WELCOME]);
    }
  },

  backwards(db) {
    db.execute(
      `DELETE FROM comments WHERE body = ${db.placeholder(1)} AND author_id IN (SELECT author_id FROM posts WHERE posts.id = comments.post_id)`,
      [WELCOME],
    );
  },
});
