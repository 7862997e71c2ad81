"""Hostile test guest: opens a TCP connection to the local PostgreSQL port. The sandbox
allows no socket, so it must fail; were it to connect, it would say so in its SQL."""

# Bundled with the component: the socket module encodes host names with it.
import encodings.idna  # noqa: F401
import socket

from wasmig import Db, migration


@migration("Hostile: py-tcp-connect")
class Migration:
    def forwards(self, db: Db) -> None:
        try:
            stream = socket.create_connection(("127.0.0.1", 5432), timeout=1)
        except OSError as error:
            raise RuntimeError(f"cannot connect: {error}") from None
        db.execute(f"SELECT {db.placeholder(1)}", [f"connected to {stream.getpeername()}"])

    def backwards(self, db: Db) -> None:
        pass
