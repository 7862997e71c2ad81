//! Hostile test guest: resolves a host name. Its component imports
//! `wasi:sockets/ip-name-lookup`, which the host accepts; the sandbox allows no name
//! lookup, so it must fail.

use std::net::ToSocketAddrs;

use wasmig_guest::{Db, Migration, Result, params};

struct Hostile;

impl Migration for Hostile {
    fn forwards(db: &Db) -> Result<()> {
        match ("localhost", 80).to_socket_addrs() {
            Ok(addresses) => {
                for address in addresses {
                    db.execute(
                        &format!("SELECT {}", db.placeholder(1)),
                        params![address.to_string()],
                    )?;
                }
                Ok(())
            }
            Err(error) => Err(format!("cannot resolve localhost: {error}").into()),
        }
    }

    fn backwards(_db: &Db) -> Result<()> {
        Ok(())
    }
}

wasmig_guest::export_migration!(Hostile, description = "Hostile: dns");
