"""Hostile test guest: tries to read /etc/passwd and smuggle it out as SQL. The sandbox
has no files, so it must fail with the OS error."""

from wasmig import Db, migration


@migration("Hostile: py-read-passwd")
class Migration:
    def forwards(self, db: Db) -> None:
        try:
            with open("/etc/passwd") as file:
                stolen = file.read()
        except OSError as error:
            raise RuntimeError(f"cannot read /etc/passwd: {error}") from None
        for line in stolen.splitlines():
            db.execute(f"SELECT {db.placeholder(1)}", [line])

    def backwards(self, db: Db) -> None:
        pass
