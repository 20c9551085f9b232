//! Harness for the race, crash and fault tests (`tests/races.rs`, `tests/crash.rs`,
//! `tests/faults.rs`): an in-process PAM application around `pam_start_confdir`, so that
//! thousands of logins (and many threads, each with its own PAM handle) cost no process
//! start-up, plus helpers to re-run the test binary as a child process (to be killed, to
//! hold a lock, or to run under pam_wrapper and capture the module's syslog lines).
//!
//! Each [`Fixture`] is a private directory with its own PAM service directory, an admin
//! secret store (`secret=<dir>/secrets/%u`, owned by the module's user, so no root is
//! needed) holding HOTP secrets, and a state directory. HOTP lets every login present a
//! fresh code: the next counter value.

#![allow(dead_code)] // each test crate uses its own subset

use std::ffi::{c_int, c_void, CString};
use std::fs::{self, File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use pam_otp_core::otp::{self, Algorithm};
use pam_otp_core::secret_file::encode_base32;
use pam_otp_core::state::State;
use pam_otp_core::store::FileStore;

use crate::pam_ffi::{
    answer_prompts, pam_authenticate, pam_end, pam_start, pam_start_confdir, PamConv, PamHandle,
};
pub use crate::pam_ffi::{PAM_AUTH_ERR, PAM_SUCCESS};

/// One PAM transaction, as sshd or sudo runs it: start (libpam reads the service file and
/// loads the module), authenticate with `answer` typed at every prompt, end (the module is
/// unloaded). `confdir: None` uses plain `pam_start` (for pam_wrapper, which does not wrap
/// `pam_start_confdir`).
pub fn pam_login(confdir: Option<&Path>, service: &str, user: &str, answer: &str) -> c_int {
    let service = CString::new(service).unwrap();
    let user = CString::new(user).unwrap();
    let answer = CString::new(answer).unwrap();
    let conv = PamConv {
        conv: answer_prompts,
        appdata_ptr: answer.as_ptr() as *mut c_void,
    };
    let mut pamh: *mut PamHandle = ptr::null_mut();
    // SAFETY: every pointer is a live NUL-terminated string or the conv struct, all of which
    // outlive the transaction; the handle is used only between a successful start and end.
    unsafe {
        let rc = match confdir {
            Some(dir) => {
                let dir = CString::new(dir.as_os_str().as_encoded_bytes()).unwrap();
                pam_start_confdir(
                    service.as_ptr(),
                    user.as_ptr(),
                    &conv,
                    dir.as_ptr(),
                    &mut pamh,
                )
            }
            None => pam_start(service.as_ptr(), user.as_ptr(), &conv, &mut pamh),
        };
        assert_eq!(rc, PAM_SUCCESS, "pam_start failed");
        let rc = pam_authenticate(pamh, 0);
        pam_end(pamh, rc);
        rc
    }
}

pub use crate::built::module_path;

/// The module's own user: the secret store and state belong to it (root in CI).
pub fn current_user() -> (String, u32) {
    let uid = nix::unistd::geteuid().as_raw();
    let account = pam_otp_core::userdb::lookup_uid(uid)
        .expect("user database")
        .expect("the current uid has a passwd entry");
    (account.name, uid)
}

/// A private directory, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "pam_otp-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o700)).unwrap();
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The key every fixture secret uses (RFC 4226's test key; the secret file is private).
pub const KEY: &[u8] = b"12345678901234567890";

/// A service directory, secret store and state directory for in-process logins.
pub struct Fixture {
    pub dir: TempDir,
    pub user: String,
    pub uid: u32,
}

impl Fixture {
    /// `extra`: module arguments after `secret=` and `state_dir=`.
    pub fn new(tag: &str, extra: &str) -> Fixture {
        let (user, uid) = current_user();
        let f = Fixture {
            dir: TempDir::new(tag),
            user,
            uid,
        };
        for sub in ["services", "secrets"] {
            fs::create_dir(f.dir.path().join(sub)).unwrap();
            fs::set_permissions(f.dir.path().join(sub), fs::Permissions::from_mode(0o700)).unwrap();
        }
        f.service("otp", extra);
        let me = f.user.clone();
        f.add_secret(&me);
        f
    }

    /// Writes service `name`: the module alone, returning exactly what it returns.
    pub fn service(&self, name: &str, extra: &str) {
        let line = format!(
            "auth [success=done default=die] {} secret={}/%u state_dir={} {extra}\n",
            module_path().display(),
            self.secrets_dir().display(),
            self.state_dir().display(),
        );
        fs::write(self.services_dir().join(name), line).unwrap();
    }

    /// Gives `user` the fixture's HOTP secret (counter starting at 0).
    pub fn add_secret(&self, user: &str) {
        write_private(
            &self.secrets_dir().join(user),
            format!("type = hotp\nsecret = {}\n", &*encode_base32(KEY)).as_bytes(),
        );
    }

    pub fn services_dir(&self) -> PathBuf {
        self.dir.path().join("services")
    }

    pub fn secrets_dir(&self) -> PathBuf {
        self.dir.path().join("secrets")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn state_file(&self, uid: u32) -> PathBuf {
        self.state_dir().join(uid.to_string())
    }

    /// One in-process login of the fixture's user on service `otp`.
    pub fn login(&self, code: &str) -> c_int {
        pam_login(Some(&self.services_dir()), "otp", &self.user, code)
    }

    /// The user's state as the module would read it.
    pub fn state(&self) -> State {
        FileStore::new(self.state_dir(), Duration::from_secs(5))
            .load(self.uid)
            .expect("state loads")
    }
}

/// The fixture key's HOTP code for `counter`, as the token shows it.
pub fn hotp(counter: u64) -> String {
    otp::format_code(otp::hotp(KEY, counter, Algorithm::Sha1, 6), 6)
}

/// A six-digit code that is not the code for any counter in `0..limit + 30`.
pub fn wrong_code(limit: u64) -> String {
    (0..1_000_000u32)
        .map(|c| format!("{c:06}"))
        .find(|c| !(0..limit + 30).any(|n| hotp(n) == *c))
        .unwrap()
}

/// Writes a file with mode 0600 (replacing any old one).
pub fn write_private(path: &Path, bytes: &[u8]) {
    let _ = fs::remove_file(path);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .unwrap();
    std::io::Write::write_all(&mut f, bytes).unwrap();
}

/// The names in a directory, sorted.
pub fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

// ---------------------------------------------------------------------------------------
// Child processes

/// Environment variable that turns a test binary's `child_process_entry` test into the child.
pub const CHILD_ENV: &str = "PAM_OTP_PROVE_CHILD";

/// A command that re-runs this test binary with only its `child_process_entry` test, in
/// `mode` (read back with [`child_mode`]), output uncaptured.
pub fn child(mode: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "child_process_entry",
        "--exact",
        "--nocapture",
        "--test-threads=1",
        "-q",
    ])
    .env(CHILD_ENV, mode)
    .stdin(Stdio::null());
    cmd
}

/// The mode this process was started in by [`child`], if any.
pub fn child_mode() -> Option<String> {
    std::env::var(CHILD_ENV).ok()
}

/// libpam_wrapper.so (Debian: libpam-wrapper), or a panic naming the package.
pub fn pam_wrapper_lib() -> PathBuf {
    let candidates = [
        "/usr/lib/x86_64-linux-gnu/libpam_wrapper.so",
        "/usr/lib/aarch64-linux-gnu/libpam_wrapper.so",
        "/usr/lib64/libpam_wrapper.so",
        "/usr/lib/libpam_wrapper.so",
    ];
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("libpam_wrapper.so not found: install the Debian package libpam-wrapper")
}

/// Serialises pam_wrapper process start-up with every other test process (pam_wrapper picks
/// its runtime directory with a racy check-then-create; tests/support uses the same file).
pub struct StartLock(File);

impl StartLock {
    pub fn acquire() -> StartLock {
        let path = std::env::temp_dir().join("pam_otp-tests-pam_wrapper.lock");
        let file = File::open(&path)
            .or_else(|_| {
                OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .mode(0o644)
                    .open(&path)
            })
            .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
        file.lock().unwrap();
        StartLock(file)
    }
}

/// What a login under pam_wrapper returned and logged.
#[derive(Debug)]
pub struct Logged {
    pub rc: c_int,
    /// The module's pam_syslog lines, as pam_wrapper prints them on stderr
    /// (`SYSLOG(prio): <reason> rhost=...`), without that prefix.
    pub syslog: Vec<String>,
    pub elapsed: Duration,
}

impl Logged {
    /// The one syslog line of this login.
    pub fn line(&self) -> &str {
        assert_eq!(self.syslog.len(), 1, "expected one syslog line: {self:?}");
        &self.syslog[0]
    }
}

/// Runs one login of `user` with `answer` on `fixture`'s service `otp`, in a child process
/// under pam_wrapper so that the module's syslog lines can be read. The child is killed
/// (and the test fails) if it takes longer than `limit`: the module must never hang a host.
pub fn logged_login(fixture: &Fixture, user: &str, answer: &str, limit: Duration) -> Logged {
    let _start = StartLock::acquire();
    let started = std::time::Instant::now();
    let mut proc = child("login")
        .env("LD_PRELOAD", pam_wrapper_lib())
        .env("PAM_WRAPPER", "1")
        .env("PAM_WRAPPER_SERVICE_DIR", fixture.services_dir())
        .env("PAM_WRAPPER_DEBUGLEVEL", "2")
        .env("PROVE_USER", user)
        .env("PROVE_ANSWER", answer)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the login child");
    loop {
        if proc.try_wait().unwrap().is_some() {
            break;
        }
        if started.elapsed() > limit {
            let _ = proc.kill();
            let _ = proc.wait();
            panic!("the login took longer than {limit:?}: the host would hang");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let elapsed = started.elapsed();
    let mut stdout = String::new();
    let mut stderr = String::new();
    proc.stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    proc.stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let rc = stdout
        .lines()
        .find_map(|l| l.strip_prefix("rc="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| {
            panic!("the login child printed no rc; stdout {stdout:?} stderr {stderr:?}")
        });
    let syslog = stderr
        .lines()
        .filter_map(|l| l.split_once("SYSLOG(").map(|(_, rest)| rest))
        .filter_map(|rest| rest.split_once("): ").map(|(_, line)| line))
        // The module's lines start with a reason word and the remote host; libpam's don't.
        .filter(|line| {
            line.split_once(' ').is_some_and(|(word, rest)| {
                word.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                    && rest.starts_with("rhost=")
            })
        })
        .map(str::to_string)
        .collect();
    Logged {
        rc,
        syslog,
        elapsed,
    }
}

/// The child side of [`logged_login`]: one login through plain `pam_start` (redirected by
/// pam_wrapper to the fixture's service directory).
pub fn run_login_child() {
    let user = std::env::var("PROVE_USER").unwrap();
    let answer = std::env::var("PROVE_ANSWER").unwrap();
    let rc = pam_login(None, "otp", &user, &answer);
    println!("rc={rc}");
}
