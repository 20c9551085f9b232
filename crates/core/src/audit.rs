//! Linux audit records of lock-outs, as pam_faillock writes them: the record's contents are
//! built by pure functions ([`Event::message_type`], [`Event::message`], [`host_fields`]);
//! [`send`] loads libaudit with `dlopen("libaudit.so.1")` only when there is an event, so
//! an ordinary login never pays for loading it and `pam_otp.so` NEEDs only libc and libpam.
//!
//! pam_faillock's calls (Linux-PAM `modules/pam_faillock/`), followed here:
//! - a lock-out: `audit_log_user_message(fd, AUDIT_ANOM_LOGIN_FAILURES, "op=pam_faillock
//!   suid=UID ", NULL, NULL, NULL, 1)`, then the same with `AUDIT_RESP_ACCT_LOCK`;
//! - the first attempt after a lock-out ran out: `AUDIT_RESP_ACCT_UNLOCK_TIMED`, with the
//!   remote host;
//! - `faillock --reset`: `audit_log_acct_message(fd, AUDIT_USER_MGMT, NULL, "faillock-reset",
//!   user, uid, NULL, NULL, NULL, result)`.
//!
//! Auditing that is not there (no library, a kernel or container without audit netlink,
//! no permission) changes nothing: the event is dropped and the caller told so.

use std::ffi::{c_char, c_int, c_uint, c_void, CString};
use std::net::IpAddr;

/// `AUDIT_USER_MGMT` (libaudit.h): an account was changed by an administrator.
pub const AUDIT_USER_MGMT: c_int = 1102;
/// `AUDIT_ANOM_LOGIN_FAILURES`: too many failed logins.
pub const AUDIT_ANOM_LOGIN_FAILURES: c_int = 2100;
/// `AUDIT_RESP_ACCT_UNLOCK_TIMED`: a timed lock-out ended.
pub const AUDIT_RESP_ACCT_UNLOCK_TIMED: c_int = 2206;
/// `AUDIT_RESP_ACCT_LOCK`: an account was locked.
pub const AUDIT_RESP_ACCT_LOCK: c_int = 2207;

/// The `op=` field of every record (pam_faillock writes `op=pam_faillock`).
pub const OP: &str = "pam_otp";
/// The `op=` of an administrator's unlock (pam_faillock's tool writes `faillock-reset`).
pub const OP_UNLOCK: &str = "pam-otp-unlock";

/// One audit event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Too many failures (the lock-out that follows is [`Event::Locked`]).
    Failures {
        /// The user's uid.
        uid: u32,
    },
    /// The user is locked out.
    Locked {
        /// The user's uid.
        uid: u32,
    },
    /// A lock-out ran out; seen by the first attempt after it, from `rhost`.
    UnlockTimed {
        /// The user's uid.
        uid: u32,
        /// PAM_RHOST of that attempt, as given.
        rhost: Option<Vec<u8>>,
    },
    /// An administrator cleared the user's lock-out (`pam-otp unlock`).
    AdminUnlock {
        /// The user's name.
        user: String,
        /// The user's uid.
        uid: u32,
        /// Whether the unlock succeeded.
        ok: bool,
    },
}

impl Event {
    /// The audit message type.
    pub fn message_type(&self) -> c_int {
        match self {
            Event::Failures { .. } => AUDIT_ANOM_LOGIN_FAILURES,
            Event::Locked { .. } => AUDIT_RESP_ACCT_LOCK,
            Event::UnlockTimed { .. } => AUDIT_RESP_ACCT_UNLOCK_TIMED,
            Event::AdminUnlock { .. } => AUDIT_USER_MGMT,
        }
    }

    /// The message text of a user-message record (libaudit appends `exe=`, `hostname=`,
    /// `addr=`, `terminal=` and `res=`), in pam_faillock's form. `None` for the account
    /// record of an admin unlock, whose fields libaudit builds (and encodes) itself.
    pub fn message(&self) -> Option<String> {
        match self {
            Event::Failures { uid } | Event::Locked { uid } | Event::UnlockTimed { uid, .. } => {
                Some(format!("op={OP} suid={uid} "))
            }
            Event::AdminUnlock { .. } => None,
        }
    }
}

/// The `hostname` and `addr` to give libaudit for a remote host: the host itself when it is
/// a plain name or address (letters, digits, `.`, `-`, `_`, `:`; at most 253 bytes), and as
/// the address too when it is an IP address. Anything else is not passed (`None`: libaudit
/// writes `?`), so that a crafted PAM_RHOST cannot add fields to the record. The address is
/// never left for libaudit to resolve: that would be a DNS query inside sshd.
pub fn host_fields(rhost: Option<&[u8]>) -> (Option<String>, String) {
    let plain = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':');
    let host = rhost
        .filter(|h| !h.is_empty() && h.len() <= 253 && h.iter().all(plain))
        .map(|h| h.iter().map(|&b| char::from(b)).collect::<String>());
    let addr = match &host {
        Some(h) if h.parse::<IpAddr>().is_ok() => h.clone(),
        _ => "?".to_string(),
    };
    (host, addr)
}

/// What became of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The kernel took the record.
    Sent,
    /// No auditing here (no libaudit, no audit support in the kernel or the container, no
    /// permission): dropped, as pam_faillock drops it.
    Unavailable,
    /// Auditing is there but refused the record (the errno).
    Failed(i32),
}

type AuditOpen = unsafe extern "C" fn() -> c_int;
type AuditClose = unsafe extern "C" fn(c_int);
type LogUser = unsafe extern "C" fn(
    c_int,
    c_int,
    *const c_char,
    *const c_char,
    *const c_char,
    *const c_char,
    c_int,
) -> c_int;
type LogAcct = unsafe extern "C" fn(
    c_int,
    c_int,
    *const c_char,
    *const c_char,
    *const c_char,
    c_uint,
    *const c_char,
    *const c_char,
    *const c_char,
    c_int,
) -> c_int;

/// The library name `dlopen` is given; a test may point it elsewhere through
/// [`send_with`].
pub const LIBRARY: &str = "libaudit.so.1";

/// Writes `events` as audit records through libaudit (one `audit_open` for all of them).
pub fn send(events: &[Event]) -> Outcome {
    send_with(LIBRARY, events)
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Whether an errno means "no auditing here" rather than a failure (pam_faillock's list,
/// plus what a container without audit or an unprivileged process gets).
fn unavailable(errno: i32) -> bool {
    matches!(
        errno,
        libc::EINVAL
            | libc::EPROTONOSUPPORT
            | libc::EAFNOSUPPORT
            | libc::ECONNREFUSED
            | libc::EPERM
            | libc::EACCES
    )
}

/// [`send`] with the library at `library` (a name or a path for `dlopen`).
pub fn send_with(library: &str, events: &[Event]) -> Outcome {
    if events.is_empty() {
        return Outcome::Sent;
    }
    let Ok(name) = CString::new(library) else {
        return Outcome::Unavailable;
    };
    // SAFETY: `name` is a NUL-terminated string; dlopen has no other precondition.
    let handle = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if handle.is_null() {
        return Outcome::Unavailable;
    }
    let outcome = with_library(handle, events);
    // SAFETY: `handle` came from dlopen above, and nothing taken from it is used after this.
    unsafe { libc::dlclose(handle) };
    outcome
}

fn symbol(handle: *mut c_void, name: &std::ffi::CStr) -> Option<*mut c_void> {
    // SAFETY: `handle` is a live dlopen handle and `name` a NUL-terminated string.
    let p = unsafe { libc::dlsym(handle, name.as_ptr()) };
    (!p.is_null()).then_some(p)
}

fn with_library(handle: *mut c_void, events: &[Event]) -> Outcome {
    let (Some(open), Some(close), Some(user), Some(acct)) = (
        symbol(handle, c"audit_open"),
        symbol(handle, c"audit_close"),
        symbol(handle, c"audit_log_user_message"),
        symbol(handle, c"audit_log_acct_message"),
    ) else {
        return Outcome::Unavailable;
    };
    // SAFETY: these are libaudit's exported functions of these names, whose C signatures
    // (libaudit.h, stable since libaudit 1.x) the types above spell out.
    let (open, close, user, acct) = unsafe {
        (
            std::mem::transmute::<*mut c_void, AuditOpen>(open),
            std::mem::transmute::<*mut c_void, AuditClose>(close),
            std::mem::transmute::<*mut c_void, LogUser>(user),
            std::mem::transmute::<*mut c_void, LogAcct>(acct),
        )
    };
    // SAFETY: audit_open takes no arguments.
    let fd = unsafe { open() };
    if fd < 0 {
        let e = errno();
        return if unavailable(e) {
            Outcome::Unavailable
        } else {
            Outcome::Failed(e)
        };
    }
    let mut outcome = Outcome::Sent;
    for event in events {
        let rc = send_one(fd, event, user, acct);
        if rc <= 0 && outcome == Outcome::Sent {
            let e = errno();
            outcome = if unavailable(e) {
                Outcome::Unavailable
            } else {
                Outcome::Failed(e)
            };
        }
    }
    // SAFETY: `fd` came from audit_open and is closed once.
    unsafe { close(fd) };
    outcome
}

fn send_one(fd: c_int, event: &Event, user: LogUser, acct: LogAcct) -> c_int {
    let null = std::ptr::null::<c_char>();
    match event {
        Event::AdminUnlock {
            user: name,
            uid,
            ok,
        } => {
            let (Ok(op), Ok(name)) = (CString::new(OP_UNLOCK), CString::new(name.as_str())) else {
                return 0;
            };
            // SAFETY: `fd` is open; every pointer is NULL or a NUL-terminated string that
            // outlives the call, as audit_log_acct_message requires.
            unsafe {
                acct(
                    fd,
                    event.message_type(),
                    null,
                    op.as_ptr(),
                    name.as_ptr(),
                    *uid,
                    null,
                    null,
                    null,
                    c_int::from(*ok),
                )
            }
        }
        _ => {
            let rhost = match event {
                Event::UnlockTimed { rhost, .. } => rhost.as_deref(),
                _ => None,
            };
            let (host, addr) = host_fields(rhost);
            let Some(Ok(message)) = event.message().map(CString::new) else {
                return 0;
            };
            let host = host.and_then(|h| CString::new(h).ok());
            let Ok(addr) = CString::new(addr) else {
                return 0;
            };
            // pam_faillock passes the remote host only with the timed unlock.
            let (host_ptr, addr_ptr) = match (&host, rhost.is_some()) {
                (Some(h), true) => (h.as_ptr(), addr.as_ptr()),
                _ => (null, addr.as_ptr()),
            };
            // SAFETY: `fd` is open; every pointer is NULL or a NUL-terminated string that
            // outlives the call, as audit_log_user_message requires.
            unsafe {
                user(
                    fd,
                    event.message_type(),
                    message.as_ptr(),
                    host_ptr,
                    addr_ptr,
                    null,
                    1,
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_those_pam_faillock_writes() {
        assert_eq!(Event::Failures { uid: 1000 }.message_type(), 2100);
        assert_eq!(Event::Locked { uid: 1000 }.message_type(), 2207);
        let timed = Event::UnlockTimed {
            uid: 7,
            rhost: None,
        };
        assert_eq!(timed.message_type(), 2206);
        assert_eq!(timed.message().as_deref(), Some("op=pam_otp suid=7 "));
        let admin = Event::AdminUnlock {
            user: "alice".into(),
            uid: 7,
            ok: true,
        };
        assert_eq!(admin.message_type(), 1102);
        assert_eq!(admin.message(), None);
    }

    #[test]
    fn a_crafted_remote_host_adds_no_field() {
        assert_eq!(
            host_fields(Some(b"192.0.2.7")),
            (Some("192.0.2.7".into()), "192.0.2.7".into())
        );
        assert_eq!(
            host_fields(Some(b"2001:db8::1")),
            (Some("2001:db8::1".into()), "2001:db8::1".into())
        );
        assert_eq!(
            host_fields(Some(b"gw.example.org")),
            (Some("gw.example.org".into()), "?".into())
        );
        for bad in [&b"x res=success"[..], b"a\nb", b"h=1", b"", &[b'a'; 254]] {
            assert_eq!(host_fields(Some(bad)), (None, "?".into()), "{bad:?}");
        }
        assert_eq!(host_fields(None), (None, "?".into()));
    }

    #[test]
    fn no_library_is_no_auditing() {
        let events = [Event::Failures { uid: 1 }];
        assert_eq!(
            send_with("libpam-otp-no-such-audit.so.9", &events),
            Outcome::Unavailable
        );
        // A library without libaudit's functions: the same.
        assert_eq!(send_with("libc.so.6", &events), Outcome::Unavailable);
        assert_eq!(send(&[]), Outcome::Sent);
    }
}
