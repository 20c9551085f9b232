//! Module arguments, parsed strictly: an unknown, repeated or malformed argument is an error
//! (and the module fails closed), never silently ignored. The configuration file
//! ([`crate::config_file`]) goes through the same matcher.

use std::path::PathBuf;
use std::time::Duration;

use crate::decimal::parse_decimal;
use crate::fleet::settings::StoreChoice;
use crate::log_text;
use crate::store::DEFAULT_STATE_DIR;
use crate::userdb::Account;
use crate::verify::{Policy, MAX_LOCKOUT_SECS};

mod deliver;
pub use deliver::{DeliverSettings, DEFAULT_DELIVER_USER};

/// Where the code comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeSource {
    /// Always ask through the conversation.
    Prompt,
    /// Use PAM_AUTHTOK from an earlier module if it looks like a code; otherwise ask.
    TryFirstPass,
    /// Use PAM_AUTHTOK from an earlier module; never ask.
    UseFirstPass,
}

/// Everything the module arguments configure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Path template of the secret file: `%h` home, `%u` user, `%U` uid, `%%` a percent sign.
    /// It must name the user (`%h`, `%u` or `%U`); `%h` first means a file in the user's home,
    /// read as the user; an absolute path is an admin-managed store owned by root.
    pub secret: String,
    /// `state_dir=`: the root-owned directory of per-user state files.
    pub state_dir: PathBuf,
    /// `nullok`: a user with no secret file is let through ([`PAM_IGNORE`](crate::authenticate::Verdict::Ignore)).
    pub nullok: bool,
    /// `window=`, `hotp_lookahead=`, `max_failures=`, `lockout=`: the decision's rules.
    pub policy: Policy,
    /// `prompt=`: what the conversation shows when it asks for the code.
    pub prompt: String,
    /// `min_secret_bits=`: shorter secrets are refused as a bad secret file.
    pub min_secret_bits: usize,
    /// `debug`: one extra line per attempt (never a code or a secret).
    pub debug: bool,
    /// `lockout_message`: tell a locked-out user how long the lock-out lasts. Off by
    /// default: only enrolled users can be locked out, so the message tells whoever made
    /// the failures that the user is enrolled (pam_otp(8)).
    pub lockout_message: bool,
    /// `try_first_pass` / `use_first_pass`: where the code comes from.
    pub code_source: CodeSource,
    /// `lock_timeout=`: longest wait for a user's state lock before failing closed.
    pub lock_timeout: Duration,
    /// `store=` and the `redis_*`/`fail_mode=` settings: which store keeps the state.
    pub store: StoreChoice,
    /// `config=`: the configuration file named on the module line (`None`: the default,
    /// [`crate::config_file::DEFAULT_PATH`], if it exists).
    pub config_file: Option<PathBuf>,
    /// `deliver_*`: how codes are sent out of band.
    pub deliver: DeliverSettings,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            secret: "%h/.otp".into(),
            state_dir: PathBuf::from(DEFAULT_STATE_DIR),
            nullok: false,
            policy: Policy::default(),
            prompt: "One-time code: ".into(),
            min_secret_bits: 128,
            debug: false,
            lockout_message: false,
            code_source: CodeSource::Prompt,
            lock_timeout: Duration::from_secs(5),
            store: StoreChoice::File,
            config_file: None,
            deliver: DeliverSettings::default(),
        }
    }
}

/// A rejected argument, with the argument's name (never its whole value) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgError {
    /// The argument's name as written (escaped for a log line).
    pub arg: String,
    /// What is wrong with it.
    pub why: &'static str,
}

impl std::fmt::Display for ArgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "argument '{}': {}", self.arg, self.why)
    }
}

impl std::error::Error for ArgError {}

fn number<T: std::str::FromStr + PartialOrd>(value: &str, min: T, max: T) -> Option<T> {
    parse_decimal(value).filter(|v| *v >= min && *v <= max)
}

/// Whether a secret path template only uses known escapes and expands to an absolute path.
fn valid_template(template: &str) -> bool {
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        if c == '%' && !matches!(chars.next(), Some('h' | 'u' | 'U' | '%')) {
            return false;
        }
    }
    (template.starts_with('/') || template.starts_with("%h"))
        && !template.chars().any(char::is_control)
}

/// Whether a (valid) template names a different file for each user: it uses `%h`, `%u` or
/// `%U` (`%%u` is a literal percent sign and a `u`). A fixed path would give every user the
/// same secret and the same replay history's worth of codes, and would let `pam-otp` run as
/// root be pointed at any root file (`--secret /etc/shadow`).
fn names_the_user(template: &str) -> bool {
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        if c == '%' && matches!(chars.next(), Some('h' | 'u' | 'U')) {
            return true;
        }
    }
    false
}

/// Where a setting is read from: the matcher is the same for both, so the module line and
/// the configuration file cannot drift apart; only a few keys differ (`config=` only on the
/// module line, `redis_password` only in a file that only root can read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// The module's line in a PAM service file (world-readable).
    Args,
    /// The configuration file; `private`: readable by its owner only.
    File {
        /// No group or other permission bits.
        private: bool,
    },
}

/// The settings of every source read so far, later sources overriding earlier ones.
#[derive(Debug, Default)]
pub(crate) struct Builder {
    /// Everything but the store.
    pub(crate) config: Config,
    /// `store=`, `fail_mode=` and the `redis_*` keys, checked together at the end.
    pub(crate) store: crate::config_file::keys::StoreDraft,
}

/// One source (the module line or the file): each key once, then applied over `b`.
pub(crate) struct Source<'b> {
    b: &'b mut Builder,
    place: Place,
    seen: Vec<String>,
}

impl<'b> Source<'b> {
    pub(crate) fn new(b: &'b mut Builder, place: Place) -> Source<'b> {
        Source {
            b,
            place,
            seen: Vec::new(),
        }
    }

    /// Applies `name` (`=value`, if any); the error says why, never with the value.
    pub(crate) fn apply(&mut self, name: &str, value: Option<&str>) -> Result<(), &'static str> {
        if self.seen.iter().any(|s| s == name) {
            return Err("given more than once");
        }
        let r = apply_one(self.b, &self.seen, self.place, name, value);
        self.seen.push(name.to_string());
        r
    }

    /// The checks that need the whole source (keys that exclude each other).
    pub(crate) fn finish(self) -> Result<(), (String, &'static str)> {
        self.b.store.end_source(&self.seen)
    }
}

/// Parses the module arguments from a PAM stack line alone (no configuration file; a
/// `config=` argument is accepted and only recorded).
pub fn parse<'a>(args: impl IntoIterator<Item = &'a [u8]>) -> Result<Config, ArgError> {
    let mut b = Builder::default();
    apply_args(&mut b, args)?;
    b.finish().map_err(|(arg, why)| ArgError { arg, why })
}

/// Applies the module arguments over `b`.
pub(crate) fn apply_args<'a>(
    b: &mut Builder,
    args: impl IntoIterator<Item = &'a [u8]>,
) -> Result<(), ArgError> {
    let mut source = Source::new(b, Place::Args);
    for raw in args {
        let Ok(arg) = std::str::from_utf8(raw) else {
            let name = raw.split(|b| *b == b'=').next().unwrap_or(raw);
            return Err(ArgError {
                arg: log_text::escape(name),
                why: "is not UTF-8",
            });
        };
        let (name, value) = match arg.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (arg, None),
        };
        source.apply(name, value).map_err(|why| ArgError {
            arg: log_text::escape(name),
            why,
        })?;
    }
    source.finish().map_err(|(arg, why)| ArgError { arg, why })
}

impl Builder {
    /// The settings of every source: the store's settings checked together.
    pub(crate) fn finish(mut self) -> Result<Config, (String, &'static str)> {
        self.config.store = self.store.finish()?;
        Ok(self.config)
    }
}

/// The one matcher of settings, for the module line and the configuration file alike.
fn apply_one<'v>(
    b: &mut Builder,
    seen: &[String],
    place: Place,
    name: &str,
    value: Option<&'v str>,
) -> Result<(), &'static str> {
    let config = &mut b.config;
    let needs = |v: Option<&'v str>| v.ok_or("needs a value (name=value)");
    let flag = |v: Option<&str>| match v {
        None => Ok(true),
        Some(_) => Err("takes no value"),
    };
    match name {
        "secret" => {
            let v = needs(value)?;
            if !valid_template(v) {
                return Err("must be an absolute path or start with %h, using only %h %u %U %%");
            }
            if !names_the_user(v) {
                return Err("must contain %u, %U or %h, so that each user has a file of their own");
            }
            config.secret = v.to_string();
        }
        "state_dir" => {
            let v = needs(value)?;
            if !v.starts_with('/') || v.chars().any(char::is_control) {
                return Err("must be an absolute path");
            }
            config.state_dir = PathBuf::from(v);
        }
        "nullok" => config.nullok = flag(value)?,
        "debug" => config.debug = flag(value)?,
        "lockout_message" => config.lockout_message = flag(value)?,
        "try_first_pass" | "use_first_pass" => {
            flag(value)?;
            if seen
                .iter()
                .any(|s| s == "try_first_pass" || s == "use_first_pass")
            {
                return Err("try_first_pass and use_first_pass exclude each other");
            }
            config.code_source = if name == "try_first_pass" {
                CodeSource::TryFirstPass
            } else {
                CodeSource::UseFirstPass
            };
        }
        "window" => {
            config.policy.window = number(needs(value)?, 0, 10).ok_or("must be 0 to 10 steps")?;
        }
        "hotp_lookahead" => {
            config.policy.hotp_lookahead = number(needs(value)?, 0, 20).ok_or("must be 0 to 20")?;
        }
        "max_failures" => {
            config.policy.max_failures = number(needs(value)?, 1, 100).ok_or("must be 1 to 100")?;
        }
        "lockout" => {
            config.policy.lockout_secs =
                number(needs(value)?, 1, MAX_LOCKOUT_SECS).ok_or("must be 1 to 3600 seconds")?;
        }
        "min_secret_bits" => {
            config.min_secret_bits = number(needs(value)?, 80, 1024).ok_or("must be 80 to 1024")?;
        }
        "lock_timeout" => {
            let secs: u64 = number(needs(value)?, 1, 60).ok_or("must be 1 to 60 seconds")?;
            config.lock_timeout = Duration::from_secs(secs);
        }
        "prompt" => {
            let v = needs(value)?;
            if v.is_empty() || v.len() > 200 || v.chars().any(char::is_control) {
                return Err("must be 1 to 200 printable characters");
            }
            config.prompt = v.to_string();
        }
        "config" => {
            let v = needs(value)?;
            if place != Place::Args {
                return Err("is only a module argument (it names this file)");
            }
            if !v.starts_with('/') || v.chars().any(char::is_control) {
                return Err("must be an absolute path");
            }
            config.config_file = Some(PathBuf::from(v));
        }
        _ if deliver::apply(&mut config.deliver, name, value)? => {}
        _ => return b.store.apply(place, name, value),
    }
    Ok(())
}

impl Config {
    /// Whether the secret file lives in the user's home and belongs to the user (read with
    /// the user's identity), as opposed to an admin-managed store owned by root.
    pub fn secret_is_users(&self) -> bool {
        self.secret.starts_with("%h")
    }

    /// The directory that holds every user's secret file, or their directories: the user's
    /// home for a `%h` template, else the deepest directory the template names before its
    /// first user-dependent part (`/etc/pam_otp/users` for `/etc/pam_otp/users/%u`). When the
    /// secret file's directory is missing, the user is "not enrolled" only if this one exists;
    /// if it does not (a home or store that is not mounted), nobody can be told apart.
    pub fn secret_base(&self, account: &Account) -> PathBuf {
        if self.secret_is_users() {
            return account.home.clone();
        }
        let mut fixed = String::new();
        let mut chars = self.secret.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '%' {
                if chars.peek() != Some(&'%') {
                    break;
                }
                chars.next();
            }
            fixed.push(c);
        }
        match fixed.rfind('/') {
            Some(0) | None => PathBuf::from("/"),
            Some(i) => PathBuf::from(&fixed[..i]),
        }
    }

    /// The secret file's path for `account`. `None` if the expansion is not a safe path
    /// (a relative home directory, or a `..` component).
    pub fn secret_path(&self, account: &Account) -> Option<PathBuf> {
        let mut out = String::new();
        let mut chars = self.secret.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            match chars.next()? {
                'h' => out.push_str(account.home.to_str()?),
                'u' => out.push_str(&account.name),
                'U' => out.push_str(&account.uid.to_string()),
                '%' => out.push('%'),
                _ => return None,
            }
        }
        let path = PathBuf::from(out);
        let safe = path.is_absolute()
            && !path
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir));
        safe.then_some(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Config, ArgError> {
        parse(args.iter().map(|a| a.as_bytes()))
    }

    fn account() -> Account {
        Account {
            name: "alice".into(),
            uid: 1001,
            gid: 1001,
            home: "/home/alice".into(),
        }
    }

    #[test]
    fn defaults() {
        let c = p(&[]).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(
            c.secret_path(&account()).unwrap(),
            PathBuf::from("/home/alice/.otp")
        );
        assert!(c.secret_is_users());
    }

    #[test]
    fn every_argument_is_read() {
        let c = p(&[
            "secret=/etc/otp/%u-%U.%%",
            "state_dir=/run/otp",
            "nullok",
            "debug",
            "lockout_message",
            "use_first_pass",
            "window=3",
            "hotp_lookahead=7",
            "max_failures=9",
            "lockout=120",
            "min_secret_bits=80",
            "lock_timeout=2",
            "prompt=Your code please: ",
        ])
        .unwrap();
        assert_eq!(
            c.secret_path(&account()).unwrap(),
            PathBuf::from("/etc/otp/alice-1001.%")
        );
        assert!(!c.secret_is_users());
        assert_eq!(c.state_dir, PathBuf::from("/run/otp"));
        assert!(c.nullok && c.debug && c.lockout_message);
        assert_eq!(c.code_source, CodeSource::UseFirstPass);
        assert_eq!(
            c.policy,
            Policy {
                window: 3,
                hotp_lookahead: 7,
                max_failures: 9,
                lockout_secs: 120
            }
        );
        assert_eq!(c.min_secret_bits, 80);
        assert_eq!(c.lock_timeout, Duration::from_secs(2));
        assert_eq!(c.prompt, "Your code please: ");
        assert_eq!(
            p(&["try_first_pass"]).unwrap().code_source,
            CodeSource::TryFirstPass
        );
    }

    #[test]
    fn typos_and_bad_values_are_errors() {
        for bad in [
            "nulok",
            "window=-1",
            "window=11",
            "window=",
            "window",
            "window=0x1",
            "max_failures=0",
            "lockout=3601",
            "min_secret_bits=64",
            "secret=relative/path",
            "secret=/x/%z",
            "secret=~/.otp",
            "secret=/etc/shadow",
            "secret=/etc/otp/shared%%u",
            "state_dir=var/lib",
            "nullok=yes",
            "prompt=",
            "lock_timeout=0",
            "debug=1",
        ] {
            assert!(p(&[bad]).is_err(), "{bad} should be rejected");
        }
        assert_eq!(
            p(&["nullok", "nullok"]).unwrap_err().why,
            "given more than once"
        );
        assert!(p(&["try_first_pass", "use_first_pass"]).is_err());
        assert!(parse([&b"\xff"[..]]).is_err());
    }

    #[test]
    fn a_template_must_name_the_user() {
        for good in [
            "secret=%h/.otp",
            "secret=/etc/otp/%u",
            "secret=/etc/otp/%U.otp",
        ] {
            assert!(p(&[good]).is_ok(), "{good}");
        }
        for fixed in [
            "secret=/etc/otp/shared",
            "secret=/etc/otp/%%u",
            "secret=/x/%%h/%%",
        ] {
            let e = p(&[fixed]).unwrap_err();
            assert_eq!(e.arg, "secret");
            assert!(e.why.contains("%u, %U or %h"), "{fixed}: {e}");
        }
    }

    #[test]
    fn errors_name_the_argument_safely() {
        let e = p(&["bogus\u{1b}[31m=1"]).unwrap_err();
        assert_eq!(e.arg, r#""bogus\x1b[31m""#);
        assert_eq!(
            e.to_string(),
            r#"argument '"bogus\x1b[31m"': unknown argument"#
        );
        // Not UTF-8: the name before `=` only, escaped.
        let e = parse([&b"x\xff=secret"[..]]).unwrap_err();
        assert_eq!(e.arg, r#""x\xff""#);
    }

    #[test]
    fn the_secret_base_is_the_home_or_the_store() {
        let base = |t: &str| p(&[t]).unwrap().secret_base(&account());
        assert_eq!(
            p(&[]).unwrap().secret_base(&account()),
            PathBuf::from("/home/alice")
        );
        assert_eq!(base("secret=%h/.config/otp"), PathBuf::from("/home/alice"));
        assert_eq!(
            base("secret=/etc/pam_otp/users/%u"),
            PathBuf::from("/etc/pam_otp/users")
        );
        assert_eq!(
            base("secret=/etc/pam_otp/%u/otp"),
            PathBuf::from("/etc/pam_otp")
        );
        assert_eq!(base("secret=/srv/otp-%U"), PathBuf::from("/srv"));
        assert_eq!(base("secret=/%u"), PathBuf::from("/"));
        assert_eq!(base("secret=/etc/100%%/%u"), PathBuf::from("/etc/100%"));
    }

    #[test]
    fn unsafe_expansions_are_refused() {
        let c = p(&["secret=/etc/otp/%u"]).unwrap();
        let mut a = account();
        a.name = "..".into();
        assert_eq!(c.secret_path(&a), None);
        let home = p(&[]).unwrap();
        a.home = "relative".into();
        assert_eq!(home.secret_path(&a), None);
    }
}
