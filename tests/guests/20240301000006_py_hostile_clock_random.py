"""Hostile test guest: probes the clocks and the randomness the sandbox gives it, and
writes what it saw into its SQL. Fixed clocks and seeded randomness make that SQL the
same on every run."""

import os
import time

from wasmig import Db, migration


@migration("Hostile: py-clock-random")
class Migration:
    def forwards(self, db: Db) -> None:
        wall = int(time.time())
        started = time.monotonic_ns()
        time.sleep(0.02)
        slept = time.monotonic_ns() - started
        # Read from the sandbox's randomness now, not from a generator seeded at build time.
        noise = os.urandom(8).hex()
        p = [db.placeholder(n) for n in (1, 2, 3)]
        db.execute(
            f"SELECT {p[0]} AS wall_seconds, {p[1]} AS slept_nanos, {p[2]} AS hash",
            [wall, slept, noise],
        )

    def backwards(self, db: Db) -> None:
        pass
