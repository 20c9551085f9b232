//! The C ABI between pam_otp.so and the Redis client library pam_otp_redis.so (see
//! ARCHITECTURE.md, "Fleet mode: the Redis client in its own library").
//!
//! The module links no network or TLS code: only when the configuration says `store=redis`
//! does it load the library (crates/redis-module), call its one export
//! [`ENTRY_SYMBOL`], check [`ABI_VERSION`] and [`BUILD_ID`], and run each transaction
//! through [`TransactFn`]. Both sides compile this file, so the types and the settings'
//! wire form below are the whole contract:
//!
//! - the settings cross as [`encode_settings`] bytes (password included; both sides wipe
//!   their copy), decoded strictly by [`decode_settings`];
//! - the state crosses as `State::encode` bytes, never as a Rust value;
//! - the decision stays in the module: the library calls the module's [`DecideFn`] with the
//!   encoded current state and receives the encoded next state;
//! - the outcome is a status code ([`Status`]) and, for an error, a message written into a
//!   buffer the caller owns. No allocation crosses the boundary and no panic unwinds across
//!   it (each side catches its own).
//!
//! This file is plain data and codecs; the loading (dlopen) is in the module's crate.

use std::ffi::c_void;
use std::path::PathBuf;
use std::time::Duration;

use zeroize::Zeroizing;

use super::settings::{FailMode, HostPort, RedisEndpoint, RedisSettings};

/// The library's one exported function: `extern "C" fn() -> *const RedisApiV1`.
pub const ENTRY_SYMBOL: &[u8] = b"pam_otp_redis_v1\0";

/// The layout of [`RedisApiV1`] and the meaning of its functions. A change to either is a
/// new version (and a new entry symbol).
pub const ABI_VERSION: u32 = 1;

/// Capacity of [`RedisApiV1::build_id`].
pub const BUILD_ID_CAP: usize = 64;

/// Which build of the shared code a side was compiled from. The module refuses a library
/// whose id differs (a pair from two releases could disagree on the state's encoding or on
/// the settings' wire form): both must come from one build of one version.
pub const BUILD_ID: &str = concat!(
    "pam-otp-core ",
    env!("CARGO_PKG_VERSION"),
    " abi 1 state ",
    "v1"
);

/// [`BUILD_ID`] as the fixed-size, zero-padded array the library exports.
pub const fn build_id_array() -> [u8; BUILD_ID_CAP] {
    let id = BUILD_ID.as_bytes();
    let mut out = [0u8; BUILD_ID_CAP];
    let mut i = 0;
    while i < id.len() && i < BUILD_ID_CAP {
        out[i] = id[i];
        i += 1;
    }
    out
}

/// How long an error message may be (longer ones are cut at a character boundary).
pub const MESSAGE_CAP: usize = 512;

/// What the library exports.
#[repr(C)]
pub struct RedisApiV1 {
    /// [`ABI_VERSION`] of the library.
    pub abi_version: u32,
    /// [`BUILD_ID`] of the library, zero-padded.
    pub build_id: [u8; BUILD_ID_CAP],
    /// One read-decide-save transaction on a user's shared record.
    pub transact: TransactFn,
}

/// The library's entry point's type.
pub type EntryFn = unsafe extern "C" fn() -> *const RedisApiV1;

/// The module's decision: called by the library with the encoded current state
/// (`current`, `current_len`), it writes the encoded next state into `next` (capacity
/// `next_cap`), sets `*next_len`, and returns 0; anything else means it failed (the
/// library then saves nothing and answers [`Status::Failed`]). It may be called more than
/// once (a conflicting write is retried); only the last call's state is saved.
pub type DecideFn = unsafe extern "C" fn(
    ctx: *mut c_void,
    current: *const u8,
    current_len: usize,
    next: *mut u8,
    next_cap: usize,
    next_len: *mut usize,
) -> i32;

/// `transact(request, output) -> Status as i32`.
pub type TransactFn =
    unsafe extern "C" fn(request: *const TransactRequest, output: *mut TransactOutput) -> i32;

/// What the module asks for.
#[repr(C)]
pub struct TransactRequest {
    /// [`encode_settings`] bytes.
    pub settings: *const u8,
    /// Their length.
    pub settings_len: usize,
    /// The user's name (UTF-8, not NUL-terminated).
    pub name: *const u8,
    /// Its length.
    pub name_len: usize,
    /// The user's uid on this host.
    pub uid: u32,
    /// The decision.
    pub decide: DecideFn,
    /// Passed to `decide` as is.
    pub decide_ctx: *mut c_void,
}

/// Where the library writes its answer; both buffers belong to the module.
#[repr(C)]
pub struct TransactOutput {
    /// The saved state (`State::encode`), on [`Status::Ok`].
    pub state: *mut u8,
    /// Capacity of `state` (at least `state::MAX_ENCODED_LEN`).
    pub state_cap: usize,
    /// Bytes written to `state`.
    pub state_len: usize,
    /// The error message (UTF-8), on any other status.
    pub message: *mut u8,
    /// Capacity of `message`.
    pub message_cap: usize,
    /// Bytes written to `message`.
    pub message_len: usize,
}

/// A transaction's outcome, as the `i32` [`TransactFn`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum Status {
    /// Saved; the state is in the output.
    Ok = 0,
    /// `StoreError::Unreachable`: the only status `fail_mode=local` falls back on.
    Unreachable = 1,
    /// `StoreError::Server`.
    Server = 2,
    /// `StoreError::Corrupt`.
    Corrupt = 3,
    /// The settings cannot make a client (a CA file that cannot be read, say): a
    /// configuration error, never a reason to fall back.
    Settings = 4,
    /// Anything else: a request the library cannot read, a decision that failed, a panic
    /// caught at the boundary.
    Failed = 5,
}

impl Status {
    /// The status an `i32` stands for; an unknown one is [`Status::Failed`].
    pub fn from_code(code: i32) -> Status {
        match code {
            0 => Status::Ok,
            1 => Status::Unreachable,
            2 => Status::Server,
            3 => Status::Corrupt,
            4 => Status::Settings,
            _ => Status::Failed,
        }
    }
}

/// Writes `text` into a caller's buffer of `cap` bytes at `buf`, cut at a character
/// boundary; returns how many bytes were written.
///
/// # Safety
/// `buf` must be valid for writes of `cap` bytes (or `cap` must be 0).
pub unsafe fn write_message(text: &str, buf: *mut u8, cap: usize) -> usize {
    if buf.is_null() || cap == 0 {
        return 0;
    }
    let mut n = text.len().min(cap);
    while !text.is_char_boundary(n) {
        n -= 1;
    }
    // SAFETY: the caller promises `cap` writable bytes at `buf`; n <= cap, and `text` is a
    // separate allocation.
    unsafe { std::ptr::copy_nonoverlapping(text.as_ptr(), buf, n) };
    n
}

const SETTINGS_MAGIC: &[u8; 4] = b"POR1";

/// The settings' wire form (wiped when dropped: it holds the password).
pub fn encode_settings(s: &RedisSettings) -> Zeroizing<Vec<u8>> {
    let mut w = Writer(Zeroizing::new(Vec::with_capacity(256)));
    w.0.extend_from_slice(SETTINGS_MAGIC);
    match &s.endpoint {
        RedisEndpoint::Direct(hp) => {
            w.u8(0);
            w.host_port(hp);
        }
        RedisEndpoint::Sentinel { sentinels, master } => {
            w.u8(1);
            w.u32(sentinels.len() as u32);
            for hp in sentinels {
                w.host_port(hp);
            }
            w.bytes(master.as_bytes());
        }
    }
    w.u8(u8::from(s.tls));
    w.opt(s.ca_file.as_ref().map(|p| path_bytes(p)));
    w.u32(s.db);
    w.opt(s.user.as_ref().map(|u| u.as_bytes()));
    w.opt(s.password.as_ref().map(|p| p.as_bytes()));
    w.opt(s.password_file.as_ref().map(|p| path_bytes(p)));
    w.bytes(s.namespace.as_bytes());
    w.duration(s.connect_timeout);
    w.duration(s.timeout);
    w.u32(s.wait_replicas);
    w.duration(s.wait_timeout);
    w.u8(match s.fail_mode {
        FailMode::Closed => 0,
        FailMode::Local => 1,
    });
    w.0
}

/// Settings from [`encode_settings`] bytes; `None` for anything else (trailing bytes too).
pub fn decode_settings(bytes: &[u8]) -> Option<RedisSettings> {
    let mut r = Reader(bytes);
    if r.take(4)? != SETTINGS_MAGIC {
        return None;
    }
    let endpoint = match r.u8()? {
        0 => RedisEndpoint::Direct(r.host_port()?),
        1 => {
            let n = r.u32()? as usize;
            if n > 64 {
                return None;
            }
            let mut sentinels = Vec::with_capacity(n);
            for _ in 0..n {
                sentinels.push(r.host_port()?);
            }
            RedisEndpoint::Sentinel {
                sentinels,
                master: r.string()?,
            }
        }
        _ => return None,
    };
    let mut s = RedisSettings::new(endpoint);
    s.tls = r.flag()?;
    s.ca_file = r.opt()?.map(path_of);
    s.db = r.u32()?;
    s.user = match r.opt()? {
        None => None,
        Some(b) => Some(utf8(b)?),
    };
    s.password = match r.opt()? {
        None => None,
        Some(b) => Some(Zeroizing::new(std::str::from_utf8(b).ok()?.to_string())),
    };
    s.password_file = r.opt()?.map(path_of);
    s.namespace = r.string()?;
    s.connect_timeout = r.duration()?;
    s.timeout = r.duration()?;
    s.wait_replicas = r.u32()?;
    s.wait_timeout = r.duration()?;
    s.fail_mode = match r.u8()? {
        0 => FailMode::Closed,
        1 => FailMode::Local,
        _ => return None,
    };
    r.0.is_empty().then_some(s)
}

fn path_bytes(p: &std::path::Path) -> &[u8] {
    use std::os::unix::ffi::OsStrExt;
    p.as_os_str().as_bytes()
}

fn path_of(b: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(b))
}

fn utf8(b: &[u8]) -> Option<String> {
    std::str::from_utf8(b).ok().map(str::to_string)
}

struct Writer(Zeroizing<Vec<u8>>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.u32(b.len() as u32);
        self.0.extend_from_slice(b);
    }
    fn opt(&mut self, b: Option<&[u8]>) {
        match b {
            None => self.u8(0),
            Some(b) => {
                self.u8(1);
                self.bytes(b);
            }
        }
    }
    fn host_port(&mut self, hp: &HostPort) {
        self.bytes(hp.host.as_bytes());
        self.0.extend_from_slice(&hp.port.to_le_bytes());
    }
    fn duration(&mut self, d: Duration) {
        self.0.extend_from_slice(&d.as_secs().to_le_bytes());
        self.u32(d.subsec_nanos());
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn flag(&mut self) -> Option<bool> {
        match self.u8()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)?.try_into().ok().map(u32::from_le_bytes)
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn string(&mut self) -> Option<String> {
        utf8(self.bytes()?)
    }
    fn opt(&mut self) -> Option<Option<&'a [u8]>> {
        match self.u8()? {
            0 => Some(None),
            1 => Some(Some(self.bytes()?)),
            _ => None,
        }
    }
    fn host_port(&mut self) -> Option<HostPort> {
        let host = self.string()?;
        let port = u16::from_le_bytes(self.take(2)?.try_into().ok()?);
        Some(HostPort { host, port })
    }
    fn duration(&mut self) -> Option<Duration> {
        let secs = u64::from_le_bytes(self.take(8)?.try_into().ok()?);
        let nanos = self.u32()?;
        if nanos >= 1_000_000_000 {
            return None;
        }
        Some(Duration::new(secs, nanos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> RedisSettings {
        let mut s = RedisSettings::new(RedisEndpoint::Sentinel {
            sentinels: vec![
                HostPort {
                    host: "10.0.0.1".into(),
                    port: 26379,
                },
                HostPort {
                    host: "s2.example".into(),
                    port: 26380,
                },
            ],
            master: "otp".into(),
        });
        s.tls = true;
        s.ca_file = Some("/etc/ssl/ca.pem".into());
        s.db = 3;
        s.user = Some("pam".into());
        s.password = Some(Zeroizing::new("s3cret é".into()));
        s.password_file = Some("/etc/security/redis.pw".into());
        s.namespace = "fleet:".into();
        s.connect_timeout = Duration::from_millis(250);
        s.timeout = Duration::from_micros(1_500_001);
        s.wait_replicas = 2;
        s.wait_timeout = Duration::from_secs(2);
        s.fail_mode = FailMode::Local;
        s
    }

    #[test]
    fn settings_round_trip() {
        let s = full();
        assert_eq!(decode_settings(&encode_settings(&s)), Some(s));
        let d = RedisSettings::new(RedisEndpoint::Direct(HostPort {
            host: "127.0.0.1".into(),
            port: 6379,
        }));
        assert_eq!(decode_settings(&encode_settings(&d)), Some(d));
    }

    #[test]
    fn every_truncation_and_any_trailing_byte_is_refused() {
        let bytes = encode_settings(&full());
        for n in 0..bytes.len() {
            assert_eq!(decode_settings(&bytes[..n]), None, "cut at {n}");
        }
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert_eq!(decode_settings(&longer), None);
    }

    #[test]
    fn messages_are_cut_at_a_character_boundary() {
        let mut buf = [0u8; 4];
        // SAFETY: buf has 4 writable bytes.
        let n = unsafe { write_message("abcé", buf.as_mut_ptr(), buf.len()) };
        assert_eq!(&buf[..n], b"abc");
    }

    #[test]
    fn the_build_id_fits() {
        assert!(BUILD_ID.len() < BUILD_ID_CAP);
        assert_eq!(&build_id_array()[..BUILD_ID.len()], BUILD_ID.as_bytes());
    }
}
