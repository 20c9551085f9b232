//! Findings about a service's auth stack and its pam_otp.so lines: arguments the module
//! refuses, a module that is not installed, a control that makes the code optional,
//! earlier lines whose success skips pam_otp, nullok with nothing after it that can
//! succeed, and pam_otp.so in a type where it does nothing.

use std::path::{Path, PathBuf};

use pam_otp_core::args::{self, Config};

use super::flow;
use super::locker_findings::LOCKERS;
use super::pam::{self, Flat, Place, Rule};
use super::recipe_findings;
use super::report::{Report, Severity};
use super::store_findings;

/// Where modules live, under the checked root.
const MODULE_DIRS: &[&str] = &[
    "lib/security",
    "lib64/security",
    "usr/lib/security",
    "usr/lib64/security",
];

/// pam_otp only answers `auth`: in other types it does nothing.
pub fn check_other_types(dir: &Path, service: &str, report: &mut Report) {
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

/// Findings for each pam_otp.so line of `service`'s flattened auth stack; the settings of
/// each line go to `configs`, for the state-directory check. A line without findings gets
/// an ok line.
pub fn check_stack(
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
        let before = report.findings_count();

        let config = check_arguments(service, r, report);
        check_installed(service, r, root, report);
        check_control(service, r, report);
        check_skipped_by_earlier(service, stack, k, root, report);
        if let Some(c) = &config {
            if c.nullok {
                check_nullok_fallback(service, stack, k, report);
            }
            if !c.secret_is_users() {
                store_findings::check_store(service, c, r, root, report);
            }
            configs.push((c.clone(), r.place.clone()));
        }

        if report.findings_count() == before {
            report.ok.push(format!(
                "{service}: asks for a code ({} {} at {})",
                r.control.shown(),
                r.module_name(),
                r.place
            ));
        }
    }
}

/// The line's settings, through the module's own parser; `None` (a LOCKOUT) when the
/// module would refuse them.
fn check_arguments(service: &str, r: &Rule, report: &mut Report) -> Option<Config> {
    match args::parse(r.args.iter().map(|a| a.as_bytes())) {
        Ok(c) => Some(c),
        Err(e) => {
            report.add(
                Severity::Lockout,
                &r.place,
                format!(
                    "{service}: pam_otp.so {e}; the module refuses every login through {service}."
                ),
                "Correct or remove the argument (see pam_otp(8) for the list).",
            );
            None
        }
    }
}

/// A module libpam cannot load: every login refused, or with `-auth`, skipped silently.
fn check_installed(service: &str, r: &Rule, root: &Path, report: &mut Report) {
    if module_installed(&r.module, root) {
        return;
    }
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

/// A control libpam does not know (the line is ignored), or one under which a wrong code
/// is not a failure.
fn check_control(service: &str, r: &Rule, report: &mut Report) {
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
                "'sufficient': a right code alone logs in and a wrong one is ignored".to_string()
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
}

/// Earlier modules whose success ends the stack or jumps over the pam_otp.so line at
/// `stack[k]`; the recipes (a code only for some users or places) are notes.
fn check_skipped_by_earlier(
    service: &str,
    stack: &[Flat],
    k: usize,
    root: &Path,
    report: &mut Report,
) {
    let r = &stack[k].rule;
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
        if !skips || intended || never_here || locker_exempt {
            continue;
        }
        if let Some(v) = recipe_findings::classify(service, stack, j, k, root) {
            report.add(v.severity, &e.place, v.problem, v.fix);
        } else {
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
}

/// With nullok, pam_otp ignores a user without a secret: some other module of the stack
/// must be able to succeed for them, or libpam refuses them.
fn check_nullok_fallback(service: &str, stack: &[Flat], k: usize, report: &mut Report) {
    let others = stack
        .iter()
        .enumerate()
        .any(|(i, f)| i != k && can_succeed(&f.rule));
    if !others {
        report.add(
            Severity::Lockout,
            &stack[k].rule.place,
            format!("{service}: pam_otp.so has nullok, but no other auth module can succeed: users without a secret get PAM_IGNORE from every module, and libpam refuses them."),
            "Enrol everyone and drop nullok, or add a module that succeeds for them after pam_otp.so (for sshd with a key already checked: 'auth required pam_permit.so'; elsewhere '@include common-auth').",
        );
    }
}

/// Whether a module's auth function can return success.
fn can_succeed(rule: &Rule) -> bool {
    let name = rule.module_name();
    // pam_nologin ignores when there is no nologin file, unless told `successok`.
    let ignoring_nologin = name == "pam_nologin.so" && !rule.args.iter().any(|a| a == "successok");
    // Modules that only ignore, pam_deny, and pam_otp (which ignores the same user again)
    // never succeed, so they cannot stand in for pam_otp when it ignores a user without a
    // secret.
    let never = flow::INERT.contains(&name) || matches!(name, "pam_deny.so" | "pam_otp.so");
    !never && !ignoring_nologin
}
