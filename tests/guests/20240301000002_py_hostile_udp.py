"""Hostile test guest: sends a UDP datagram to the local DNS port. The sandbox allows no
socket, so it must fail."""

# Bundled with the component: the socket module encodes host names with it.
import encodings.idna  # noqa: F401
import socket

from wasmig import Db, migration


@migration("Hostile: py-udp")
class Migration:
    def forwards(self, db: Db) -> None:
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sent = sock.sendto(b"wasmig", ("127.0.0.1", 53))
        except OSError as error:
            raise RuntimeError(f"cannot send a datagram: {error}") from None
        db.execute(f"SELECT {db.placeholder(1)}", [f"sent {sent} bytes"])

    def backwards(self, db: Db) -> None:
        pass
