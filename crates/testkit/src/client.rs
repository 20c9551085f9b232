//! One run of the PAM test client (`examples/pam_client.rs`): what its conversation does
//! ([`Conv`], [`Client`]) and what the run produced ([`Outcome`]). [`crate::whole_process`]
//! runs it.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use crate::syslog::is_module_line;

/// What the client's conversation does.
#[derive(Clone, Debug)]
pub enum Conv {
    Answer(String),
    /// Answer with one line written later to the client's stdin (see [`crate::whole_process::Env::start`]).
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
    /// Not necessarily UTF-8 (see [`Client::user_bytes`]).
    pub user: Option<OsString>,
    pub rhost: Option<OsString>,
    /// Put into the environment as `PAM_AUTHTOK`, for pam_wrapper's `pam_set_items.so`
    /// (libpam refuses PAM_AUTHTOK from an application: only modules may set it).
    pub authtok: Option<String>,
    /// Run the client as this uid and gid (root drops to it with setpriv), as a host that
    /// is not root (a screen locker) would run.
    pub run_as: Option<(u32, u32)>,
    /// Environment set after pam_wrapper's (an `LD_PRELOAD` here replaces its: name
    /// [`crate::pam_wrapper::pam_wrapper_lib`] in it too), e.g. for nss_wrapper.
    pub env: Vec<(OsString, OsString)>,
}

impl Client {
    pub fn new(conv: Conv) -> Client {
        Client {
            conv,
            user: None,
            rhost: None,
            authtok: None,
            run_as: None,
            env: Vec::new(),
        }
    }
    pub fn answer(text: impl Into<String>) -> Client {
        Client::new(Conv::Answer(text.into()))
    }
    pub fn user(mut self, name: &str) -> Client {
        self.user = Some(name.into());
        self
    }
    pub fn rhost(mut self, host: &str) -> Client {
        self.rhost = Some(host.into());
        self
    }
    pub fn run_as(mut self, uid: u32, gid: u32) -> Client {
        self.run_as = Some((uid, gid));
        self
    }
    /// A user name that need not be UTF-8 (as sshd hands libpam whatever the client sent).
    pub fn user_bytes(mut self, name: &[u8]) -> Client {
        self.user = Some(OsString::from_vec(name.to_vec()));
        self
    }
    /// A remote host that need not be UTF-8.
    pub fn rhost_bytes(mut self, host: &[u8]) -> Client {
        self.rhost = Some(OsString::from_vec(host.to_vec()));
        self
    }
    /// Sets `key` in the client's environment, after pam_wrapper's variables.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Client {
        self.env.push((key.into(), value.into()));
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
            .filter(|l| is_module_line(l))
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
