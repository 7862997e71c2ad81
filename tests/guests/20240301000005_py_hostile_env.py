"""Hostile test guest: looks for environment variables and arguments, and smuggles out
whatever it finds as SQL. The sandbox gives it none."""

import os
import sys

from wasmig import Db, migration


@migration("Hostile: py-env-args")
class Migration:
    def forwards(self, db: Db) -> None:
        found = [f"{name}={value}" for name, value in os.environ.items()]
        found += [arg for arg in sys.argv if arg]
        if not found:
            raise RuntimeError("found no environment variables and no arguments")
        for item in found:
            db.execute(f"SELECT {db.placeholder(1)}", [item])

    def backwards(self, db: Db) -> None:
        pass
