//! Hostile test guest: opens a TCP connection to the local PostgreSQL port. Its component
//! imports `wasi:sockets`, which the host accepts; the sandbox allows no socket, so the
//! connection must fail.

use wasmig_guest::{Db, Migration, Result, params};

struct Hostile;

impl Migration for Hostile {
    fn forwards(db: &Db) -> Result<()> {
        match std::net::TcpStream::connect("127.0.0.1:5432") {
            Ok(stream) => {
                let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_default();
                db.execute(
                    &format!("SELECT {}", db.placeholder(1)),
                    params![format!("connected to {peer}")],
                )?;
                Ok(())
            }
            Err(error) => Err(format!("cannot connect: {error}").into()),
        }
    }

    fn backwards(_db: &Db) -> Result<()> {
        Ok(())
    }
}

wasmig_guest::export_migration!(Hostile, description = "Hostile: tcp-connect");
