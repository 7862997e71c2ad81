"""Creates the `comments` table: comments on blog posts, by users of `auth`.

The post and author columns hold keys of `posts` and `users` without a foreign key
constraint: a constraint across apps would forbid reversing `blog` while `comments` is
applied, and each app's migrations are meant to be reversible on their own."""

from wasmig import MYSQL, POSTGRES, SQLITE, Db, migration

# The key column, and the type of the keys it refers to, per dialect.
KEYS = {
    SQLITE: ("INTEGER PRIMARY KEY AUTOINCREMENT", "INTEGER"),
    POSTGRES: ("BIGSERIAL PRIMARY KEY", "BIGINT"),
    MYSQL: ("BIGINT AUTO_INCREMENT PRIMARY KEY", "BIGINT"),
}


@migration("Create the comments table")
class Migration:
    def forwards(self, db: Db) -> None:
        id, key = KEYS[db.dialect]
        db.execute(
            f"""CREATE TABLE comments (
    id {id},
    post_id {key} NOT NULL,
    author_id {key} NOT NULL,
    body TEXT NOT NULL
)"""
        )
        db.execute("CREATE INDEX comments_post_id ON comments (post_id)")

    def backwards(self, db: Db) -> None:
        db.execute("DROP TABLE comments")
