"""Hostile test guest: resolves a host name. The sandbox allows no name lookup, so it
must fail."""

# Bundled with the component: the socket module encodes host names with it.
import encodings.idna  # noqa: F401
import socket

from wasmig import Db, migration


@migration("Hostile: py-dns")
class Migration:
    def forwards(self, db: Db) -> None:
        try:
            found = socket.getaddrinfo("localhost", 80)
        except OSError as error:
            raise RuntimeError(f"cannot resolve localhost: {error}") from None
        for address in found:
            db.execute(f"SELECT {db.placeholder(1)}", [str(address[4])])

    def backwards(self, db: Db) -> None:
        pass
