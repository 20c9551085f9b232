//! Whole-process runs: the PAM test client (this kit's `examples/pam_client.rs`) started under
//! pam_wrapper, which serves the service files from the test's directory and prints every
//! `pam_syslog` line on stderr, so that tests assert on the syslog reason words.
//!
//! Each test gets an [`Env`]: a private directory holding its PAM service files, the secret
//! file (`secret=<dir>/secrets/%u.otp`, an admin store owned by the module's user) and the
//! state directory. Every run also checks that no captured log line or prompt contains the
//! secret, a recovery code or what was typed (see [`Env::forbid`]).

use std::cell::RefCell;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use pam_otp_core::state::State;
use pam_otp_core::store::FileStore;
use pam_otp_core::testing::{write_file, TestDir};

use crate::built::{client_path, module_path};
use crate::client::{Client, Conv, Outcome};
use crate::codes::Key;
use crate::pam_wrapper::{wrap, StartLock};
use crate::syslog::{log_messages, syslog_lines};
use crate::tools::wait_at_most;
use crate::users::{current_user, TestUser};

/// libpam never passes PAM_IGNORE on to the application (a stack where every module
/// ignores fails with PAM_PERM_DENIED). With this control on the module's line, followed by
/// `pam_permit.so`, `pam_authenticate` succeeds exactly when the module returned PAM_IGNORE:
/// its success turns into a failure (`bad`), any failure ends the stack with its own code.
pub const IGNORE_PROBE_CONTROL: &str = "[success=bad ignore=ignore default=die]";

/// How long one client may run before the test gives up on it.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

/// An enrolled user (a 160-bit SHA-1 TOTP secret, written straight into the store) with the
/// module alone in service `otp`, with `extra_args`.
pub fn enrolled(extra_args: &str) -> (Env, Key) {
    let env = Env::new();
    let key = Key::random(20);
    env.write_secret(&key, "");
    env.otp_service(extra_args);
    (env, key)
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
        dir.private_dir("services");
        dir.private_dir("secrets");
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

    /// Where `pam-otp reset` and `pam-otp enroll --force` keep the backup of the current
    /// user's secret file (beside it, in this admin store).
    pub fn secret_backup(&self) -> PathBuf {
        self.secrets_dir()
            .join(format!(".{}.otp.bak", self.user.name))
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir().join("state")
    }

    /// The current user's state file.
    pub fn state_file(&self) -> PathBuf {
        self.state_dir().join(self.user.uid.to_string())
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

    /// Runs the built `pam-otp` with this test's `--secret` and `--state-dir` (the module's
    /// own paths), then `args`, with `stdin` as its input.
    pub fn cli(&self, args: &[&str], stdin: &str) -> std::process::Output {
        let mut child = Command::new(crate::built::cli_path())
            .arg("--secret")
            .arg(format!("{}/%u.otp", self.secrets_dir().display()))
            .arg("--state-dir")
            .arg(self.state_dir())
            .args(args)
            .env_remove("PAM_OTP_SECRET")
            .env_remove("PAM_OTP_STATE_DIR")
            .env_remove("PAM_OTP_MIN_SECRET_BITS")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("run pam-otp: {e}"));
        let mut input = child.stdin.take().expect("piped stdin");
        // The command may exit before reading; a broken pipe is not the test's concern.
        let _ = input.write_all(stdin.as_bytes());
        drop(input);
        child.wait_with_output().expect("wait for pam-otp")
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
        wrap(&mut cmd, &self.services_dir()).env_remove("PAM_AUTHTOK");
        cmd.envs(client.env.iter().map(|(k, v)| (k, v)));
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
            cmd.arg("--rhost").arg(host);
        }
        cmd.arg(service).arg(
            client
                .user
                .as_deref()
                .unwrap_or(OsStr::new(&self.user.name)),
        );
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

    /// Answers the prompt a started client shows with `line`, and waits for its next
    /// prompt (for conversations of more than one question); returns that prompt's text.
    pub fn answer_and_wait(&self, pending: &mut Pending, line: &str) -> String {
        let stdin = pending.stdin.as_mut().expect("the client's stdin is open");
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .expect("write to the client");
        stdin.flush().expect("flush the client's stdin");
        loop {
            let mut text = String::new();
            let n = pending
                .stdout
                .read_line(&mut text)
                .expect("read client stdout");
            assert!(
                n > 0,
                "the client ended before its next prompt: {:?}",
                pending.early
            );
            let prompt = text.strip_prefix("prompt ").map(|r| {
                r.split_once(": ")
                    .map_or("", |(_, t)| t)
                    .trim_end()
                    .to_string()
            });
            pending.early.push(text);
            if let Some(p) = prompt {
                return p;
            }
        }
    }

    /// The prompts a started client has shown so far.
    pub fn prompts_so_far(&self, pending: &Pending) -> Vec<String> {
        pending
            .early
            .iter()
            .filter_map(|l| l.strip_prefix("prompt "))
            .map(|r| {
                r.split_once(": ")
                    .map_or("", |(_, t)| t)
                    .trim_end()
                    .to_string()
            })
            .collect()
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
        let status = wait_at_most(&mut child, CLIENT_TIMEOUT)
            .unwrap_or_else(|| panic!("the test client ran for more than {CLIENT_TIMEOUT:?}"));
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

/// A client started with [`Env::start`], waiting at its prompt.
pub struct Pending {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    early: Vec<String>,
}
