//! Shared helpers for the tests that drive the built `libpam_otp.so` through real libpam.
//!
//! Each test gets an [`Env`]: a private 0700 directory holding its PAM service files, the
//! secret file (`secret=<dir>/secrets/%u.otp`, an admin store owned by the module's user) and
//! the state directory. The PAM application is `examples/pam_client.rs`, run under pam_wrapper
//! (Debian: libpam-wrapper), which serves the service files from that directory and prints
//! every `pam_syslog` line on stderr, so that tests can assert on the syslog reason words.
//! OTP codes come from `oathtool` (Debian: oathtool), an implementation independent of ours,
//! given the key in hex so that our base32 decoding is checked too.
//!
//! pam_wrapper picks its runtime directory (`/tmp/pam.X`, one letter) with a racy
//! check-then-create, and removes it when the process exits; two processes starting at the
//! same instant can share one and remove it under each other. So process start-up is
//! serialised across threads and test processes by a lock file (see [`StartLock`]).
//!
//! Every run also checks that no captured log line or prompt contains the secret, a recovery
//! code or what was typed (see [`Env::forbid`]).

#![allow(dead_code)] // each test crate uses its own subset

use std::cell::RefCell;
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pam_otp::state::State;
use pam_otp::store::FileStore;

pub const PAM_SUCCESS: i32 = 0;
pub const PAM_SERVICE_ERR: i32 = 3;
pub const PAM_PERM_DENIED: i32 = 6;
pub const PAM_AUTH_ERR: i32 = 7;
pub const PAM_CONV_ERR: i32 = 19;
pub const PAM_IGNORE: i32 = 25;

/// The reason words the module starts its log lines with (DESIGN.md, src/authenticate.rs).
pub const REASONS: &[&str] = &[
    "ok",
    "bad_code",
    "replay",
    "locked",
    "no_secret",
    "bad_secret_file",
    "state_error",
    "unknown_user",
    "bad_args",
    "conv_error",
    "no_authtok",
    "clock_error",
    "debug",
];

/// libpam never passes PAM_IGNORE on to the application (a stack where every module
/// ignores fails with PAM_PERM_DENIED). With this control on the module's line, followed by
/// `pam_permit.so`, `pam_authenticate` succeeds exactly when the module returned PAM_IGNORE:
/// its success turns into a failure (`bad`), any failure ends the stack with its own code.
pub const IGNORE_PROBE_CONTROL: &str = "[success=bad ignore=ignore default=die]";

/// How long one client may run before the test gives up on it.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------
// Tools and built artefacts

/// Panics (never skips) when a program the tests need cannot be run, naming the Debian
/// package. Its exit status is not checked (pamtester has no option that exits 0).
pub fn require_tool(program: &str, args: &[&str], package: &str) {
    let ok = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        ok,
        "`{program}` is missing or does not run; these tests need it: \
         install the Debian package `{package}` (apt-get install {package})"
    );
}

#[path = "built.rs"]
mod built;
pub use built::{modified, module_path, profile_dir};

/// The test client, `target/<profile>/examples/pam_client`. A plain `cargo test` builds it;
/// `cargo test --test NAME` does not, so when it is missing or older than its source it is
/// built here with the same cargo and profile.
pub fn client_path() -> PathBuf {
    static CLIENT: OnceLock<PathBuf> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let dir = profile_dir();
            let binary = dir.join("examples/pam_client");
            let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/pam_client.rs");
            let fresh = |b: &Path| match (modified(b), modified(&source)) {
                (Some(b), Some(s)) => b >= s,
                (Some(_), None) => true,
                _ => false,
            };
            if !fresh(&binary) {
                let mut cargo = Command::new(env!("CARGO"));
                cargo
                    .args(["build", "--quiet", "--example", "pam_client"])
                    .current_dir(env!("CARGO_MANIFEST_DIR"));
                if let Some(target_dir) = dir.parent() {
                    cargo.env("CARGO_TARGET_DIR", target_dir);
                }
                if dir.file_name() == Some(OsStr::new("release")) {
                    cargo.arg("--release");
                }
                let built = cargo.status().is_ok_and(|s| s.success());
                assert!(
                    built && fresh(&binary),
                    "the test client {} is missing or out of date and building it failed; \
                     run `cargo build --examples` (a plain `cargo test` builds it too)",
                    binary.display()
                );
            }
            binary
        })
        .clone()
}

/// libpam_wrapper.so's absolute path (an absolute LD_PRELOAD fails loudly if it is missing,
/// where a bare name would only warn and let the run use the system's /etc/pam.d).
pub fn pam_wrapper_lib() -> PathBuf {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        if let Some(path) = std::env::var_os("PAM_WRAPPER_LIB") {
            let path = PathBuf::from(path);
            assert!(
                path.is_file(),
                "PAM_WRAPPER_LIB={} is not a file; install the Debian package \
                 `libpam-wrapper` (apt-get install libpam-wrapper)",
                path.display()
            );
            return path;
        }
        let mut dirs: Vec<PathBuf> = Vec::new();
        for root in ["/usr/lib", "/usr/lib64", "/lib", "/usr/local/lib"] {
            dirs.push(PathBuf::from(root));
            if let Ok(entries) = fs::read_dir(root) {
                dirs.extend(
                    entries
                        .flatten()
                        .map(|e| e.path())
                        .filter(|p| p.to_string_lossy().contains("-linux-")),
                );
            }
        }
        dirs.into_iter()
            .map(|d| d.join("libpam_wrapper.so"))
            .find(|p| p.is_file())
            .unwrap_or_else(|| {
                panic!(
                    "libpam_wrapper.so not found; these tests need pam_wrapper: install the \
                     Debian package `libpam-wrapper` (apt-get install libpam-wrapper), or set \
                     PAM_WRAPPER_LIB to its path"
                )
            })
    })
    .clone()
}

/// One of pam_wrapper's test modules (`pam_set_items.so`, `pam_matrix.so`, …).
pub fn pam_wrapper_module(name: &str) -> PathBuf {
    let lib = pam_wrapper_lib();
    let path = lib
        .parent()
        .expect("libpam_wrapper.so has a directory")
        .join("pam_wrapper")
        .join(name);
    assert!(
        path.is_file(),
        "{} not found; install the Debian package `libpam-wrapper`",
        path.display()
    );
    path
}

// ---------------------------------------------------------------------------------------
// Codes, from oathtool

/// Current Unix time in seconds.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

fn oathtool(args: &[String]) -> Vec<String> {
    let out = Command::new("oathtool").args(args).output();
    let out = match out {
        Ok(o) => o,
        Err(e) => panic!(
            "cannot run oathtool ({e}); install the Debian package `oathtool` \
             (apt-get install oathtool)"
        ),
    };
    assert!(
        out.status.success(),
        "oathtool {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("oathtool prints ASCII")
        .lines()
        .map(str::to_string)
        .collect()
}

/// A random key, shown to oathtool in hex and written to secret files in base32.
#[derive(Clone)]
pub struct Key(pub Vec<u8>);

impl Key {
    pub fn random(len: usize) -> Key {
        let mut bytes = vec![0u8; len];
        File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut bytes))
            .expect("read /dev/urandom");
        Key(bytes)
    }

    /// A fixed key, for tests whose codes must not depend on chance (HOTP codes do not
    /// depend on the time either, so such a test sees the same codes on every run).
    pub fn fixed(len: usize) -> Key {
        Key((0..len)
            .map(|i| (i as u8).wrapping_mul(37).wrapping_add(11))
            .collect())
    }

    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn base32(&self) -> String {
        base32::encode(base32::Alphabet::Rfc4648 { padding: false }, &self.0)
    }
}

/// The TOTP parameters of a secret file, in oathtool's terms.
#[derive(Clone, Copy, Debug)]
pub struct Totp {
    pub algorithm: &'static str,
    pub digits: u32,
    pub period: u64,
}

impl Default for Totp {
    fn default() -> Self {
        Totp {
            algorithm: "sha1",
            digits: 6,
            period: 30,
        }
    }
}

impl Totp {
    /// The codes for `count` consecutive steps starting with the one holding `time`.
    pub fn codes(&self, key: &Key, time: u64, count: usize) -> Vec<String> {
        let codes = oathtool(&[
            format!("--totp={}", self.algorithm),
            format!("--digits={}", self.digits),
            format!("--time-step-size={}s", self.period),
            format!("--now=@{time}"),
            format!("--window={}", count - 1),
            key.hex(),
        ]);
        assert_eq!(codes.len(), count, "oathtool printed {codes:?}");
        codes
    }

    /// The code for the current step.
    pub fn now(&self, key: &Key) -> String {
        self.codes(key, now(), 1).remove(0)
    }

    /// A well-formed code that is valid for no step near now (the module's window is at
    /// most a few steps; a wider margin is excluded).
    pub fn wrong(&self, key: &Key) -> String {
        let t = now();
        let near = self.codes(key, t.saturating_sub(3 * self.period), 8);
        let modulus = 10u64.pow(self.digits);
        let base: u64 = near[3].parse().expect("numeric code");
        (1..)
            .map(|i| {
                format!(
                    "{:0width$}",
                    (base + i * 7919) % modulus,
                    width = self.digits as usize
                )
            })
            .find(|c| !near.contains(c))
            .expect("some code is wrong")
    }
}

/// The HOTP (SHA-1, 6 digits) code for `counter`, from oathtool.
pub fn hotp(key: &Key, counter: u64) -> String {
    oathtool(&[format!("--counter={counter}"), key.hex()]).remove(0)
}

/// The secret-file value for a recovery code: `sha256:<salt hex>:<sha256(salt || code)>`,
/// computed here from the documented format rather than with the crate's own helper.
pub fn recovery_entry(normalized_code: &str) -> String {
    use sha2::{Digest, Sha256};
    let salt = Key::random(16);
    let mut h = Sha256::new();
    h.update(&salt.0);
    h.update(normalized_code.as_bytes());
    let digest = Key(h.finalize().to_vec());
    format!("sha256:{}:{}", salt.hex(), digest.hex())
}

// ---------------------------------------------------------------------------------------
// Users and directories

/// The user the tests authenticate: whoever runs them (root in CI, anyone on a dev box).
#[derive(Clone, Debug)]
pub struct TestUser {
    pub name: String,
    pub uid: u32,
}

pub fn current_user() -> TestUser {
    let uid = nix::unistd::getuid();
    let user = nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("uid {uid} has no passwd entry; run the tests as a real user"));
    TestUser {
        name: user.name,
        uid: uid.as_raw(),
    }
}

/// A name no passwd entry has.
pub const NO_SUCH_USER: &str = "pam-otp-test-nobody-here";

/// A private directory removed on drop. Its name has no digits, so that a code found in a
/// log line cannot be a coincidence of the path.
pub struct TestDir(PathBuf);

impl TestDir {
    pub fn new() -> TestDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let letters = |mut n: u64| {
            let mut s = String::new();
            loop {
                s.push(char::from(b'a' + (n % 26) as u8));
                n /= 26;
                if n == 0 {
                    return s;
                }
            }
        };
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        loop {
            let name = format!(
                "pam_otp_test_{}_{}_{}",
                letters(u64::from(std::process::id())),
                letters(COUNTER.fetch_add(1, Ordering::Relaxed) as u64),
                letters(u64::from(nanos)),
            );
            let path = std::env::temp_dir().join(name);
            match fs::create_dir(&path) {
                Ok(()) => {
                    fs::set_permissions(&path, fs::Permissions::from_mode(0o700))
                        .expect("chmod test dir");
                    return TestDir(path);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => panic!("cannot create a test directory in the temp dir: {e}"),
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Default for TestDir {
    fn default() -> Self {
        TestDir::new()
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Writes `contents` to `path` with `mode`.
pub fn write_file(path: &Path, contents: &[u8], mode: u32) {
    let _ = fs::remove_file(path);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    f.write_all(contents).expect("write test file");
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod test file");
}

// ---------------------------------------------------------------------------------------
// Serialised process start-up (see the module documentation)

/// An exclusive `flock` on a file in the temp dir, shared by all test processes.
pub struct StartLock(File);

impl StartLock {
    pub fn acquire() -> StartLock {
        let path = std::env::temp_dir().join("pam_otp-tests-pam_wrapper.lock");
        let file = loop {
            // Opened read-only when it exists: flock needs no write access, and another
            // user (root or not) may have created it.
            match File::open(&path) {
                Ok(f) => break f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => panic!("open {}: {e}", path.display()),
            }
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o644)
                .open(&path)
            {
                Ok(f) => break f,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => panic!("create {}: {e}", path.display()),
            }
        };
        file.lock()
            .unwrap_or_else(|e| panic!("lock {}: {e}", path.display()));
        StartLock(file)
    }
}

// ---------------------------------------------------------------------------------------
// Running the client

/// What the client's conversation does.
#[derive(Clone, Debug)]
pub enum Conv {
    Answer(String),
    /// Answer with one line written later to the client's stdin (see [`Env::start`]).
    Stdin,
    /// Answer with 1 MiB of digits.
    Big,
    /// The conversation fails (PAM_CONV_ERR).
    Fail,
    /// The conversation succeeds without a response array (NULL).
    NoResponse,
}

/// One run of the client.
#[derive(Clone, Debug)]
pub struct Client {
    pub conv: Conv,
    pub user: Option<String>,
    pub rhost: Option<String>,
    /// Put into the environment as `PAM_AUTHTOK`, for pam_wrapper's `pam_set_items.so`
    /// (libpam refuses PAM_AUTHTOK from an application: only modules may set it).
    pub authtok: Option<String>,
    /// Run the client as this uid and gid (root drops to it with setpriv), as a host that
    /// is not root (a screen locker) would run.
    pub run_as: Option<(u32, u32)>,
}

impl Client {
    pub fn new(conv: Conv) -> Client {
        Client {
            conv,
            user: None,
            rhost: None,
            authtok: None,
            run_as: None,
        }
    }
    pub fn answer(text: impl Into<String>) -> Client {
        Client::new(Conv::Answer(text.into()))
    }
    pub fn user(mut self, name: &str) -> Client {
        self.user = Some(name.to_string());
        self
    }
    pub fn rhost(mut self, host: &str) -> Client {
        self.rhost = Some(host.to_string());
        self
    }
    pub fn run_as(mut self, uid: u32, gid: u32) -> Client {
        self.run_as = Some((uid, gid));
        self
    }
    pub fn authtok(mut self, token: &str) -> Client {
        self.authtok = Some(token.to_string());
        self
    }
}

/// What one run produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// `pam_authenticate`'s return code.
    pub code: i32,
    /// The text of every message the conversation received.
    pub prompts: Vec<String>,
    /// Every `pam_syslog` line (from any module and libpam), without pam_wrapper's prefix.
    pub syslog: Vec<String>,
    /// The raw stderr, for failure messages.
    pub stderr: String,
}

impl Outcome {
    /// The lines written by pam_otp: those starting with one of its reason words.
    pub fn module_lines(&self) -> Vec<&str> {
        self.syslog
            .iter()
            .map(String::as_str)
            .filter(|l| {
                l.split([' ', ':'])
                    .next()
                    .is_some_and(|w| REASONS.contains(&w))
            })
            .collect()
    }

    /// The module's one verdict line (debug lines aside).
    pub fn line(&self) -> &str {
        let lines: Vec<&str> = self
            .module_lines()
            .into_iter()
            .filter(|l| !l.starts_with("debug "))
            .collect();
        assert_eq!(
            lines.len(),
            1,
            "expected exactly one pam_otp verdict line, got {lines:?}\n{}",
            self.stderr
        );
        lines[0]
    }

    /// The reason word of the verdict line.
    pub fn reason(&self) -> &str {
        let line = self.line();
        line.split([' ', ':']).next().unwrap_or(line)
    }

    /// Asserts the PAM return code and the reason word, with everything shown on failure.
    #[track_caller]
    pub fn expect(&self, code: i32, reason: &str) -> &Self {
        assert_eq!(
            (self.code, self.reason()),
            (code, reason),
            "unexpected result; prompts {:?}, stderr:\n{}",
            self.prompts,
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn expect_line_contains(&self, text: &str) -> &Self {
        assert!(
            self.line().contains(text),
            "log line {:?} lacks {text:?}",
            self.line()
        );
        self
    }

    #[track_caller]
    pub fn expect_prompts(&self, count: usize) -> &Self {
        assert_eq!(
            self.prompts.len(),
            count,
            "prompts {:?}\n{}",
            self.prompts,
            self.stderr
        );
        self
    }
}

/// A test's private PAM world: service files, secret file, state directory.
pub struct Env {
    dir: TestDir,
    pub user: TestUser,
    forbidden: RefCell<Vec<String>>,
}

impl Default for Env {
    fn default() -> Self {
        Env::new()
    }
}

impl Env {
    pub fn new() -> Env {
        let dir = TestDir::new();
        for sub in ["services", "secrets"] {
            fs::create_dir(dir.path().join(sub)).expect("mkdir");
            fs::set_permissions(dir.path().join(sub), fs::Permissions::from_mode(0o700))
                .expect("chmod");
        }
        Env {
            dir,
            user: current_user(),
            forbidden: RefCell::new(Vec::new()),
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn services_dir(&self) -> PathBuf {
        self.dir().join("services")
    }

    pub fn secrets_dir(&self) -> PathBuf {
        self.dir().join("secrets")
    }

    /// The current user's secret file.
    pub fn secret_path(&self) -> PathBuf {
        self.secrets_dir().join(format!("{}.otp", self.user.name))
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir().join("state")
    }

    /// `secret=… state_dir=…` for this test.
    pub fn module_args(&self) -> String {
        format!(
            "secret={}/%u.otp state_dir={}",
            self.secrets_dir().display(),
            self.state_dir().display()
        )
    }

    /// A stack line loading the built module with this test's paths and `extra` arguments.
    pub fn module_line(&self, control: &str, extra: &str) -> String {
        format!(
            "auth {control} {} {} {extra}",
            module_path().display(),
            self.module_args()
        )
    }

    /// Writes a service file.
    pub fn service(&self, name: &str, stack: &str) {
        write_file(&self.services_dir().join(name), stack.as_bytes(), 0o600);
    }

    /// Writes the service `otp`: the module alone, `required`, with `extra` arguments.
    pub fn otp_service(&self, extra: &str) -> &'static str {
        self.service("otp", &format!("{}\n", self.module_line("required", extra)));
        "otp"
    }

    /// Writes the service `probe`: the module under [`IGNORE_PROBE_CONTROL`], then
    /// `pam_permit.so`. It returns PAM_SUCCESS if and only if the module ignored.
    pub fn ignore_probe_service(&self, extra: &str) -> &'static str {
        self.service(
            "probe",
            &format!(
                "{}\nauth required pam_permit.so\n",
                self.module_line(IGNORE_PROBE_CONTROL, extra)
            ),
        );
        "probe"
    }

    /// Registers text that must never appear in a log line or a prompt.
    pub fn forbid(&self, text: &str) {
        self.forbidden.borrow_mut().push(text.to_string());
    }

    /// Writes the secret file: `secret = <key>` plus `extra` lines, mode 0600.
    pub fn write_secret(&self, key: &Key, extra: &str) {
        self.forbid(&key.base32());
        self.forbid(&key.hex());
        self.write_secret_raw(&format!("secret = {}\n{extra}", key.base32()));
    }

    /// Writes the secret file verbatim, mode 0600.
    pub fn write_secret_raw(&self, text: &str) {
        write_file(&self.secret_path(), text.as_bytes(), 0o600);
    }

    /// The current user's stored state, read the way the module reads it.
    pub fn state(&self) -> State {
        FileStore::new(self.state_dir(), Duration::from_secs(5))
            .load(self.user.uid)
            .expect("load state")
    }

    fn command(&self, service: &str, client: &Client) -> Command {
        let mut cmd = match client.run_as {
            None => Command::new(client_path()),
            Some((uid, gid)) => {
                let mut c = Command::new("setpriv");
                c.arg(format!("--reuid={uid}"))
                    .arg(format!("--regid={gid}"))
                    .arg("--clear-groups")
                    .arg(client_path());
                c
            }
        };
        cmd.env("LD_PRELOAD", pam_wrapper_lib())
            .env("PAM_WRAPPER", "1")
            .env("PAM_WRAPPER_SERVICE_DIR", self.services_dir())
            .env("PAM_WRAPPER_DEBUGLEVEL", "2")
            .env_remove("PAM_WRAPPER_USE_SYSLOG")
            .env_remove("PAM_WRAPPER_KEEP_DIR")
            .env_remove("PAM_AUTHTOK");
        if let Some(token) = &client.authtok {
            cmd.env("PAM_AUTHTOK", token);
        }
        match &client.conv {
            Conv::Answer(text) => {
                cmd.args(["--answer", text]);
            }
            Conv::Stdin => {
                cmd.arg("--answer-stdin");
            }
            Conv::Big => {
                cmd.arg("--big");
            }
            Conv::Fail => {
                cmd.arg("--conv-error");
            }
            Conv::NoResponse => {
                cmd.arg("--conv-null");
            }
        }
        if let Some(host) = &client.rhost {
            cmd.args(["--rhost", host]);
        }
        cmd.arg(service)
            .arg(client.user.as_deref().unwrap_or(&self.user.name));
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Runs the client once, to completion.
    pub fn run(&self, service: &str, client: &Client) -> Outcome {
        let _start = StartLock::acquire();
        let child = self
            .command(service, client)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn the test client: {e}"));
        let typed = match &client.conv {
            Conv::Answer(text) => vec![text.clone()],
            Conv::Big => vec!["7777777777".to_string()],
            _ => Vec::new(),
        };
        self.finish(child, None, &typed)
    }

    /// Starts the client with `Conv::Stdin` and returns once it shows its prompt (so that
    /// libpam has read its configuration and the module is waiting for the answer).
    pub fn start(&self, service: &str, client: &Client) -> Pending {
        assert!(matches!(client.conv, Conv::Stdin));
        let _start = StartLock::acquire();
        let mut cmd = self.command(service, client);
        cmd.stdin(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn the test client: {e}"));
        let stdin = child.stdin.take().expect("piped stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut early = Vec::new();
        loop {
            let mut line = String::new();
            let n = stdout.read_line(&mut line).expect("read client stdout");
            if n == 0 {
                let mut stderr = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut stderr);
                }
                let _ = child.wait();
                panic!("the client ended before prompting; stdout {early:?}, stderr:\n{stderr}");
            }
            let is_prompt = line.starts_with("prompt ");
            early.push(line);
            if is_prompt {
                break;
            }
        }
        Pending {
            child,
            stdin: Some(stdin),
            stdout,
            early,
        }
    }

    /// Sends `answer` to a started client and collects its outcome.
    pub fn answer(&self, mut pending: Pending, answer: &str) -> Outcome {
        self.send(&mut pending, answer);
        self.collect(pending, answer)
    }

    /// Writes the answer (the fast half of [`Env::answer`], for releasing many at once).
    pub fn send(&self, pending: &mut Pending, answer: &str) {
        let mut stdin = pending.stdin.take().expect("answer sent once");
        // The client may already have failed; its outcome will say why.
        let _ = stdin.write_all(format!("{answer}\n").as_bytes());
    }

    /// Waits for a client whose answer was sent, and checks its output.
    pub fn collect(&self, pending: Pending, answer: &str) -> Outcome {
        let Pending {
            child,
            stdout,
            early,
            ..
        } = pending;
        self.finish(child, Some((stdout, early)), &[answer.to_string()])
    }

    fn finish(
        &self,
        mut child: Child,
        started: Option<(BufReader<ChildStdout>, Vec<String>)>,
        typed: &[String],
    ) -> Outcome {
        let (stdout_reader, early) = match started {
            Some((reader, early)) => (reader, early),
            None => (
                BufReader::new(child.stdout.take().expect("piped stdout")),
                Vec::new(),
            ),
        };
        let mut stderr_pipe = child.stderr.take().expect("piped stderr");
        let out_thread = std::thread::spawn(move || {
            let mut rest = String::new();
            let mut reader = stdout_reader;
            let _ = reader.read_to_string(&mut rest);
            rest
        });
        let err_thread = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr_pipe.read_to_string(&mut text);
            text
        });
        let deadline = Instant::now() + CLIENT_TIMEOUT;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for client") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the test client ran for more than {CLIENT_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        let stdout = early.concat() + &out_thread.join().expect("stdout reader");
        let stderr = err_thread.join().expect("stderr reader");
        assert!(
            status.success(),
            "the test client failed ({status}); stdout:\n{stdout}\nstderr:\n{stderr}"
        );
        assert!(
            stderr.contains("Successfully initialized pam_wrapper"),
            "pam_wrapper did not initialise (is it installed? Debian: libpam-wrapper); \
             stderr:\n{stderr}"
        );
        let mut prompts = Vec::new();
        let mut code = None;
        for line in stdout.lines() {
            if let Some(rest) = line.strip_prefix("prompt ") {
                let text = rest.split_once(": ").map_or("", |(_, t)| t);
                prompts.push(text.to_string());
            } else if let Ok(c) = line.trim().parse::<i32>() {
                code = Some(c);
            } else {
                panic!("unexpected client output line {line:?}\nstderr:\n{stderr}");
            }
        }
        let code = code.unwrap_or_else(|| panic!("no return code; stdout {stdout:?}\n{stderr}"));
        let messages = log_messages(&stderr);
        let syslog = syslog_lines(&messages);
        let outcome = Outcome {
            code,
            prompts,
            syslog,
            stderr,
        };
        self.check_no_leak(&outcome, &messages, typed);
        outcome
    }

    /// No log line and no prompt may contain the secret, a recovery code or what was typed.
    fn check_no_leak(&self, outcome: &Outcome, messages: &[String], typed: &[String]) {
        let forbidden = self.forbidden.borrow();
        let needles = forbidden
            .iter()
            .chain(typed.iter())
            .filter(|t| t.len() >= 6)
            .flat_map(|t| [t.clone(), t.to_lowercase(), t.to_uppercase()]);
        for needle in needles {
            for text in messages.iter().chain(outcome.prompts.iter()) {
                assert!(
                    !text.contains(&needle),
                    "a log line or prompt leaks {needle:?}: {text:?}"
                );
            }
        }
    }
}

/// stderr's lines without pam_wrapper's `PWRAP_DEBUG[<app> (<pid>)] - ` prefix (whose pid
/// could look like a code).
pub fn log_messages(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .map(|l| {
            // A prompt written without a newline (pamtester) may precede the prefix.
            let from = l.find("PWRAP_").map_or(l, |i| &l[i..]);
            match from.split_once("] - ") {
                Some((prefix, msg)) if prefix.starts_with("PWRAP_") => msg.to_string(),
                _ => l.to_string(),
            }
        })
        .collect()
}

/// The `pam_syslog` lines among [`log_messages`], without their `SYSLOG(<priority>): `.
pub fn syslog_lines(messages: &[String]) -> Vec<String> {
    messages
        .iter()
        .filter_map(|m| m.strip_prefix("SYSLOG(")?.split_once("): "))
        .map(|(_, text)| text.to_string())
        .collect()
}

/// A client started with [`Env::start`], waiting at its prompt.
pub struct Pending {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    early: Vec<String>,
}
