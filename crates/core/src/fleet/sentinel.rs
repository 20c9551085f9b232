//! Finding the primary through Redis Sentinel.
//!
//! The Sentinels are asked in the configured order, `SENTINEL get-master-addr-by-name
//! NAME`; the first that names an address wins. The caller then connects there and queues
//! `ROLE` (see [`super::connection::Connection::expect_primary`]) with its first real
//! command, so a primary that has just been demoted, and that a Sentinel has not noticed
//! yet, is refused without costing a round trip on a healthy primary.

use std::time::Duration;

use super::connection::{self, Tls};
use super::resp::Reply;
use super::settings::HostPort;
use crate::store::StoreError;

/// The address the first Sentinel that answers gives for `master`. Sentinels that cannot be
/// reached or do not know `master` are skipped; if none names one, the error lists why
/// each failed. Each Sentinel gets `connect_timeout` to connect and `timeout` to answer.
pub fn primary_address(
    sentinels: &[HostPort],
    master: &str,
    tls: Option<&Tls>,
    connect_timeout: Duration,
    timeout: Duration,
) -> Result<HostPort, StoreError> {
    let mut failures = Vec::new();
    for sentinel in sentinels {
        match ask(sentinel, master, tls, connect_timeout, timeout) {
            Ok(primary) => return Ok(primary),
            Err(e) => failures.push(match e {
                StoreError::Unreachable(why) | StoreError::Server(why) => why,
                other => other.to_string(),
            }),
        }
    }
    Err(StoreError::Unreachable(format!(
        "no Sentinel named a primary for {master}: {}",
        failures.join("; ")
    )))
}

fn ask(
    sentinel: &HostPort,
    master: &str,
    tls: Option<&Tls>,
    connect_timeout: Duration,
    timeout: Duration,
) -> Result<HostPort, StoreError> {
    let mut conn = connection::connect(sentinel, tls, connect_timeout, timeout)?;
    let replies = conn.round_trip(
        &[&[b"SENTINEL", b"get-master-addr-by-name", master.as_bytes()]],
        Duration::ZERO,
    )?;
    let peer = conn.peer().to_string();
    match replies.first() {
        Some(Reply::Array(items)) if items.len() == 2 => {
            let host = items[0]
                .as_bytes()
                .and_then(|b| std::str::from_utf8(b).ok());
            let port = items[1]
                .as_bytes()
                .and_then(|b| std::str::from_utf8(b).ok())
                .and_then(|p| p.parse::<u16>().ok());
            match (host, port) {
                (Some(host), Some(port)) if !host.is_empty() => Ok(HostPort {
                    host: host.to_string(),
                    port,
                }),
                _ => Err(StoreError::Unreachable(format!(
                    "{peer}: Sentinel gave an address that is not host and port"
                ))),
            }
        }
        Some(Reply::Nil) => Err(StoreError::Unreachable(format!(
            "{peer}: Sentinel does not monitor {master}"
        ))),
        Some(Reply::Error(e)) => Err(connection::error_reply(&peer, &String::from_utf8_lossy(e))),
        _ => Err(StoreError::Unreachable(format!(
            "{peer}: unexpected reply from Sentinel"
        ))),
    }
}
