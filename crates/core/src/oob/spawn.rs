//! Starting the delivery helper safely (`pam-otp-deliver`, pam-otp-deliver(8)).
//!
//! All network code lives in the helper; the module only starts it, hands it the code and
//! waits a bounded time. [`deliver`] sends a code; when the provider makes and sends its
//! own (a helper's `verify HANDLE` line), [`check`] starts the helper again in check mode
//! with what the user typed, and only the provider's answer accepts it. What both
//! guarantee:
//!
//! - the helper is a fixed absolute path with no symbolic link in it, a regular executable
//!   owned by root and not writable by group or others, in directories that are all owned
//!   by root and not writable by group or others ([`check_helper_path`]);
//! - an empty environment but for [`ENV_USER`], [`ENV_CHANNEL`], [`ENV_CONTACT`],
//!   [`ENV_SERVICE`], [`ENV_EXPIRES`] (and [`ENV_CONF`] when the caller names a
//!   credentials file, [`ENV_CHECK`] in check mode); no arguments; working directory `/`;
//! - the code on stdin, one line (a socket pair written with `MSG_NOSIGNAL`, so a helper
//!   that exits early cannot raise SIGPIPE in the host), never in argv or the environment;
//! - run as an unprivileged user (never uid or gid 0): std's `uid`/`gid` make the child call
//!   `setgroups(0)`, `setgid`, `setuid` before exec, so it keeps no supplementary group;
//! - in a process group of its own, with every inherited descriptor above 2 marked
//!   close-on-exec (`close_range(CLOSE_RANGE_CLOEXEC)`, so a host's descriptors opened
//!   without `O_CLOEXEC` do not leak either); std restores the default signal mask and
//!   dispositions;
//! - stdout and stderr captured up to [`MAX_OUTPUT`] bytes each (the rest is read and
//!   dropped, so a chatty helper cannot block);
//! - a hard timeout ([`DEFAULT_TIMEOUT`], at most [`MAX_TIMEOUT`]): the helper's exit is
//!   awaited through a pidfd without reaping it, then the whole group is sent SIGKILL
//!   (whether the helper finished or not, so nothing it started outlives it) and the helper
//!   is reaped: no zombie, and the group id cannot be reused before the kill.

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Component, Path};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::code::OneTimeCode;
use super::contact::Contact;
use super::exit::HelperExit;

/// The user the code is for.
pub const ENV_USER: &str = "PAM_OTP_USER";
/// The channel: `email`, `webhook`, `ntfy`, `sms`, `voice` or `fcm`.
pub const ENV_CHANNEL: &str = "PAM_OTP_CHANNEL";
/// The contact on that channel (address, topic or recipient id).
pub const ENV_CONTACT: &str = "PAM_OTP_CONTACT";
/// The PAM service asking (`sshd`, `sudo`, …).
pub const ENV_SERVICE: &str = "PAM_OTP_SERVICE";
/// When the code expires, Unix seconds.
pub const ENV_EXPIRES: &str = "PAM_OTP_EXPIRES";
/// The helper's credentials file, when not the default (`pam-otp deliver test`, tests).
pub const ENV_CONF: &str = "PAM_OTP_DELIVER_CONF";
/// Check mode: the provider's handle of the verification it started (see [`check`]).
pub const ENV_CHECK: &str = "PAM_OTP_CHECK";
/// The stdout line a helper in check mode prints, with exit 0, when the provider approved.
pub const APPROVED: &str = "approved";
/// Longest provider handle accepted from a helper's `verify HANDLE` line.
pub const MAX_HANDLE_LEN: usize = 128;
/// Fewest and most digits of a code the user types for a provider to check (the providers'
/// own code lengths run from 4 to 10).
pub const CHECK_DIGITS: std::ops::RangeInclusive<usize> = 4..=10;
/// Where the helper is installed.
pub const DEFAULT_HELPER: &str = "/usr/libexec/pam-otp-deliver";
/// The timeout when the configuration says nothing.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest timeout that can be configured.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(30);
/// Bytes of stdout and of stderr kept.
pub const MAX_OUTPUT: usize = 4096;
/// Longest user or service name handed to the helper.
pub const MAX_NAME_LEN: usize = 256;

/// How to start the helper.
#[derive(Debug, Clone)]
pub struct Helper<'a> {
    /// Absolute path of the helper ([`check_helper_path`]).
    pub path: &'a Path,
    /// The unprivileged user it runs as (not 0).
    pub uid: u32,
    /// Its group (not 0).
    pub gid: u32,
    /// How long it may run (1 ms to [`MAX_TIMEOUT`]).
    pub timeout: Duration,
    /// A credentials file other than the helper's default, passed as [`ENV_CONF`].
    pub conf: Option<&'a Path>,
}

/// What to deliver.
#[derive(Debug)]
pub struct Request<'a> {
    /// The user the code is for.
    pub user: &'a str,
    /// Where it goes.
    pub contact: &'a Contact,
    /// The PAM service asking.
    pub service: &'a str,
    /// When the code expires (Unix seconds).
    pub expires_at: u64,
    /// The code.
    pub code: &'a OneTimeCode,
}

/// Ask the provider whether the code the user typed is the one it sent.
#[derive(Debug)]
pub struct CheckRequest<'a> {
    /// The user the code is for.
    pub user: &'a str,
    /// Where the provider sent its code.
    pub contact: &'a Contact,
    /// The PAM service asking.
    pub service: &'a str,
    /// Until when our send is valid (Unix seconds), as for the send.
    pub expires_at: u64,
    /// The provider's handle, from the helper's `verify HANDLE` line.
    pub handle: &'a str,
    /// What the user typed: [`CHECK_DIGITS`] ASCII digits.
    pub typed: &'a [u8],
}

/// The helper delivered the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// How long it took.
    pub elapsed: Duration,
    /// Its stdout's first line (a provider's message id, say), bounded.
    pub stdout: String,
    /// The provider generated and sent a code of its own and will check it: the handle
    /// the helper printed as `verify HANDLE`. Our code was not sent; only [`check`] can
    /// accept what the user types.
    pub verify: Option<String>,
}

/// The provider's answer to a [`check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// The provider approved the code.
    Approved,
    /// The provider says it is wrong.
    Rejected,
    /// The provider has no pending verification any more (expired, used, too many tries).
    Expired,
}

/// Why the code was not delivered. No variant holds the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpawnError {
    /// A timeout out of bounds, or uid/gid 0.
    BadSettings,
    /// The helper path is unsafe to run (see [`check_helper_path`]).
    UnsafeHelper(PathProblem),
    /// A user or service name that cannot be handed over (too long, control characters).
    BadRequest,
    /// It could not be started (pipe, fork or exec failed).
    Start(std::io::ErrorKind),
    /// It ran past the timeout; its group was killed.
    TimedOut(Duration),
    /// It was killed by this signal (not ours).
    Signalled(i32),
    /// It exited 0 with an answer that breaks the contract: a `verify` line whose handle
    /// does not parse, or a check without its `approved` line.
    BadAnswer,
    /// The provider is rate limiting us ([`super::exit::RATE_LIMITED`]): `retry_after` is
    /// the wait it asked for, when it said (from the helper's `retry-after N` line).
    RateLimited {
        /// Seconds the provider asked us to wait.
        retry_after: Option<u64>,
        /// Its stderr's first line.
        message: String,
    },
    /// It exited non-zero; `message` is its stderr's first line, bounded, with the code
    /// scrubbed out should it ever appear there.
    Failed {
        /// What the exit status means.
        exit: HelperExit,
        /// Its stderr's first line.
        message: String,
    },
}

impl SpawnError {
    /// A stable word for logs and reason words.
    pub fn word(&self) -> &'static str {
        match self {
            SpawnError::BadSettings => "bad_settings",
            SpawnError::UnsafeHelper(_) => "unsafe_helper",
            SpawnError::BadRequest => "bad_request",
            SpawnError::Start(_) => "start_failed",
            SpawnError::TimedOut(_) => "timeout",
            SpawnError::Signalled(_) => "signalled",
            SpawnError::BadAnswer => "bad_answer",
            SpawnError::RateLimited { .. } => "rate_limited",
            SpawnError::Failed { exit, .. } => exit.word(),
        }
    }
}

impl std::fmt::Display for SpawnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpawnError::BadSettings => f.write_str("delivery helper settings out of bounds"),
            SpawnError::UnsafeHelper(p) => write!(f, "unsafe delivery helper: {p}"),
            SpawnError::BadRequest => f.write_str("user or service name unfit for the helper"),
            SpawnError::Start(k) => write!(f, "cannot start the delivery helper: {k}"),
            SpawnError::TimedOut(t) => {
                write!(f, "delivery helper killed after {} ms", t.as_millis())
            }
            SpawnError::Signalled(s) => write!(f, "delivery helper killed by signal {s}"),
            SpawnError::BadAnswer => f.write_str("delivery helper answered outside its contract"),
            SpawnError::RateLimited {
                retry_after: Some(secs),
                message,
            } => write!(f, "rate limited, retry after {secs} s: {message}"),
            SpawnError::RateLimited { message, .. } => write!(f, "rate limited: {message}"),
            SpawnError::Failed { exit, message } => {
                write!(f, "delivery helper failed ({}): {message}", exit.word())
            }
        }
    }
}

/// What is wrong with a helper path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathProblem {
    /// Not absolute, or with `.`/`..` components.
    NotAbsolute,
    /// It, or a directory above it, is a symbolic link.
    Symlink,
    /// It, or a directory above it, cannot be examined.
    Missing,
    /// Not a regular file.
    NotRegular,
    /// Not executable by anyone.
    NotExecutable,
    /// It, or a directory above it, is not owned by root.
    NotRootOwned,
    /// It, or a directory above it, is writable by group or others.
    Writable,
}

impl std::fmt::Display for PathProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PathProblem::NotAbsolute => "the path is not absolute and normal",
            PathProblem::Symlink => "the path goes through a symbolic link",
            PathProblem::Missing => "the path cannot be examined",
            PathProblem::NotRegular => "not a regular file",
            PathProblem::NotExecutable => "not executable",
            PathProblem::NotRootOwned => "the file or a directory above it is not owned by root",
            PathProblem::Writable => {
                "the file or a directory above it is writable by group or others"
            }
        })
    }
}

/// What [`check_entry`] looks at in one `lstat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Owner.
    pub uid: u32,
    /// `st_mode`, type bits included.
    pub mode: u32,
}

/// The rule for one path component (pure): a directory for all but the last, a regular
/// executable file for the last; root-owned; no group/other write bit; no symlink.
pub fn check_entry(entry: Entry, last: bool) -> Result<(), PathProblem> {
    let kind = entry.mode & libc::S_IFMT;
    if kind == libc::S_IFLNK {
        return Err(PathProblem::Symlink);
    }
    if last {
        if kind != libc::S_IFREG {
            return Err(PathProblem::NotRegular);
        }
        if entry.mode & 0o111 == 0 {
            return Err(PathProblem::NotExecutable);
        }
    } else if kind != libc::S_IFDIR {
        return Err(PathProblem::NotRegular);
    }
    if entry.uid != 0 {
        return Err(PathProblem::NotRootOwned);
    }
    if entry.mode & 0o022 != 0 {
        return Err(PathProblem::Writable);
    }
    Ok(())
}

/// Checks the helper path and every directory above it with `lstat` ([`check_entry`]).
pub fn check_helper_path(path: &Path) -> Result<(), PathProblem> {
    // `components` quietly drops inner `.` and doubled slashes: the path must be exactly
    // what its components spell.
    let normal: std::path::PathBuf = path.components().collect();
    if !path.is_absolute()
        || normal.as_os_str() != path.as_os_str()
        || path
            .components()
            .any(|c| matches!(c, Component::CurDir | Component::ParentDir))
    {
        return Err(PathProblem::NotAbsolute);
    }
    let mut prefixes: Vec<&Path> = path.ancestors().collect();
    prefixes.reverse();
    let n = prefixes.len();
    for (i, p) in prefixes.into_iter().enumerate() {
        let meta = std::fs::symlink_metadata(p).map_err(|_| PathProblem::Missing)?;
        let entry = Entry {
            uid: meta.uid(),
            mode: meta.mode(),
        };
        check_entry(entry, i + 1 == n)?;
    }
    Ok(())
}

/// Replaces every occurrence of `code` in `text` (a helper's own words) with `•••`, keeps
/// the first line only, at most 200 characters, control characters dropped.
pub fn scrub(text: &[u8], code: &[u8]) -> String {
    let line = text.split(|&b| b == b'\n').next().unwrap_or_default();
    let mut clean = String::from_utf8_lossy(line).into_owned();
    if let Ok(code) = std::str::from_utf8(code) {
        if !code.is_empty() {
            clean = clean.replace(code, "•••");
        }
    }
    clean
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect()
}

/// Starts the helper, hands it the code and waits for it (see the module documentation).
pub fn deliver(helper: &Helper<'_>, request: &Request<'_>) -> Result<Delivered, SpawnError> {
    let start = Instant::now();
    let job = Job {
        user: request.user,
        contact: request.contact,
        service: request.service,
        expires_at: request.expires_at,
        check: None,
    };
    let out = run(helper, &job, request.code.as_bytes())?;
    // The handle is read from the raw line (scrubbing could cut our code's digits out of a
    // provider's id); a `verify` line that does not parse fails this contact: a provider
    // sent its own code, and ours, never sent, must not be the one checked.
    let first = out.split(|&b| b == b'\n').next().unwrap_or_default();
    let first = String::from_utf8_lossy(first);
    let verify = match first.strip_prefix("verify ") {
        Some(_) => Some(verify_handle(&first).ok_or(SpawnError::BadAnswer)?),
        None => None,
    };
    Ok(Delivered {
        elapsed: start.elapsed(),
        verify,
        stdout: scrub(&out, request.code.as_bytes()),
    })
}

/// Asks the provider, through the helper in check mode ([`ENV_CHECK`]), whether the code
/// the user typed is the one it sent. The typed code goes on stdin, as a code does.
pub fn check(helper: &Helper<'_>, request: &CheckRequest<'_>) -> Result<Checked, SpawnError> {
    if !checkable(request.typed) || !is_handle(request.handle) {
        return Err(SpawnError::BadRequest);
    }
    let job = Job {
        user: request.user,
        contact: request.contact,
        service: request.service,
        expires_at: request.expires_at,
        check: Some(request.handle),
    };
    match run(helper, &job, request.typed) {
        // Approval is said twice, by exit 0 and an `approved` line: a helper that does not
        // know check mode (and would just send the digits as a code, exit 0) approves nothing.
        Ok(out) if out.split(|&b| b == b'\n').next() == Some(APPROVED.as_bytes()) => {
            Ok(Checked::Approved)
        }
        Ok(_) => Err(SpawnError::BadAnswer),
        Err(SpawnError::Failed {
            exit: HelperExit::CodeRejected,
            ..
        }) => Ok(Checked::Rejected),
        Err(SpawnError::Failed {
            exit: HelperExit::CodeExpired,
            ..
        }) => Ok(Checked::Expired),
        Err(e) => Err(e),
    }
}

/// The handle of a helper's `verify HANDLE` line: 1 to [`MAX_HANDLE_LEN`] characters of
/// letters, digits and `._:-`.
pub fn verify_handle(stdout_line: &str) -> Option<String> {
    let handle = stdout_line.strip_prefix("verify ")?;
    is_handle(handle).then(|| handle.to_owned())
}

/// Whether `handle` is one a helper may print and be given back: 1 to [`MAX_HANDLE_LEN`]
/// characters of letters, digits and `._:-`.
pub fn is_handle(handle: &str) -> bool {
    !handle.is_empty()
        && handle.len() <= MAX_HANDLE_LEN
        && handle
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
}

/// Whether `typed` could be a provider's code ([`CHECK_DIGITS`] ASCII digits): anything else
/// is wrong without asking.
pub fn checkable(typed: &[u8]) -> bool {
    CHECK_DIGITS.contains(&typed.len()) && typed.iter().all(u8::is_ascii_digit)
}

/// The wait of a helper's `retry-after N` line, at most a day.
pub fn retry_after(stdout_line: &str) -> Option<u64> {
    let secs: u64 = crate::decimal::parse_decimal(stdout_line.strip_prefix("retry-after ")?)?;
    (secs <= 86_400).then_some(secs)
}

/// One start of the helper: who, where, and whether it checks rather than sends.
struct Job<'a> {
    user: &'a str,
    contact: &'a Contact,
    service: &'a str,
    expires_at: u64,
    check: Option<&'a str>,
}

/// Starts the helper for `job` with `secret` as its stdin line, waits for it, and returns
/// its stdout when it exits 0. `secret` (the code sent or typed) is scrubbed from every
/// word of the helper's kept.
fn run(helper: &Helper<'_>, job: &Job<'_>, secret: &[u8]) -> Result<Vec<u8>, SpawnError> {
    if helper.uid == 0
        || helper.gid == 0
        || helper.timeout.is_zero()
        || helper.timeout > MAX_TIMEOUT
    {
        return Err(SpawnError::BadSettings);
    }
    let fit = |s: &str| !s.is_empty() && s.len() <= MAX_NAME_LEN && !s.contains(char::is_control);
    if !fit(job.user) || !fit(job.service) {
        return Err(SpawnError::BadRequest);
    }
    check_helper_path(helper.path).map_err(SpawnError::UnsafeHelper)?;

    let start = Instant::now();
    let deadline = start + helper.timeout;
    let (ours, theirs) = UnixStream::pair().map_err(|e| SpawnError::Start(e.kind()))?;
    let mut command = Command::new(helper.path);
    command
        .env_clear()
        .env(ENV_USER, job.user)
        .env(ENV_CHANNEL, job.contact.channel().name())
        .env(ENV_CONTACT, job.contact.address())
        .env(ENV_SERVICE, job.service)
        .env(ENV_EXPIRES, job.expires_at.to_string())
        .current_dir("/")
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .uid(helper.uid)
        .gid(helper.gid)
        .process_group(0);
    if let Some(conf) = helper.conf {
        command.env(ENV_CONF, conf);
    }
    if let Some(handle) = job.check {
        command.env(ENV_CHECK, handle);
    }
    // SAFETY: the closure runs in the child between fork and exec and calls only
    // close_range(2) and fcntl(2), which are async-signal-safe; it allocates nothing and
    // touches no lock.
    unsafe {
        command.pre_exec(|| {
            mark_inherited_cloexec();
            Ok(())
        });
    }
    let mut child = command.spawn().map_err(|e| SpawnError::Start(e.kind()))?;
    // The child holds its own copy of the other end; ours must go before we wait.
    drop(command);

    let mut line = Vec::with_capacity(secret.len() + 1);
    line.extend_from_slice(secret);
    line.push(b'\n');
    // A helper that exits without reading just loses the code; that is its failure to report.
    let _ = send_all(&ours, &line);
    line.fill(0);
    drop(ours);

    let outcome = watch(&mut child, deadline);
    // Kill the group whatever happened: the helper is not reaped yet, so its pid (the
    // group id) is still reserved and the signal cannot reach anyone else.
    kill_group(child.id());
    let status = child.wait();
    let (exited, out, err) = outcome;
    let status = status.map_err(|e| SpawnError::Start(e.kind()))?;
    if !exited {
        return Err(SpawnError::TimedOut(helper.timeout));
    }
    match status.code() {
        Some(0) => Ok(out),
        Some(super::exit::RATE_LIMITED) => Err(SpawnError::RateLimited {
            retry_after: retry_after(&scrub(&out, secret)),
            message: scrub(&err, secret),
        }),
        Some(code) => Err(SpawnError::Failed {
            exit: HelperExit::from_status(code),
            message: scrub(&err, secret),
        }),
        None => Err(SpawnError::Signalled(status.signal().unwrap_or(0))),
    }
}

/// Reads the helper's output until it exits or the deadline passes. Returns whether it
/// exited (it is not reaped), and what it wrote.
fn watch(child: &mut Child, deadline: Instant) -> (bool, Vec<u8>, Vec<u8>) {
    let mut out = Capture::new(child.stdout.take().map(OwnedFd::from));
    let mut err = Capture::new(child.stderr.take().map(OwnedFd::from));
    let pidfd = pidfd_open(child.id());
    loop {
        if has_exited(child.id()) {
            out.drain();
            err.drain();
            return (true, out.buf, err.buf);
        }
        let now = Instant::now();
        if now >= deadline {
            return (false, out.buf, err.buf);
        }
        // Without a pidfd (Linux before 5.3), look again every 10 ms.
        let mut wait = deadline - now;
        if pidfd.is_none() {
            wait = wait.min(Duration::from_millis(10));
        }
        let mut fds = Vec::with_capacity(3);
        for fd in [out.fd(), err.fd(), pidfd.as_ref().map(AsRawFd::as_raw_fd)]
            .into_iter()
            .flatten()
        {
            fds.push(libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            });
        }
        let ms = libc::c_int::try_from(wait.as_millis().max(1)).unwrap_or(libc::c_int::MAX);
        // SAFETY: `fds` is a valid array of `fds.len()` pollfd structures that lives for the
        // call; poll only writes their `revents`.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        if n < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            // poll itself failed: fall back to short sleeps rather than spin.
            std::thread::sleep(Duration::from_millis(10));
        }
        for p in &fds {
            if p.revents != 0 {
                if Some(p.fd) == out.fd() {
                    out.read_some();
                } else if Some(p.fd) == err.fd() {
                    err.read_some();
                }
            }
        }
    }
}

/// One of the helper's output pipes, read without blocking into a bounded buffer.
struct Capture {
    pipe: Option<std::fs::File>,
    buf: Vec<u8>,
}

impl Capture {
    fn new(fd: Option<OwnedFd>) -> Capture {
        let pipe = fd.map(std::fs::File::from);
        if let Some(p) = &pipe {
            set_nonblocking(p.as_raw_fd());
        }
        Capture {
            pipe,
            buf: Vec::new(),
        }
    }

    fn fd(&self) -> Option<RawFd> {
        self.pipe.as_ref().map(AsRawFd::as_raw_fd)
    }

    /// Reads what is there; closes the pipe at end of file or on error.
    fn read_some(&mut self) {
        let Some(pipe) = self.pipe.as_mut() else {
            return;
        };
        let mut chunk = [0u8; 1024];
        loop {
            match pipe.read(&mut chunk) {
                Ok(0) => {
                    self.pipe = None;
                    return;
                }
                Ok(n) => {
                    let room = MAX_OUTPUT.saturating_sub(self.buf.len());
                    self.buf.extend_from_slice(&chunk[..n.min(room)]);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(_) => {
                    self.pipe = None;
                    return;
                }
            }
        }
    }

    /// What is left once the helper exited (whatever is already in the pipe; no waiting
    /// for a descendant that still holds it open).
    fn drain(&mut self) {
        self.read_some();
    }
}

fn set_nonblocking(fd: RawFd) {
    // SAFETY: fcntl on a descriptor this function's caller owns; F_GETFL/F_SETFL touch only
    // its status flags.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
    }
}

/// Writes all of `bytes` with `MSG_NOSIGNAL` (no SIGPIPE if the helper is gone).
fn send_all(sock: &UnixStream, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is a valid buffer of `bytes.len()` bytes; the socket is ours and
        // open for the duration of the call.
        let n = unsafe {
            libc::send(
                sock.as_raw_fd(),
                bytes.as_ptr().cast(),
                bytes.len(),
                libc::MSG_NOSIGNAL,
            )
        };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        bytes = &bytes[usize::try_from(n).unwrap_or(bytes.len())..];
    }
    Ok(())
}

/// Whether the child has exited, without reaping it (`waitid(WNOWAIT)`).
fn has_exited(pid: u32) -> bool {
    // SAFETY: `info` is a zeroed siginfo_t that waitid fills; the pid is our own child's.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let rc = libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        // With WNOHANG, a child still running leaves si_pid at 0.
        rc == 0 && info.si_pid() != 0
    }
}

/// A pidfd for the child (readable once it exits), or `None` before Linux 5.3.
fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor (close-on-exec
    // by definition) or -1; we own what it returns.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    let fd = RawFd::try_from(fd).ok().filter(|&fd| fd >= 0)?;
    // SAFETY: `fd` was just returned by pidfd_open and nothing else owns it.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// SIGKILL to the process group `pgid` (the helper's pid).
fn kill_group(pgid: u32) {
    if let Ok(pgid) = libc::pid_t::try_from(pgid) {
        if pgid > 1 {
            // SAFETY: kill with a negative pid signals that process group; the group is the
            // one our unreaped child leads, so it cannot have been reused.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
    }
}

/// In the child before exec: every descriptor above 2 is marked close-on-exec, so none of
/// the host's leaks into the helper. Async-signal-safe.
fn mark_inherited_cloexec() {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 4;
    // SAFETY: close_range(2) with the CLOEXEC flag only changes descriptor flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        )
    };
    if rc != 0 {
        // Before Linux 5.11: one fcntl per possible descriptor, up to a bound.
        for fd in 3..65536 {
            // SAFETY: F_SETFD on a descriptor that may not exist fails with EBADF, harmlessly.
            unsafe {
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            }
        }
    }
}

#[cfg(test)]
mod tests;
