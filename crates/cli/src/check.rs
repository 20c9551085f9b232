//! `pam-otp check`: reads the PAM services and sshd's configuration and reports what locks
//! people out or lets them in without a code, each with its fix.
//!
//! It reads; it never changes anything. Exit status 0 when nothing would lock anyone out
//! or skip the code (notes may still be printed), 1 when something would.

mod flow;
mod pam;
mod sshd;

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use pam_otp_core::args::{self, Config};

use crate::cli_args::{CheckArgs, ModuleOpts};
use crate::error::{fail, Result};
use flow::{Ret, Scenario};
use pam::{Flat, Place};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Logins that should work are refused.
    Lockout,
    /// Logins that should need a code do not.
    Bypass,
    /// Worth knowing; nobody is locked out or let through by it alone.
    Note,
}

impl Severity {
    fn label(self) -> &'static str {
        match self {
            Severity::Lockout => "LOCKOUT",
            Severity::Bypass => "BYPASS ",
            Severity::Note => "note   ",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Finding {
    severity: Severity,
    place: String,
    problem: String,
    fix: String,
}

#[derive(Default)]
struct Report {
    findings: BTreeSet<Finding>,
    ok: Vec<String>,
}

impl Report {
    fn add(&mut self, severity: Severity, place: impl ToString, problem: String, fix: &str) {
        self.findings.insert(Finding {
            severity,
            place: place.to_string(),
            problem,
            fix: fix.to_string(),
        });
    }
}

/// Modules whose `auth` function never returns success (it ignores or denies), so they
/// cannot stand in for pam_otp when it ignores a user without a secret.
const NEVER_SUCCEED: &[&str] = &[
    "pam_deny.so",
    "pam_env.so",
    "pam_faildelay.so",
    "pam_warn.so",
    "pam_echo.so",
    "pam_group.so",
    "pam_motd.so",
    "pam_keyinit.so",
    "pam_mail.so",
    "pam_otp.so",
];

/// PAM services of screen lockers that run as the user, not as root. pam_otp cannot read or
/// save its state there (`state_dir` is root's), so it refuses every enrolled user: such a
/// locker must not reach pam_otp.so. (GNOME's lock screen goes through gdm, light-locker
/// through lightdm, physlock runs as root: those ask for the code like a login does.)
/// The Debian pam-auth-update profile exempts the same list.
pub const LOCKERS: &[&str] = &[
    "xscreensaver",
    "i3lock",
    "swaylock",
    "hyprlock",
    "gtklock",
    "waylock",
    "kde",
    "kscreensaver",
    "gnome-screensaver",
    "mate-screensaver",
    "cinnamon-screensaver",
    "xfce4-screensaver",
    "budgie-screensaver",
    "xlock",
    "vlock",
];

/// Where modules live, under the checked root.
const MODULE_DIRS: &[&str] = &[
    "lib/security",
    "lib64/security",
    "usr/lib/security",
    "usr/lib64/security",
];

pub fn run(_opts: &ModuleOpts, a: &CheckArgs) -> Result<ExitCode> {
    let root = a.root.clone().unwrap_or_else(|| PathBuf::from("/"));
    if !root.is_dir() {
        fail!("--root {} is not a directory.", root.display());
    }
    let pam_dir = a.pam_dir.clone().unwrap_or_else(|| root.join("etc/pam.d"));
    let sshd_config = a
        .sshd_config
        .clone()
        .unwrap_or_else(|| root.join("etc/ssh/sshd_config"));
    let Ok(listing) = std::fs::read_dir(&pam_dir) else {
        fail!(
            "cannot read the PAM service directory {}.",
            pam_dir.display()
        );
    };
    let mut services: Vec<String> = listing
        .filter_map(std::result::Result::ok)
        .filter(|e| e.path().is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.') && !n.ends_with('~') && !n.ends_with(".dpkg-old"))
        .collect();
    services.sort();

    let mut report = Report::default();
    let mut with_otp = Vec::new();
    let mut configs: Vec<(Config, Place)> = Vec::new();
    for service in &services {
        check_other_types(&pam_dir, service, &mut report);
        // Debian's common-* files are included by services; they are checked through them.
        if service.starts_with("common-") {
            continue;
        }
        let mut include_problems = Vec::new();
        let stack = pam::flatten(&pam_dir, service, "auth", &mut |place, p| {
            include_problems.push((place, p))
        });
        let has_otp = stack.iter().any(|f| f.rule.is_otp());
        if has_otp {
            for (place, p) in include_problems {
                report.add(
                    Severity::Lockout,
                    place,
                    format!("{service}: the auth stack {p}; libpam then refuses every login through {service}."),
                    "Fix the include line or create the file.",
                );
            }
            with_otp.push(service.clone());
            check_stack(service, &stack, &root, &mut report, &mut configs);
            if LOCKERS.contains(&service.as_str()) {
                check_locker(service, &stack, &pam_dir, &mut report);
            }
        }
    }

    if with_otp.is_empty() {
        report.add(
            Severity::Bypass,
            pam_dir.display(),
            "pam_otp.so is in no PAM service's auth stack: nobody is asked for a code.".into(),
            "Add 'auth required pam_otp.so' to the services that need a second factor \
             (e.g. /etc/pam.d/sshd, /etc/pam.d/sudo); see the example stacks in pam_otp(8).",
        );
    }
    check_state_dirs(&configs, &root, &mut report);
    let sshd_stack = pam::flatten(&pam_dir, "sshd", "auth", &mut |_, _| {});
    check_sshd(
        &sshd_config,
        &root,
        &pam_dir,
        &with_otp,
        &sshd_stack,
        &mut report,
    );

    print(&pam_dir, &sshd_config, &report);
    let serious = report.findings.iter().any(|f| f.severity != Severity::Note);
    Ok(if serious {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// pam_otp only answers `auth`: in other types it does nothing.
fn check_other_types(dir: &Path, service: &str, report: &mut Report) {
    let path = dir.join(service);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return;
    };
    let (entries, _) = pam::parse(&path, &text);
    for e in entries {
        if let pam::Entry::Rule(r) = e {
            if r.is_otp() && r.kind != "auth" {
                report.add(
                    Severity::Note,
                    &r.place,
                    format!(
                        "pam_otp.so does nothing in the {} stack (it only acts in 'auth').",
                        r.kind
                    ),
                    "Move it to an 'auth' line.",
                );
            }
        }
    }
}

/// Whether a module's auth function can return success.
fn can_succeed(rule: &pam::Rule) -> bool {
    let name = rule.module_name();
    // pam_nologin ignores when there is no nologin file, unless told `successok`.
    let ignoring_nologin = name == "pam_nologin.so" && !rule.args.iter().any(|a| a == "successok");
    !NEVER_SUCCEED.contains(&name) && !ignoring_nologin
}

fn module_installed(module: &str, root: &Path) -> bool {
    if module.starts_with('/') {
        return root.join(module.trim_start_matches('/')).exists();
    }
    let mut dirs: Vec<PathBuf> = MODULE_DIRS.iter().map(|d| root.join(d)).collect();
    // Multiarch directories: /lib/<triplet>/security, /usr/lib/<triplet>/security.
    for base in ["lib", "usr/lib"] {
        if let Ok(entries) = std::fs::read_dir(root.join(base)) {
            dirs.extend(entries.flatten().map(|e| e.path().join("security")));
        }
    }
    dirs.iter().any(|d| d.join(module).exists())
}

fn check_stack(
    service: &str,
    stack: &[Flat],
    root: &Path,
    report: &mut Report,
    configs: &mut Vec<(Config, Place)>,
) {
    for (k, otp) in stack.iter().enumerate() {
        if !otp.rule.is_otp() {
            continue;
        }
        let r = &otp.rule;
        let before = report.findings.len();

        let config = match args::parse(r.args.iter().map(|a| a.as_bytes())) {
            Ok(c) => Some(c),
            Err(e) => {
                report.add(
                    Severity::Lockout,
                    &r.place,
                    format!("{service}: pam_otp.so {e}; the module refuses every login through {service}."),
                    "Correct or remove the argument (see pam_otp(8) for the list).",
                );
                None
            }
        };

        if !module_installed(&r.module, root) {
            if r.dash {
                report.add(
                    Severity::Bypass,
                    &r.place,
                    format!("{service}: {} is not installed, and the '-' before the type makes libpam skip the line silently: no code is asked.", r.module),
                    "Install pam_otp.so (see README), and drop the '-' so a missing module is noticed.",
                );
            } else {
                report.add(
                    Severity::Lockout,
                    &r.place,
                    format!("{service}: {} is not installed: libpam cannot load it and refuses every login through {service}.", r.module),
                    "Install pam_otp.so into the PAM module directory (see README).",
                );
            }
        }

        match r.control.action("success").as_deref() {
            Some("ok") | Some("done") => {}
            None => report.add(
                Severity::Lockout,
                &r.place,
                format!(
                    "{service}: '{}' is not a PAM control keyword; libpam ignores the line.",
                    r.control.shown()
                ),
                "Use 'required'.",
            ),
            _ => {}
        }
        let on_failure = r.control.action("auth_err");
        if matches!(on_failure.as_deref(), Some("ignore") | Some("ok")) {
            let why = match r.control.shown().as_str() {
                "sufficient" => {
                    "'sufficient': a right code alone logs in and a wrong one is ignored"
                        .to_string()
                }
                "optional" => {
                    "'optional': a wrong code is ignored when another module succeeds".to_string()
                }
                other => format!("'{other}': a wrong code is not a failure"),
            };
            report.add(
                Severity::Bypass,
                &r.place,
                format!("{service}: pam_otp.so is {why}, so the code is not a second factor."),
                "Use 'required' (or 'requisite').",
            );
        }

        // Earlier modules whose success ends the stack or jumps over pam_otp.
        for (j, earlier) in stack[..k].iter().enumerate() {
            if k >= earlier.scope_end {
                continue;
            }
            let e = &earlier.rule;
            let skips = match e.control.action("success").as_deref() {
                Some("done") => true,
                Some(n) => n.parse::<usize>().is_ok_and(|n| j + n >= k),
                None => false,
            };
            // pam_rootok: root switching user (su) needs no authentication, by design.
            let intended = matches!(e.module_name(), "pam_deny.so" | "pam_rootok.so");
            // pam_succeed_if on the service name: decided for this service. It never
            // succeeds for the services it does not name, and skipping pam_otp is what a
            // screen locker needs.
            let condition = (e.module_name() == "pam_succeed_if.so")
                .then(|| flow::service_condition(e, service))
                .flatten();
            let never_here = condition == Some(false);
            let locker_exempt = condition == Some(true) && LOCKERS.contains(&service);
            if skips && !intended && !never_here && !locker_exempt {
                report.add(
                    Severity::Bypass,
                    &e.place,
                    format!(
                        "{service}: when {} ('{}') succeeds, the stack {} before pam_otp.so ({}), so no code is asked.",
                        e.module_name(),
                        e.control.shown(),
                        if e.control.action("success").as_deref() == Some("done") { "ends" } else { "jumps" },
                        r.place
                    ),
                    "Put pam_otp.so before that line, or make the line 'required' (Debian: add pam_otp.so after '@include common-auth', not inside common-auth).",
                );
            }
        }

        if let Some(c) = &config {
            if c.nullok {
                let others = stack
                    .iter()
                    .enumerate()
                    .any(|(i, f)| i != k && can_succeed(&f.rule));
                if !others {
                    report.add(
                        Severity::Lockout,
                        &r.place,
                        format!("{service}: pam_otp.so has nullok, but no other auth module can succeed: users without a secret get PAM_IGNORE from every module, and libpam refuses them."),
                        "Enrol everyone and drop nullok, or add a module that succeeds for them after pam_otp.so (for sshd with a key already checked: 'auth required pam_permit.so'; elsewhere '@include common-auth').",
                    );
                }
            }
            if !c.secret_is_users() {
                check_store(service, c, r, root, report);
            }
            configs.push((c.clone(), r.place.clone()));
        }

        if report.findings.len() == before {
            report.ok.push(format!(
                "{service}: asks for a code ({} {} at {})",
                r.control.shown(),
                r.module_name(),
                r.place
            ));
        }
    }
}

/// A screen locker runs as the user, where pam_otp fails closed for every enrolled user: its
/// stack must let a user with the right password in even when pam_otp fails.
fn check_locker(service: &str, stack: &[Flat], pam_dir: &Path, report: &mut Report) {
    let with_password = |otp| Scenario {
        service,
        otp,
        factors: Ret::Success,
    };
    let with_code = flow::can_succeed(stack, &with_password(Ret::Success));
    let without = flow::can_succeed(stack, &with_password(Ret::AuthErr));
    let prefix = format!("{service}: ");
    report.ok.retain(|l| !l.starts_with(&prefix));
    match (with_code, without) {
        (_, Some(true)) => report.ok.push(format!(
            "{service}: screen locker, pam_otp.so skipped (it cannot work in a locker)"
        )),
        (Some(true), Some(false)) => {
            let Some(otp) = stack.iter().find(|f| f.rule.is_otp()) else {
                return;
            };
            let own_file = pam_dir.join(service);
            let fix = if otp.rule.place.file == own_file {
                format!(
                    "Remove the pam_otp.so line from {}; the code is asked where the session is opened (gdm, lightdm, login, sshd).",
                    own_file.display()
                )
            } else {
                format!(
                    "Put 'auth [success=1 default=ignore] pam_succeed_if.so quiet service in {}' directly above that pam_otp.so line (as the Debian pam-auth-update profile does), or give {service} a stack of its own without pam_otp.so instead of including {}.",
                    LOCKERS.join(":"),
                    otp.rule.place.file.file_name().map_or_else(
                        || otp.rule.place.file.display().to_string(),
                        |n| n.to_string_lossy().into_owned()
                    )
                )
            };
            report.add(
                Severity::Lockout,
                &otp.rule.place,
                format!("{service}: {service} is a screen locker and runs as the user, where pam_otp.so cannot read or save its state (state_error): an enrolled user can never unlock the screen."),
                &fix,
            );
        }
        _ => {}
    }
}

/// An admin-managed store: its directory must exist and pass the module's checks.
fn check_store(service: &str, c: &Config, r: &pam::Rule, root: &Path, report: &mut Report) {
    let template = &c.secret;
    let fixed = template.split('%').next().unwrap_or(template);
    let dir = Path::new(fixed.trim_end_matches(|ch| ch != '/').trim_end_matches('/'));
    let on_disk = root.join(dir.to_string_lossy().trim_start_matches('/'));
    let severity = if c.nullok {
        Severity::Bypass
    } else {
        Severity::Lockout
    };
    let consequence = if c.nullok {
        "every user counts as not enrolled and nullok lets them in without a code"
    } else {
        "every user is refused"
    };
    match std::fs::metadata(&on_disk) {
        Err(_) => report.add(
            severity,
            &r.place,
            format!("{service}: the secret store {} does not exist: {consequence}.", dir.display()),
            "Create it (root, mode 0700) and enrol users with 'pam-otp --secret TEMPLATE enroll --user NAME'.",
        ),
        Ok(m) if m.uid() != 0 || m.mode() & 0o022 != 0 => report.add(
            Severity::Lockout,
            &r.place,
            format!("{service}: the secret store {} is not root's or is writable by others: pam_otp refuses every secret in it.", dir.display()),
            "chown root: and chmod 0700 the directory.",
        ),
        Ok(_) => {}
    }
}

fn check_state_dirs(configs: &[(Config, Place)], root: &Path, report: &mut Report) {
    let mut seen = BTreeSet::new();
    for (c, place) in configs {
        if !seen.insert(c.state_dir.clone()) {
            continue;
        }
        let shown = c.state_dir.display();
        let on_disk = root.join(c.state_dir.to_string_lossy().trim_start_matches('/'));
        match std::fs::symlink_metadata(&on_disk) {
            Ok(m) if m.file_type().is_symlink() => report.add(
                Severity::Lockout,
                place,
                format!("the state directory {shown} is a symbolic link: pam_otp refuses to use it and denies every login (state_error)."),
                "Replace it with a real directory owned by root, mode 0700.",
            ),
            Ok(m) if !m.is_dir() => report.add(
                Severity::Lockout,
                place,
                format!("the state directory {shown} is not a directory: every login is denied (state_error)."),
                "Remove it; pam_otp creates the directory on first use.",
            ),
            Ok(m) if m.uid() != 0 => report.add(
                Severity::Lockout,
                place,
                format!("the state directory {shown} is not owned by root: pam_otp denies every login (state_error)."),
                "chown root: the directory (mode 0700).",
            ),
            Ok(m) if m.mode() & 0o022 != 0 => report.add(
                Severity::Lockout,
                place,
                format!("the state directory {shown} is writable by group or others: pam_otp denies every login (state_error)."),
                "chmod 0700 the directory.",
            ),
            Ok(m) if m.mode() & 0o077 != 0 => report.add(
                Severity::Note,
                place,
                format!("the state directory {shown} is readable by others: they can see who failed and when."),
                "chmod 0700 the directory.",
            ),
            Ok(m) if m.mode() & 0o300 != 0o300 => report.add(
                Severity::Lockout,
                place,
                format!("the state directory {shown} lacks owner write or search permission: saving state fails and every login is denied (state_error)."),
                "chmod 0700 the directory.",
            ),
            Ok(_) => {}
            Err(_) => {
                let parent = on_disk.parent().map(Path::to_path_buf).unwrap_or_default();
                if !parent.is_dir() {
                    report.add(
                        Severity::Lockout,
                        place,
                        format!("the state directory {shown} cannot be created (its parent does not exist): every login is denied (state_error)."),
                        "Create it: install -d -m 0700 -o root -g root DIR.",
                    );
                }
            }
        }
    }
}

/// The sshd authentication methods that run the PAM auth stack (with UsePAM yes): for
/// `password`, sshd answers every hidden prompt of the stack with what was typed at its own
/// `password:` prompt.
fn runs_pam(method: &str) -> bool {
    method == "password" || method.starts_with("keyboard-interactive")
}

/// Methods that prove something other than what the PAM stack asks for.
fn other_factor(method: &str) -> bool {
    matches!(method, "publickey" | "hostbased" | "gssapi-with-mic")
}

/// The method lists that `AuthenticationMethods` value `methods` allows (`any`: each
/// enabled method alone) which need nothing beyond the PAM auth stack: every method in
/// them runs it and is enabled.
fn pam_only_lists(methods: &str, password: bool, kbd: bool) -> Vec<String> {
    let enabled = |m: &str| {
        if m == "password" {
            password
        } else {
            kbd
        }
    };
    if methods == "any" {
        return ["password", "keyboard-interactive"]
            .into_iter()
            .filter(|m| enabled(m))
            .map(str::to_string)
            .collect();
    }
    methods
        .split_whitespace()
        .filter(|list| list.split(',').all(|m| runs_pam(m) && enabled(m)))
        .map(str::to_string)
        .collect()
}

const CODE_ALONE_FIX: &str = "Require a key as well: 'AuthenticationMethods publickey,keyboard-interactive' with 'KbdInteractiveAuthentication yes' and 'PasswordAuthentication no'; or, for password and code, put '@include common-auth' above pam_otp.so in /etc/pam.d/sshd.";

fn check_sshd(
    config: &Path,
    root: &Path,
    pam_dir: &Path,
    with_otp: &[String],
    stack: &[Flat],
    report: &mut Report,
) {
    if !config.exists() {
        return;
    }
    let mut problems = Vec::new();
    let settings = sshd::read(config, root, &mut |place, p| problems.push((place, p)));
    for (place, p) in problems {
        report.add(Severity::Note, place, p, "Check the Include lines.");
    }
    let sshd_has_otp = with_otp.iter().any(|s| s == "sshd");
    if !sshd_has_otp {
        if !with_otp.is_empty() {
            report.add(
                Severity::Note,
                pam_dir.join("sshd").display(),
                "sshd's PAM stack does not include pam_otp.so: ssh logins are not asked for a code.".into(),
                "If ssh logins should need a code, add 'auth required pam_otp.so' to /etc/pam.d/sshd.",
            );
        }
        return;
    }
    // Whether someone who has only the code (every password module fails) gets through
    // sshd's auth stack: then a method list without a key is one factor.
    let code_alone = flow::can_succeed(
        stack,
        &Scenario {
            service: "sshd",
            otp: Ret::Success,
            factors: Ret::AuthErr,
        },
    ) == Some(true);
    let here = |s: Option<&sshd::Setting>| {
        s.map_or_else(
            || format!("{} (default)", config.display()),
            |s| s.place.to_string(),
        )
    };
    let value = |keys: &[&str], default: &str| -> (String, String) {
        let s = sshd::global(&settings, keys);
        (
            s.map_or(default.to_string(), |s| s.value.to_ascii_lowercase()),
            here(s),
        )
    };

    let (use_pam, at) = value(&["usepam"], "no");
    if use_pam != "yes" {
        report.add(
            Severity::Bypass,
            at,
            format!("sshd_config: UsePAM {use_pam}: sshd never runs the PAM stack, so ssh logins are not asked for a code."),
            "Set 'UsePAM yes'.",
        );
    }
    let kbd_keys = [
        "kbdinteractiveauthentication",
        "challengeresponseauthentication",
    ];
    let (kbd, kbd_at) = value(&kbd_keys, "yes");
    let (methods, methods_at) = value(&["authenticationmethods"], "any");
    let (pubkey, _) = value(&["pubkeyauthentication"], "yes");
    let (password, password_at) = value(&["passwordauthentication"], "yes");

    let lists: Vec<&str> = methods.split_whitespace().collect();
    let needs_kbd = methods != "any"
        && !lists.is_empty()
        && lists
            .iter()
            .all(|l| l.split(',').any(|m| m.starts_with("keyboard-interactive")));
    if kbd != "yes" {
        if needs_kbd {
            report.add(
                Severity::Lockout,
                kbd_at,
                "sshd_config: KbdInteractiveAuthentication is off, but AuthenticationMethods requires keyboard-interactive: nobody can log in over ssh.".into(),
                "Set 'KbdInteractiveAuthentication yes'.",
            );
        } else {
            report.add(
                Severity::Bypass,
                kbd_at,
                "sshd_config: KbdInteractiveAuthentication is off: the code prompt cannot be shown, and ssh logins by other methods skip it.".into(),
                "Set 'KbdInteractiveAuthentication yes'.",
            );
        }
    }
    let code_alone = code_alone && use_pam == "yes";
    let global_pam_only = pam_only_lists(&methods, password == "yes", kbd == "yes");
    if code_alone {
        report_code_alone(&methods, &global_pam_only, &methods_at, report);
    }
    if methods == "any" {
        if pubkey == "yes" {
            report.add(
                Severity::Bypass,
                &methods_at,
                "sshd_config: no AuthenticationMethods, so a public key alone logs in (publickey never runs the PAM auth stack): no code is asked.".into(),
                if code_alone {
                    "Set 'AuthenticationMethods publickey,keyboard-interactive' (key and code)."
                } else {
                    "Set 'AuthenticationMethods publickey,keyboard-interactive' (key and code) or 'keyboard-interactive' (PAM password and code)."
                },
            );
        }
        if password == "yes" && use_pam == "yes" && !code_alone {
            report.add(
                Severity::Note,
                password_at,
                "sshd_config: PasswordAuthentication yes: sshd answers pam_otp's prompt with the password, so that method always fails and counts towards the lock-out.".into(),
                "Set 'PasswordAuthentication no' and use keyboard-interactive for passwords.",
            );
        }
    } else {
        check_method_lists(&lists, &methods_at, code_alone, report);
    }

    // Match blocks: each one's own settings, falling back to the global ones.
    let mut blocks: Vec<&Place> = Vec::new();
    for s in &settings {
        if let Some(m) = &s.in_match {
            if !blocks.contains(&m) {
                blocks.push(m);
            }
        }
    }
    for block in blocks {
        let local = |keys: &[&str]| {
            settings
                .iter()
                .find(|s| s.in_match.as_ref() == Some(block) && keys.contains(&s.key.as_str()))
        };
        let own_methods = local(&["authenticationmethods"]);
        if let Some(s) = own_methods {
            let lists: Vec<&str> = s.value.split_whitespace().collect();
            if s.value.eq_ignore_ascii_case("any") {
                report.add(
                    Severity::Bypass,
                    &s.place,
                    "sshd_config: 'AuthenticationMethods any' in a Match block: matching connections log in with a key alone, without a code.".into(),
                    "Require keyboard-interactive in that Match block too, or remove the line.",
                );
            } else {
                check_method_lists(&lists, &s.place.to_string(), code_alone, report);
            }
        }
        let own_kbd = local(&kbd_keys);
        if let Some(s) = own_kbd.filter(|s| !s.value.eq_ignore_ascii_case("yes")) {
            report.add(
                Severity::Bypass,
                &s.place,
                "sshd_config: a Match block turns keyboard-interactive off: matching connections are not asked for a code (or cannot log in).".into(),
                "Remove the line from the Match block.",
            );
        }
        if !code_alone {
            continue;
        }
        let own_password = local(&["passwordauthentication"]);
        let yes = |s: Option<&sshd::Setting>, global: &str| {
            s.map_or(global == "yes", |s| s.value.eq_ignore_ascii_case("yes"))
        };
        let block_methods = own_methods.map_or(methods.clone(), |s| s.value.to_ascii_lowercase());
        let block_pam_only = pam_only_lists(
            &block_methods,
            yes(own_password, &password),
            yes(own_kbd, &kbd),
        );
        // What this block opens beyond the global settings, at the line that opens it.
        let new: Vec<String> = block_pam_only
            .into_iter()
            .filter(|l| own_methods.is_some() || !global_pam_only.contains(l))
            .collect();
        let at = own_methods
            .or(own_password.filter(|s| s.value.eq_ignore_ascii_case("yes")))
            .or(own_kbd)
            .map_or_else(|| block.to_string(), |s| s.place.to_string());
        report_code_alone(&block_methods, &new, &at, report);
    }
}

/// BYPASS for method lists that reach only sshd's PAM stack, when that stack asks for
/// nothing but the code.
fn report_code_alone(methods: &str, pam_only: &[String], at: &str, report: &mut Report) {
    if pam_only.is_empty() {
        return;
    }
    let how = if methods == "any" {
        format!(
            "no AuthenticationMethods, so {} alone can log in",
            pam_only.join(" or ")
        )
    } else {
        format!(
            "AuthenticationMethods allows {}",
            pam_only
                .iter()
                .map(|l| format!("'{l}'"))
                .collect::<Vec<_>>()
                .join(" and ")
        )
    };
    let password = if pam_only
        .iter()
        .any(|l| l.split(',').any(|m| m == "password"))
    {
        " (with password, sshd hands what was typed at its password prompt to pam_otp)"
    } else {
        ""
    };
    report.add(
        Severity::Bypass,
        at,
        format!("sshd_config: {how}, and sshd's PAM stack asks for nothing but the code{password}: the one-time code alone logs in, one factor instead of two."),
        CODE_ALONE_FIX,
    );
}

/// Findings for the method lists of one `AuthenticationMethods` line. `code_alone`: sshd's
/// PAM stack asks for the code only (lists of PAM methods alone are reported by
/// [`report_code_alone`]).
fn check_method_lists(lists: &[&str], at: &str, code_alone: bool, report: &mut Report) {
    for list in lists {
        let methods: Vec<&str> = list.split(',').collect();
        if methods
            .iter()
            .any(|m| m.starts_with("keyboard-interactive"))
        {
            continue;
        }
        if !methods.contains(&"password") {
            report.add(
                Severity::Bypass,
                at,
                format!("sshd_config: AuthenticationMethods allows '{list}', which never runs keyboard-interactive: those logins skip the code."),
                "Add keyboard-interactive to that list (e.g. 'publickey,keyboard-interactive') or remove it.",
            );
            continue;
        }
        if code_alone {
            if methods.iter().any(|m| other_factor(m)) {
                report.add(
                    Severity::Note,
                    at,
                    format!("sshd_config: AuthenticationMethods allows '{list}': sshd passes what is typed at its password prompt to pam_otp, so this is key and code, but the code is asked for at a prompt that says 'password'."),
                    "Use keyboard-interactive instead of password in that list (e.g. 'publickey,keyboard-interactive'), so the prompt says what it wants.",
                );
            }
            continue;
        }
        let severity = if lists.len() == 1 {
            Severity::Lockout
        } else {
            Severity::Note
        };
        report.add(
            severity,
            at,
            format!("sshd_config: AuthenticationMethods allows '{list}': sshd gives the password typed at its prompt to every module of the PAM stack, so the password modules and pam_otp get the same answer and that method always fails (and counts towards pam_otp's lock-out)."),
            "Use keyboard-interactive instead of password in that list.",
        );
    }
}

fn print(pam_dir: &Path, sshd_config: &Path, report: &Report) {
    println!(
        "Checked {} and {}.",
        pam_dir.display(),
        if sshd_config.exists() {
            sshd_config.display().to_string()
        } else {
            format!("no {} (sshd not checked)", sshd_config.display())
        }
    );
    for ok in &report.ok {
        println!("ok       {ok}");
    }
    for f in &report.findings {
        println!("{}  {}: {}", f.severity.label(), f.place, f.problem);
        println!("         fix: {}", f.fix);
    }
    let count = |s: Severity| report.findings.iter().filter(|f| f.severity == s).count();
    let (l, b, n) = (
        count(Severity::Lockout),
        count(Severity::Bypass),
        count(Severity::Note),
    );
    if l + b == 0 {
        println!("No problem found that locks people out or skips the code ({n} note(s)).");
    } else {
        println!("{l} lock-out problem(s), {b} bypass problem(s), {n} note(s).");
    }
}
