//! What every CLI test needs: a fake home, running `pam-otp` with input, asserting on its
//! exit and message, codes from oathtool (the test kit's), and one login through the
//! module's decision path (with the test kit's scripted host).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::SystemTime;

use pam_otp_core::authenticate::{authenticate, Verdict};
use pam_otp_core::secret_file::{encode_base32, SecretFile};
pub use pam_otp_testkit::codes::oathtool;
use pam_otp_testkit::users::current_user;
use pam_otp_testkit::{ScriptedHost, TestDir};

/// A fake home directory (a private test directory, removed on drop) with the state directory
/// inside it: every path `pam-otp` touches is redirected here.
pub struct Home(TestDir);

impl Home {
    pub fn new() -> Home {
        Home(TestDir::new())
    }
    /// The home directory itself.
    pub fn root(&self) -> &Path {
        self.0.path()
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.root().join(name)
    }
    pub fn otp(&self) -> PathBuf {
        self.path(".otp")
    }
    pub fn state(&self) -> PathBuf {
        self.path("state")
    }
    /// `--home HOME --state-dir HOME/state`, then `args`.
    pub fn cli(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_pam-otp"));
        c.arg("--home")
            .arg(self.root())
            .arg("--state-dir")
            .arg(self.state())
            .args(args)
            .env_remove("PAM_OTP_SECRET")
            .env_remove("PAM_OTP_STATE_DIR")
            .env_remove("PAM_OTP_MIN_SECRET_BITS");
        // Under `sudo cargo test`, root without --user would be told to say whom it means.
        for name in ["SUDO_USER", "SUDO_UID", "DOAS_USER", "PKEXEC_UID"] {
            c.env_remove(name);
        }
        c
    }
    pub fn run(&self, args: &[&str], stdin: &str) -> Output {
        run_with_input(self.cli(args), stdin)
    }
}

pub fn run_with_input(mut cmd: Command, stdin: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run pam-otp");
    let mut input = child.stdin.take().unwrap();
    // The command may exit before reading; a broken pipe here is not the test's concern.
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    child.wait_with_output().unwrap()
}

/// [`run_with_input`] for a command whose program is a copy this test binary just wrote (to
/// run it as another user): a child that another test thread forked while the copy was open
/// for writing holds it until that child execs, and an exec meanwhile fails with "Text file
/// busy". Such a run is retried; any other outcome is returned.
pub fn run_copied(make: impl Fn() -> Command, stdin: &str) -> Output {
    for _ in 0..100 {
        let out = run_with_input(make(), stdin);
        if !String::from_utf8_lossy(&out.stderr).contains("Text file busy") {
            return out;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("the copied program stayed busy");
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts success and returns stdout.
#[track_caller]
pub fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "pam-otp failed ({:?})\nstdout:\n{}\nstderr:\n{}",
        o.status,
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

/// Asserts failure with `code`, a "pam-otp: " sentence on stderr containing `needle`.
#[track_caller]
pub fn fails(o: Output, code: i32, needle: &str) -> String {
    let err = stderr(&o);
    assert_eq!(
        o.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{err}",
        stdout(&o)
    );
    assert!(err.contains(needle), "stderr lacks {needle:?}:\n{err}");
    if code == 1 {
        // A prompt left unanswered on the same line may precede the message.
        let line = err.lines().last().unwrap();
        let at = line
            .find("pam-otp: ")
            .unwrap_or_else(|| panic!("no message in {err}"));
        let line = &line[at..];
        assert!(line.ends_with('.'), "not a sentence: {line}");
    }
    err
}

/// `pam-otp check ARGS`, with nothing on stdin.
pub fn check(args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pam-otp"));
    c.arg("check").args(args);
    run_with_input(c, "")
}

/// `pam-otp check --root ROOT`: the check of a fixture tree.
pub fn check_root(root: &Path) -> Output {
    check(&["--root", root.to_str().unwrap()])
}

/// Copies the tree `from` (a fixture) to `to`.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// The finding lines (LOCKOUT, BYPASS, note) in `pam-otp check` output, each with the fix
/// line that must follow it.
#[track_caller]
pub fn findings_and_fixes(out: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = out.lines().collect();
    let mut found = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if l.starts_with("LOCKOUT") || l.starts_with("BYPASS") || l.starts_with("note") {
            let fix = lines
                .get(i + 1)
                .filter(|f| f.trim_start().starts_with("fix: "))
                .unwrap_or_else(|| panic!("no fix after {l}\n{out}"));
            found.push((l.to_string(), fix.to_string()));
        }
    }
    found
}

pub fn secret_of(path: &Path) -> SecretFile {
    SecretFile::parse(&std::fs::read(path).unwrap()).unwrap()
}

pub fn b32(secret: &SecretFile) -> String {
    encode_base32(&secret.key).to_string()
}

/// The user running the tests (and pam-otp).
pub fn me() -> String {
    current_user().name
}

/// One login through the module's decision path with the secret at `secret` (an absolute
/// path: a store owned by the module's user, who is also the one running pam-otp here).
///
/// The module takes only templates that name the user (`%u`), so the file is given as
/// `DIR/%u`: for the call it is renamed to `DIR/<user>` (same inode, mode and owner), then
/// back.
pub fn login(secret: &Path, state: &Path, typed: &str, extra: &[&str]) -> Verdict {
    let user = me();
    let dir = secret.parent().unwrap();
    let as_user = dir.join(&user);
    let moved = secret != as_user && secret.symlink_metadata().is_ok();
    if moved {
        assert!(!as_user.exists(), "{} is in the way", as_user.display());
        std::fs::rename(secret, &as_user).unwrap();
    }
    let verdict = login_as_template(&format!("{}/%u", dir.display()), state, typed, extra);
    if moved {
        std::fs::rename(&as_user, secret).unwrap();
    }
    verdict
}

/// One login through the module's decision path with the secret template `template`.
pub fn login_as_template(template: &str, state: &Path, typed: &str, extra: &[&str]) -> Verdict {
    let mut args = vec![
        format!("secret={template}"),
        format!("state_dir={}", state.display()),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let mut host = ScriptedHost::new(&me()).answering_every_prompt(typed.as_bytes());
    let verdict = authenticate(
        &mut host,
        args.iter().map(|a| a.as_bytes()),
        SystemTime::now(),
    );
    assert_eq!(host.logs.len(), 1, "{:?}", host.logs);
    verdict
}

pub fn recovery_codes(out: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| {
            let l = l.trim();
            let (n, code) = l.split_once(". ")?;
            (n.parse::<u32>().is_ok() && code.len() == 14).then(|| code.to_string())
        })
        .collect()
}

pub fn uri_line(out: &str) -> String {
    out.lines()
        .map(str::trim)
        .find(|l| l.starts_with("otpauth://"))
        .expect("an otpauth:// line")
        .to_string()
}

/// A fixture tree or file under `crates/cli/tests/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}
