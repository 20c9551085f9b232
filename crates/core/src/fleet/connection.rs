//! One blocking connection to a Redis server: TCP (and TLS through rustls) with exact
//! timeouts, and pipelined round trips of RESP commands.
//!
//! No thread, no async runtime, no connection pool: sshd forks for every connection, so
//! each login opens one connection, uses it for one or two round trips and closes it (the
//! socket is close-on-exec and is closed when the [`Connection`] is dropped). Every wait is
//! bounded by a deadline: the connect (every resolved address, then the TLS handshake) by
//! `connect_timeout` in total, each round trip by `timeout` (plus the `WAIT` time when it
//! carries one), however slowly the server trickles its bytes.
//!
//! Authentication and the database choice are not round trips of their own: `AUTH` and
//! `SELECT` (and `ROLE`, when the primary was found through Sentinel) are queued as a
//! preamble and sent in the same write as the first real command; their replies are
//! checked, in order, before that command's reply is looked at.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use zeroize::Zeroizing;

use super::resp::{self, Reply};
use super::settings::HostPort;
use crate::store::StoreError;

/// The trust for TLS connections: only the CA certificates of `redis_ca_file`.
#[derive(Clone)]
pub struct Tls {
    config: Arc<ClientConfig>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tls")
    }
}

impl Tls {
    /// Trusts exactly the certificates in the PEM file `ca_file` (at least one).
    pub fn from_ca_file(ca_file: &Path) -> Result<Tls, String> {
        let pem = std::fs::read(ca_file)
            .map_err(|e| format!("redis_ca_file {}: {e}", ca_file.display()))?;
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| format!("redis_ca_file {}: {e}", ca_file.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("redis_ca_file {}: {e}", ca_file.display()))?;
        }
        if roots.is_empty() {
            return Err(format!(
                "redis_ca_file {}: no certificate in it",
                ca_file.display()
            ));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Tls {
            config: Arc::new(config),
        })
    }
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Stream {
    fn socket(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.get_ref(),
        }
    }
}

/// A command queued before the first real one, whose reply is checked and not returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Preamble {
    Auth,
    Select,
    Role,
}

/// An open connection (see the module documentation).
pub struct Connection {
    stream: Stream,
    peer: String,
    timeout: Duration,
    /// Encoded preamble commands (they may hold the password, hence the wiping buffer).
    preamble: Zeroizing<Vec<u8>>,
    checks: Vec<Preamble>,
    buf: Vec<u8>,
}

/// At least a millisecond: a zero socket timeout means "none" to the kernel and is refused
/// by std.
fn at_least_1ms(d: Duration) -> Duration {
    d.max(Duration::from_millis(1))
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

/// Connects to `addr` (every address it resolves to, in turn) and, with `tls`, completes
/// the handshake, all within `connect_timeout`. Each later round trip may take `timeout`.
pub fn connect(
    addr: &HostPort,
    tls: Option<&Tls>,
    connect_timeout: Duration,
    timeout: Duration,
) -> Result<Connection, StoreError> {
    let deadline = Instant::now() + connect_timeout;
    let name = format!("{}:{}", addr.host, addr.port);
    let resolved: Vec<SocketAddr> = (addr.host.as_str(), addr.port)
        .to_socket_addrs()
        .map_err(|e| StoreError::Unreachable(format!("resolve {name}: {e}")))?
        .collect();
    let mut last = StoreError::Unreachable(format!("resolve {name}: no address"));
    let mut socket = None;
    for sa in &resolved {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            last = StoreError::Unreachable(format!(
                "connect {sa}: timed out after {} ms",
                ms(connect_timeout)
            ));
            break;
        }
        match TcpStream::connect_timeout(sa, left) {
            Ok(s) => {
                socket = Some((s, *sa));
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                last = StoreError::Unreachable(format!(
                    "connect {sa}: timed out after {} ms",
                    ms(connect_timeout)
                ));
            }
            Err(e) => {
                last = StoreError::Unreachable(format!("connect {sa}: {}", io_text(&e)));
            }
        }
    }
    let Some((socket, sa)) = socket else {
        return Err(last);
    };
    let peer = sa.to_string();
    let unreachable = |why: String| StoreError::Unreachable(format!("{peer}: {why}"));
    socket
        .set_nodelay(true)
        .map_err(|e| unreachable(io_text(&e)))?;
    let stream = match tls {
        None => Stream::Plain(socket),
        Some(tls) => {
            let server = ServerName::try_from(addr.host.clone()).map_err(|_| {
                unreachable(format!("TLS: {} is not a valid server name", addr.host))
            })?;
            let mut conn = ClientConnection::new(tls.config.clone(), server)
                .map_err(|e| unreachable(format!("TLS: {e}")))?;
            let mut socket = socket;
            while conn.is_handshaking() {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(unreachable(format!(
                        "TLS handshake timed out after {} ms",
                        ms(connect_timeout)
                    )));
                }
                set_timeouts(&socket, left).map_err(|e| unreachable(io_text(&e)))?;
                if let Err(e) = conn.complete_io(&mut socket) {
                    return Err(unreachable(tls_error_text(&e, connect_timeout)));
                }
            }
            Stream::Tls(Box::new(StreamOwned::new(conn, socket)))
        }
    };
    Ok(Connection {
        stream,
        peer,
        timeout,
        preamble: Zeroizing::new(Vec::new()),
        checks: Vec::new(),
        buf: Vec::new(),
    })
}

fn set_timeouts(socket: &TcpStream, d: Duration) -> std::io::Result<()> {
    socket.set_read_timeout(Some(at_least_1ms(d)))?;
    socket.set_write_timeout(Some(at_least_1ms(d)))
}

/// What a failed system call says, without Rust's "(os error N)" suffix.
fn io_text(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
        std::io::ErrorKind::ConnectionReset => "connection reset by the server".to_string(),
        std::io::ErrorKind::UnexpectedEof => "connection closed by the server".to_string(),
        _ => {
            let text = e.to_string();
            match text.find(" (os error") {
                Some(i) => text[..i].to_string(),
                None => text,
            }
        }
    }
}

/// A TLS failure in words an admin can act on.
fn tls_error_text(e: &std::io::Error, connect_timeout: Duration) -> String {
    use rustls::CertificateError;
    if let Some(err) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return match err {
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
                "TLS: certificate not trusted by redis_ca_file".to_string()
            }
            rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            ) => "TLS: certificate is not valid for the configured host name".to_string(),
            rustls::Error::InvalidCertificate(other) => {
                format!("TLS: certificate rejected: {other:?}")
            }
            other => format!("TLS: {other}"),
        };
    }
    match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            format!("TLS handshake timed out after {} ms", ms(connect_timeout))
        }
        std::io::ErrorKind::UnexpectedEof
        | std::io::ErrorKind::ConnectionReset
        | std::io::ErrorKind::ConnectionAborted => {
            "TLS handshake: connection closed by the server (is this a TLS port?)".to_string()
        }
        _ => format!("TLS handshake: {}", io_text(e)),
    }
}

/// What an error reply means for the login: refusals of who we are (or of where we are)
/// are [`StoreError::Unreachable`], as fail_mode=local's fallback needs; anything else the
/// server refused is [`StoreError::Server`]. Server error texts never hold a password.
pub fn error_reply(peer: &str, text: &str) -> StoreError {
    let code = text.split(' ').next().unwrap_or("");
    let unreachable = |why: &str| StoreError::Unreachable(format!("{peer}: {why}"));
    match code {
        "WRONGPASS" => unreachable("WRONGPASS: the password or ACL user is wrong"),
        "NOAUTH" => unreachable("NOAUTH: the server requires a password (redis_password)"),
        "NOPERM" => unreachable(&format!("NOPERM: the ACL user may not do this: {text}")),
        "LOADING" => unreachable("LOADING: the server is loading its data set"),
        "READONLY" => unreachable("READONLY: this server is a replica, not the primary"),
        "MASTERDOWN" => unreachable("MASTERDOWN: the replica has lost its primary"),
        "BUSY" => unreachable("BUSY: the server is running a long script"),
        _ if text.contains("without any password configured") => {
            unreachable("AUTH: a password is configured but the server has none")
        }
        _ => StoreError::Server(format!("{peer}: {text}")),
    }
}

impl Connection {
    /// `ip:port` of the server, for messages.
    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// Queues `AUTH [user] password` (when there is a password) and `SELECT db` (when not 0)
    /// to go out with the next round trip.
    pub fn authenticate(&mut self, user: Option<&str>, password: Option<&str>, db: u32) {
        if let Some(password) = password {
            match user {
                Some(user) => resp::encode(
                    &[b"AUTH", user.as_bytes(), password.as_bytes()],
                    &mut self.preamble,
                ),
                None => resp::encode(&[b"AUTH", password.as_bytes()], &mut self.preamble),
            }
            self.checks.push(Preamble::Auth);
        }
        if db != 0 {
            resp::encode(&[b"SELECT", db.to_string().as_bytes()], &mut self.preamble);
            self.checks.push(Preamble::Select);
        }
    }

    /// Queues `ROLE`, whose reply must say `master`, to go out with the next round trip.
    pub fn expect_primary(&mut self) {
        resp::encode(&[b"ROLE"], &mut self.preamble);
        self.checks.push(Preamble::Role);
    }

    /// Sends `commands` in one write (after any queued preamble) and reads one reply per
    /// command, all within the connection's timeout plus `extra` (a `WAIT`'s own time).
    /// Error replies are returned as [`Reply::Error`] for the caller to judge, except those
    /// to the preamble, which become the error.
    pub fn round_trip(
        &mut self,
        commands: &[&[&[u8]]],
        extra: Duration,
    ) -> Result<Vec<Reply>, StoreError> {
        let budget = self.timeout + extra;
        let deadline = Instant::now() + budget;
        let mut out = Zeroizing::new(std::mem::take(&mut *self.preamble));
        for command in commands {
            resp::encode(command, &mut out);
        }
        let checks = std::mem::take(&mut self.checks);
        self.write_all(&out, deadline, budget)?;
        let mut replies = Vec::with_capacity(checks.len() + commands.len());
        for _ in 0..checks.len() + commands.len() {
            replies.push(self.read_reply(deadline, budget)?);
        }
        let rest = replies.split_off(checks.len());
        for (check, reply) in checks.iter().zip(&replies) {
            self.check_preamble(*check, reply)?;
        }
        Ok(rest)
    }

    fn check_preamble(&self, check: Preamble, reply: &Reply) -> Result<(), StoreError> {
        if let Reply::Error(_) = reply {
            let text = reply.error_text().unwrap_or_default();
            return Err(match (check, error_reply(&self.peer, &text)) {
                (_, e @ StoreError::Unreachable(_)) => e,
                (Preamble::Auth, _) => {
                    StoreError::Unreachable(format!("{}: AUTH refused: {text}", self.peer))
                }
                (Preamble::Select, _) => StoreError::Unreachable(format!(
                    "{}: SELECT refused (redis_db): {text}",
                    self.peer
                )),
                (Preamble::Role, e) => e,
            });
        }
        match check {
            Preamble::Auth | Preamble::Select => Ok(()),
            Preamble::Role => match reply {
                Reply::Array(items)
                    if items.first().and_then(Reply::as_bytes) == Some(b"master") =>
                {
                    Ok(())
                }
                Reply::Array(items) => {
                    let role = items
                        .first()
                        .and_then(Reply::as_bytes)
                        .map(|b| String::from_utf8_lossy(b).into_owned())
                        .unwrap_or_else(|| "server of unknown role".to_string());
                    Err(StoreError::Unreachable(format!(
                        "{}: Sentinel named it the primary, but it is a {role}",
                        self.peer
                    )))
                }
                _ => Err(StoreError::Unreachable(format!(
                    "{}: unexpected reply to ROLE",
                    self.peer
                ))),
            },
        }
    }

    fn write_all(
        &mut self,
        bytes: &[u8],
        deadline: Instant,
        budget: Duration,
    ) -> Result<(), StoreError> {
        let left = deadline.saturating_duration_since(Instant::now());
        let socket = self.stream.socket();
        set_timeouts(socket, left).map_err(|e| self.io_error(&e, budget))?;
        let result = match &mut self.stream {
            Stream::Plain(s) => s.write_all(bytes).and_then(|()| s.flush()),
            Stream::Tls(s) => s.write_all(bytes).and_then(|()| s.flush()),
        };
        result.map_err(|e| self.io_error(&e, budget))
    }

    fn read_reply(&mut self, deadline: Instant, budget: Duration) -> Result<Reply, StoreError> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match resp::decode(&self.buf) {
                Ok(Some((reply, used))) => {
                    self.buf.drain(..used);
                    return Ok(reply);
                }
                Ok(None) => {}
                Err(e) => {
                    return Err(StoreError::Unreachable(format!("{}: {e}", self.peer)));
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.timed_out(budget));
            }
            let socket = self.stream.socket();
            set_timeouts(socket, left).map_err(|e| self.io_error(&e, budget))?;
            let n = match &mut self.stream {
                Stream::Plain(s) => s.read(&mut chunk),
                Stream::Tls(s) => s.read(&mut chunk),
            };
            match n {
                Ok(0) => {
                    return Err(StoreError::Unreachable(format!(
                        "{}: connection closed by the server",
                        self.peer
                    )))
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_error(&e, budget)),
            }
        }
    }

    fn timed_out(&self, budget: Duration) -> StoreError {
        StoreError::Unreachable(format!("{}: no reply within {} ms", self.peer, ms(budget)))
    }

    fn io_error(&self, e: &std::io::Error, budget: Duration) -> StoreError {
        match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => self.timed_out(budget),
            _ => match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                Some(tls) => StoreError::Unreachable(format!("{}: TLS: {tls}", self.peer)),
                None => StoreError::Unreachable(format!("{}: {}", self.peer, io_text(e))),
            },
        }
    }
}
