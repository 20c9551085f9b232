//! The Linux audit records of a lock-out, read back from the kernel: the attempt that locks
//! the user out writes ANOM_LOGIN_FAILURES (2100) and RESP_ACCT_LOCK (2207), the first
//! attempt after the lock-out ran out writes RESP_ACCT_UNLOCK_TIMED (2206) with the remote
//! host, and `pam-otp unlock` writes USER_MGMT (1102, `op=pam-otp-unlock`), each as
//! pam_faillock writes them.
//!
//! Root only (`#[ignore]`d; `cargo test --test audit_records -- --include-ignored`). No audit
//! daemon is needed or started: the test turns kernel auditing on (AUDIT_SET, restored to
//! its previous value when the test ends, pass or fail) and reads the records as a member
//! of the kernel's read-only multicast group (AUDIT_NLGRP_READLOG, CAP_AUDIT_READ). Where the
//! kernel refuses audit netlink (a container without it, no CAP_AUDIT_CONTROL), the test
//! says so and passes, except under CI (env CI set), where it fails.
//!
//! Logins are in-process (`pam_start_confdir`), so the module's records carry this test's
//! pid, which tells them from any other process's on the machine; the unlock's carry the
//! `pam-otp` child's.

use std::ffi::{c_int, c_void, CString};
use std::mem::size_of;
use std::process::Command;
use std::ptr;
use std::thread::sleep;
use std::time::{Duration, Instant};

use pam_otp_testkit::built::cli_path;
use pam_otp_testkit::in_process::{hotp, wrong_code, Fixture};
use pam_otp_testkit::pam_ffi::{
    answer_prompts, pam_authenticate, pam_end, pam_set_item, pam_start_confdir, PamConv, PamHandle,
    PAM_AUTH_ERR, PAM_RHOST, PAM_SUCCESS,
};

// linux/audit.h and linux/netlink.h.
const NETLINK_AUDIT: c_int = 9;
const AUDIT_GET: u16 = 1000;
const AUDIT_SET: u16 = 1001;
const AUDIT_STATUS_ENABLED: u32 = 0x0001;
const AUDIT_NLGRP_READLOG: u32 = 1;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;

const AUDIT_USER_MGMT: u16 = 1102;
const AUDIT_ANOM_LOGIN_FAILURES: u16 = 2100;
const AUDIT_RESP_ACCT_UNLOCK_TIMED: u16 = 2206;
const AUDIT_RESP_ACCT_LOCK: u16 = 2207;
const LOCK_OUT_RECORDS: [u16; 4] = [
    AUDIT_USER_MGMT,
    AUDIT_ANOM_LOGIN_FAILURES,
    AUDIT_RESP_ACCT_UNLOCK_TIMED,
    AUDIT_RESP_ACCT_LOCK,
];
/// How long to wait for a record that should come.
const COMES: Duration = Duration::from_secs(5);
/// How long to listen for records that should not come.
const QUIET: Duration = Duration::from_secs(1);

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct NlMsgHdr {
    len: u32,
    kind: u16,
    flags: u16,
    seq: u32,
    pid: u32,
}

/// struct audit_status (linux/audit.h), as far as AUDIT_GET fills it on every kernel since
/// 3.x; the kernel accepts an AUDIT_SET that is this long or longer.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
struct AuditStatus {
    mask: u32,
    enabled: u32,
    failure: u32,
    pid: u32,
    rate_limit: u32,
    backlog_limit: u32,
    lost: u32,
    backlog: u32,
    feature_bitmap: u32,
    backlog_wait_time: u32,
    backlog_wait_time_actual: u32,
}

fn os_error(what: &str) -> std::io::Error {
    let e = std::io::Error::last_os_error();
    std::io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// A NETLINK_AUDIT socket, closed on drop.
struct Socket(c_int);

impl Socket {
    /// A socket; `groups`: the multicast groups to join (a bit per group).
    fn open(groups: u32) -> std::io::Result<Socket> {
        // SAFETY: plain system call with constant arguments.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                NETLINK_AUDIT,
            )
        };
        if fd < 0 {
            return Err(os_error("socket(NETLINK_AUDIT)"));
        }
        let socket = Socket(fd);
        // SAFETY: sockaddr_nl is plain data; all zero is a valid value.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as u16;
        addr.nl_groups = groups;
        // SAFETY: `addr` is a sockaddr_nl of the size given.
        let rc = unsafe {
            libc::bind(
                fd,
                ptr::addr_of!(addr).cast(),
                size_of::<libc::sockaddr_nl>() as u32,
            )
        };
        if rc < 0 {
            return Err(os_error("bind(NETLINK_AUDIT)"));
        }
        let timeout = libc::timeval {
            tv_sec: 0,
            tv_usec: 200_000,
        };
        // SAFETY: `timeout` is a timeval of the size given.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                ptr::addr_of!(timeout).cast(),
                size_of::<libc::timeval>() as u32,
            )
        };
        if rc < 0 {
            return Err(os_error("setsockopt(SO_RCVTIMEO)"));
        }
        // Every audit record on the machine reaches a READLOG listener, libpam's own among
        // them: a roomy buffer keeps a busy moment from overflowing it (root may exceed
        // rmem_max with SO_RCVBUFFORCE).
        let size: libc::c_int = 8 << 20;
        // SAFETY: `size` is a c_int of the size given.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                ptr::addr_of!(size).cast(),
                size_of::<libc::c_int>() as u32,
            )
        };
        if rc < 0 {
            return Err(os_error("setsockopt(SO_RCVBUFFORCE)"));
        }
        Ok(socket)
    }

    /// Sends one request of type `kind` with `payload` to the kernel.
    fn request(&self, kind: u16, flags: u16, payload: &[u8]) -> std::io::Result<()> {
        let header = NlMsgHdr {
            len: (size_of::<NlMsgHdr>() + payload.len()) as u32,
            kind,
            flags: NLM_F_REQUEST | flags,
            seq: 1,
            pid: 0,
        };
        let mut message = as_bytes(&header).to_vec();
        message.extend_from_slice(payload);
        // SAFETY: sockaddr_nl is plain data; all zero is a valid value.
        let mut kernel: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        kernel.nl_family = libc::AF_NETLINK as u16;
        // SAFETY: `message` and `kernel` are live buffers of the sizes given.
        let sent = unsafe {
            libc::sendto(
                self.0,
                message.as_ptr().cast(),
                message.len(),
                0,
                ptr::addr_of!(kernel).cast(),
                size_of::<libc::sockaddr_nl>() as u32,
            )
        };
        if sent < 0 {
            return Err(os_error("sendto(NETLINK_AUDIT)"));
        }
        Ok(())
    }

    /// The netlink messages of one datagram (empty after the receive timeout).
    fn receive(&self) -> std::io::Result<Vec<(u16, Vec<u8>)>> {
        let mut buf = vec![0u8; 1 << 16];
        // SAFETY: `buf` is a live buffer of the size given.
        let n = unsafe { libc::recv(self.0, buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::EAGAIN) | Some(libc::EINTR) => Ok(Vec::new()),
                // The buffer overflowed and some records were dropped; later ones still
                // arrive. If one of ours was among the dropped, the assertions say so.
                Some(libc::ENOBUFS) => {
                    eprintln!("audit listener: buffer overflowed, some records were dropped");
                    Ok(Vec::new())
                }
                _ => Err(os_error("recv(NETLINK_AUDIT)")),
            };
        }
        let n = n as usize;
        let header_len = size_of::<NlMsgHdr>();
        let mut out = Vec::new();
        let mut at = 0;
        while at + header_len <= n {
            // SAFETY: at least a header's worth of bytes from `at`; read unaligned.
            let header: NlMsgHdr = unsafe { ptr::read_unaligned(buf[at..].as_ptr().cast()) };
            let len = header.len as usize;
            // A length that does not fit: take the rest of the datagram as this message.
            let end = if len < header_len || at + len > n {
                n
            } else {
                at + len
            };
            out.push((header.kind, buf[at + header_len..end].to_vec()));
            at = (end + 3) & !3;
        }
        Ok(out)
    }

    /// The kernel's answer to a request: the status for AUDIT_GET, or the errno of its
    /// acknowledgement (0: done).
    fn answer(&self) -> std::io::Result<Answer> {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            for (kind, payload) in self.receive()? {
                match kind {
                    AUDIT_GET if payload.len() >= size_of::<AuditStatus>() => {
                        // SAFETY: enough bytes for the struct; read unaligned.
                        let status = unsafe { ptr::read_unaligned(payload.as_ptr().cast()) };
                        return Ok(Answer::Status(status));
                    }
                    NLMSG_ERROR if payload.len() >= 4 => {
                        let code = i32::from_ne_bytes(payload[..4].try_into().unwrap());
                        return Ok(Answer::Ack(-code));
                    }
                    _ => {}
                }
            }
        }
        Err(std::io::Error::other("no answer from the kernel's audit"))
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        // SAFETY: the descriptor is ours and closed once.
        unsafe { libc::close(self.0) };
    }
}

enum Answer {
    Status(AuditStatus),
    Ack(i32),
}

fn as_bytes<T: Copy>(value: &T) -> &[u8] {
    // SAFETY: `T` is a plain repr(C) struct without padding (u16/u32 fields only).
    unsafe { std::slice::from_raw_parts((value as *const T).cast(), size_of::<T>()) }
}

/// The kernel's `enabled` (0 off, 1 on, 2 on and locked).
fn audit_enabled(control: &Socket) -> std::io::Result<u32> {
    control.request(AUDIT_GET, 0, &[])?;
    match control.answer()? {
        Answer::Status(status) => Ok(status.enabled),
        Answer::Ack(0) => Err(std::io::Error::other("AUDIT_GET answered without a status")),
        Answer::Ack(errno) => Err(std::io::Error::from_raw_os_error(errno)),
    }
}

fn set_audit_enabled(control: &Socket, enabled: u32) -> std::io::Result<()> {
    let status = AuditStatus {
        mask: AUDIT_STATUS_ENABLED,
        enabled,
        ..AuditStatus::default()
    };
    control.request(AUDIT_SET, NLM_F_ACK, as_bytes(&status))?;
    match control.answer()? {
        Answer::Ack(0) => Ok(()),
        Answer::Ack(errno) => Err(std::io::Error::from_raw_os_error(errno)),
        Answer::Status(_) => Err(std::io::Error::other("AUDIT_SET answered with a status")),
    }
}

/// Kernel auditing switched on for the test; its previous value is put back on drop, so a
/// failing assertion restores it too.
struct AuditOn {
    control: Socket,
    before: u32,
}

impl AuditOn {
    fn new() -> std::io::Result<AuditOn> {
        let control = Socket::open(0)?;
        let before = audit_enabled(&control)?;
        if before == 0 {
            set_audit_enabled(&control, 1)?;
        }
        let on = AuditOn { control, before };
        assert_ne!(audit_enabled(&on.control)?, 0, "auditing did not turn on");
        Ok(on)
    }
}

impl Drop for AuditOn {
    fn drop(&mut self) {
        if self.before == 0 {
            if let Err(e) = set_audit_enabled(&self.control, self.before) {
                eprintln!("could not restore audit enabled={}: {e}", self.before);
            }
        }
    }
}

/// One audit record: its type and text (`audit(TIME:SERIAL): pid=… msg='…'`).
#[derive(Debug, Clone)]
struct Record {
    kind: u16,
    text: String,
}

impl Record {
    fn pid(&self) -> Option<u32> {
        let rest = self.text.split_once(" pid=")?.1;
        rest.split(' ').next()?.parse().ok()
    }
}

/// A member of AUDIT_NLGRP_READLOG: every record the kernel emits, as it emits it.
struct Listener {
    socket: Socket,
    seen: Vec<Record>,
}

impl Listener {
    fn new() -> std::io::Result<Listener> {
        Ok(Listener {
            socket: Socket::open(1 << (AUDIT_NLGRP_READLOG - 1))?,
            seen: Vec::new(),
        })
    }

    /// Reads records until `enough` holds for the lock-out records (the four types above)
    /// of process `pid`, at most `limit`, and returns those. Records go out asynchronously
    /// (the kernel's kauditd thread). Others are left out: the kernel's own (this socket's
    /// connect) and libpam's (USER_AUTH of every attempt).
    fn records_of(
        &mut self,
        pid: u32,
        limit: Duration,
        enough: impl Fn(&[Record]) -> bool,
    ) -> Vec<Record> {
        let deadline = Instant::now() + limit;
        loop {
            let mine: Vec<Record> = self
                .seen
                .iter()
                .filter(|r| r.pid() == Some(pid) && LOCK_OUT_RECORDS.contains(&r.kind))
                .cloned()
                .collect();
            if enough(&mine) || Instant::now() > deadline {
                return mine;
            }
            for (kind, payload) in self.socket.receive().expect("read audit records") {
                let text = String::from_utf8_lossy(&payload)
                    .trim_end_matches('\0')
                    .to_string();
                self.seen.push(Record { kind, text });
            }
        }
    }
}

/// Under CI a kernel without audit fails the test; elsewhere it is said and skipped.
fn unavailable(why: &std::io::Error) {
    assert!(
        std::env::var_os("CI").is_none(),
        "kernel auditing is not available under CI ({why}); this test needs audit netlink \
         and CAP_AUDIT_CONTROL/CAP_AUDIT_READ (root on a host or a privileged container)"
    );
    eprintln!("kernel auditing not available here ({why}): audit records not read back");
}

/// One in-process login of `fixture`'s user from `rhost`, typing `code`.
fn login_from(fixture: &Fixture, rhost: &str, code: &str) -> c_int {
    let service = CString::new("otp").unwrap();
    let user = CString::new(fixture.user.as_str()).unwrap();
    let answer = CString::new(code).unwrap();
    let rhost = CString::new(rhost).unwrap();
    let dir = CString::new(fixture.services_dir().into_os_string().into_encoded_bytes()).unwrap();
    let conv = PamConv {
        conv: answer_prompts,
        appdata_ptr: answer.as_ptr() as *mut c_void,
    };
    let mut pamh: *mut PamHandle = ptr::null_mut();
    // SAFETY: every pointer is a live NUL-terminated string or the conv struct, all of which
    // outlive the transaction; the handle is used only between a successful start and end.
    unsafe {
        let rc = pam_start_confdir(
            service.as_ptr(),
            user.as_ptr(),
            &conv,
            dir.as_ptr(),
            &mut pamh,
        );
        assert_eq!(rc, PAM_SUCCESS, "pam_start_confdir");
        assert_eq!(
            pam_set_item(pamh, PAM_RHOST, rhost.as_ptr().cast()),
            PAM_SUCCESS
        );
        let rc = pam_authenticate(pamh, 0);
        pam_end(pamh, rc);
        rc
    }
}

fn of_kind(records: &[Record], kind: u16) -> Vec<&Record> {
    records.iter().filter(|r| r.kind == kind).collect()
}

/// The message part of a user record: `msg='…'`.
fn msg(record: &Record) -> &str {
    record
        .text
        .split_once("msg='")
        .map(|(_, m)| m.trim_end_matches('\''))
        .unwrap_or_else(|| panic!("no msg='…' in {record:?}"))
}

#[test]
#[ignore = "root: turns kernel auditing on for the test; run with --include-ignored"]
fn lock_out_its_end_and_an_admin_unlock_are_audited() {
    assert!(nix::unistd::geteuid().is_root(), "this test needs root");
    let _audit = match AuditOn::new() {
        Ok(on) => on,
        Err(e) => return unavailable(&e),
    };
    let mut listener = match Listener::new() {
        Ok(l) => l,
        Err(e) => return unavailable(&e),
    };
    let me = std::process::id();
    let fixture = Fixture::new("audit", "max_failures=2 lockout=2");
    let uid = fixture.uid;
    let wrong = wrong_code(5);
    let expected_msg = format!("op=pam_otp suid={uid} ");

    // One failure: no record yet.
    assert_eq!(login_from(&fixture, "192.0.2.10", &wrong), PAM_AUTH_ERR);
    let early = listener.records_of(me, QUIET, |_| false);
    assert!(early.is_empty(), "a record before the lock-out: {early:?}");

    // The second locks the user out: ANOM_LOGIN_FAILURES, then RESP_ACCT_LOCK.
    assert_eq!(login_from(&fixture, "192.0.2.10", &wrong), PAM_AUTH_ERR);
    let locked = listener.records_of(me, COMES, |r| of_kind(r, AUDIT_RESP_ACCT_LOCK).len() == 1);
    let failures = of_kind(&locked, AUDIT_ANOM_LOGIN_FAILURES);
    let lock = of_kind(&locked, AUDIT_RESP_ACCT_LOCK);
    assert_eq!(failures.len(), 1, "{locked:?}");
    assert_eq!(lock.len(), 1, "{locked:?}");
    for record in [failures[0], lock[0]] {
        let m = msg(record);
        assert!(m.starts_with(&expected_msg), "{record:?}");
        assert!(m.ends_with(" res=success"), "{record:?}");
        // pam_faillock gives no host with these two.
        assert!(m.contains(" hostname=? addr=? "), "{record:?}");
    }
    let order: Vec<u16> = locked.iter().map(|r| r.kind).collect();
    assert_eq!(
        order,
        [AUDIT_ANOM_LOGIN_FAILURES, AUDIT_RESP_ACCT_LOCK],
        "{locked:?}"
    );

    // While locked out: refused, and nothing more is written.
    assert_eq!(login_from(&fixture, "192.0.2.10", &hotp(0)), PAM_AUTH_ERR);
    let while_locked = listener.records_of(me, QUIET, |_| false);
    assert_eq!(while_locked.len(), 2, "{while_locked:?}");

    // The lock-out runs out: the next attempt (the right code, from another host) is let in
    // and writes RESP_ACCT_UNLOCK_TIMED with its host.
    sleep(Duration::from_millis(2_500));
    assert_eq!(login_from(&fixture, "192.0.2.77", &hotp(0)), PAM_SUCCESS);
    let after = listener.records_of(me, COMES, |r| {
        !of_kind(r, AUDIT_RESP_ACCT_UNLOCK_TIMED).is_empty()
    });
    let timed = of_kind(&after, AUDIT_RESP_ACCT_UNLOCK_TIMED);
    assert_eq!(timed.len(), 1, "{after:?}");
    let m = msg(timed[0]);
    assert!(m.starts_with(&expected_msg), "{m}");
    assert!(m.contains(" hostname=192.0.2.77 addr=192.0.2.77 "), "{m}");
    assert!(m.ends_with(" res=success"), "{m}");
    assert_eq!(after.len(), 3, "{after:?}");

    // Locked out again, then an administrator's `pam-otp unlock`: USER_MGMT from pam-otp.
    for _ in 0..2 {
        assert_eq!(login_from(&fixture, "192.0.2.10", &wrong), PAM_AUTH_ERR);
    }
    assert!(fixture.state().locked_until != 0, "locked out again");
    let child = Command::new(cli_path())
        .arg("--secret")
        .arg(format!("{}/%u", fixture.secrets_dir().display()))
        .arg("--state-dir")
        .arg(fixture.state_dir())
        .args(["unlock", &fixture.user])
        .env_remove("PAM_OTP_SECRET")
        .env_remove("PAM_OTP_STATE_DIR")
        .output_with_pid();
    let (cli_pid, output) = child;
    assert!(
        output.status.success(),
        "pam-otp unlock: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(fixture.state().locked_until, 0, "unlocked");
    let admin = listener.records_of(cli_pid, COMES, |r| !of_kind(r, AUDIT_USER_MGMT).is_empty());
    let mgmt = of_kind(&admin, AUDIT_USER_MGMT);
    assert_eq!(mgmt.len(), 1, "{admin:?}");
    let m = msg(mgmt[0]);
    assert!(m.starts_with("op=pam-otp-unlock "), "{m}");
    assert!(m.contains(&format!(" id={uid} ")), "{m}");
    assert!(m.contains("pam-otp\""), "exe is pam-otp: {m}");
    assert!(m.ends_with(" res=success"), "{m}");
}

/// `Command::output`, with the child's pid.
trait OutputWithPid {
    fn output_with_pid(&mut self) -> (u32, std::process::Output);
}

impl OutputWithPid for Command {
    fn output_with_pid(&mut self) -> (u32, std::process::Output) {
        let child = self
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start pam-otp");
        let pid = child.id();
        (pid, child.wait_with_output().expect("wait for pam-otp"))
    }
}
