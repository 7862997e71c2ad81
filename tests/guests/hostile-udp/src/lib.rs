//! Hostile test guest: sends a UDP datagram to the local DNS port. The sandbox allows no
//! socket, so it must fail with the OS error.

use wasmig_guest::{Db, Migration, Result, params};

struct Hostile;

impl Migration for Hostile {
    fn forwards(db: &Db) -> Result<()> {
        let sent = std::net::UdpSocket::bind("0.0.0.0:0")
            .and_then(|socket| socket.send_to(b"wasmig", "127.0.0.1:53"));
        match sent {
            Ok(bytes) => {
                db.execute(
                    &format!("SELECT {}", db.placeholder(1)),
                    params![format!("sent {bytes} bytes")],
                )?;
                Ok(())
            }
            Err(error) => Err(format!("cannot send a datagram: {error}").into()),
        }
    }

    fn backwards(_db: &Db) -> Result<()> {
        Ok(())
    }
}

wasmig_guest::export_migration!(Hostile, description = "Hostile: udp");
