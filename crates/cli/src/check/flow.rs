//! What libpam makes of an auth stack when each module may return one of a few results:
//! the dispatch rules of Linux-PAM's `_pam_dispatch_aux` (the impression and status it
//! keeps, `done` and `die` ending the current (sub)stack, jumps counting rules at one stack
//! level, `reset` going back to where a substack began), tried over every combination of
//! results. It answers questions such as "can the code alone log in?" (every module that
//! checks a password fails, pam_otp succeeds) without running anything.

use super::pam::{Flat, Rule};

/// What a module returns, as far as the stack's outcome depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ret {
    Success,
    /// Any failure (wrong password, unknown user, ...): one name, `auth_err`, for the
    /// control's action.
    AuthErr,
    Ignore,
}

impl Ret {
    fn value_name(self) -> &'static str {
        match self {
            Ret::Success => "success",
            Ret::AuthErr => "auth_err",
            Ret::Ignore => "ignore",
        }
    }
}

/// Modules whose auth function only ever ignores (as far as a stack's outcome goes).
pub const INERT: &[&str] = &[
    "pam_env.so",
    "pam_faildelay.so",
    "pam_warn.so",
    "pam_echo.so",
    "pam_group.so",
    "pam_motd.so",
    "pam_keyinit.so",
    "pam_mail.so",
];

/// Modules that succeed or fail on a condition the person logging in cannot choose by
/// knowing a secret (who they are, where from, the time, a file): both are possible.
const CONDITIONS: &[&str] = &[
    "pam_succeed_if.so",
    "pam_localuser.so",
    "pam_listfile.so",
    "pam_shells.so",
    "pam_securetty.so",
    "pam_access.so",
    "pam_time.so",
    "pam_rootok.so",
    "pam_wheel.so",
    "pam_usertype.so",
    "pam_faillock.so",
    "pam_tally2.so",
    "pam_exec.so",
];

/// Modules that take part in authentication without checking anything (keyrings, mounts,
/// capabilities): they succeed or ignore whatever was typed.
const HELPERS: &[&str] = &[
    "pam_gnome_keyring.so",
    "pam_kwallet.so",
    "pam_kwallet5.so",
    "pam_mount.so",
    "pam_ecryptfs.so",
    "pam_cap.so",
    "pam_lastlog.so",
    "pam_umask.so",
];

/// Who is logging in, in the question asked of the stack.
#[derive(Debug, Clone, Copy)]
pub struct Scenario<'a> {
    /// The PAM service (for `pam_succeed_if.so service ...`).
    pub service: &'a str,
    /// What pam_otp.so returns.
    pub otp: Ret,
    /// What every module that checks a secret of its own (pam_unix, pam_sss, a key,
    /// another token: anything not known to be otherwise) returns.
    pub factors: Ret,
}

impl Scenario<'_> {
    /// The results `rule` may give. Empty: libpam never runs the line (an unknown control
    /// keyword makes it skip the line).
    pub fn results(&self, rule: &Rule) -> Vec<Ret> {
        if rule.control.action("success").is_none() {
            return Vec::new();
        }
        let name = rule.module_name();
        let both = vec![Ret::Success, Ret::AuthErr];
        match name {
            "pam_otp.so" => vec![self.otp],
            "pam_deny.so" => vec![Ret::AuthErr],
            "pam_permit.so" => vec![Ret::Success],
            // Ignores unless /etc/nologin exists (or says success with `successok`).
            "pam_nologin.so" if rule.args.iter().any(|a| a == "successok") => both,
            "pam_nologin.so" => vec![Ret::Ignore, Ret::AuthErr],
            "pam_succeed_if.so" => match service_condition(rule, self.service) {
                Some(true) => vec![Ret::Success],
                Some(false) => vec![Ret::AuthErr],
                None => both,
            },
            _ if INERT.contains(&name) => vec![Ret::Ignore],
            _ if CONDITIONS.contains(&name) => both,
            _ if HELPERS.contains(&name) => vec![Ret::Success, Ret::Ignore],
            _ => vec![self.factors],
        }
    }
}

/// `pam_succeed_if.so`'s conditions as `(field, operator, value)`, its options left out;
/// `None` when the arguments are not whole conditions.
pub fn succeed_if_conditions(rule: &Rule) -> Option<Vec<(&str, &str, &str)>> {
    const OPTIONS: &[&str] = &[
        "debug",
        "use_uid",
        "quiet",
        "quiet_fail",
        "quiet_success",
        "audit",
    ];
    let words: Vec<&str> = rule
        .args
        .iter()
        .map(String::as_str)
        .filter(|a| !OPTIONS.contains(a))
        .collect();
    if words.is_empty() || !words.len().is_multiple_of(3) {
        return None;
    }
    Some(words.chunks(3).map(|t| (t[0], t[1], t[2])).collect())
}

/// What `pam_succeed_if.so`'s conditions give for `service` when they only test the
/// service: `Some(true)` it succeeds, `Some(false)` it fails (one false condition is
/// enough), `None` when that depends on something else (user, group, host, ...).
pub fn service_condition(rule: &Rule, service: &str) -> Option<bool> {
    let conditions = succeed_if_conditions(rule)?;
    let mut all_known = true;
    for (field, op, value) in conditions {
        let known = match (field, op) {
            ("service", "=") => Some(service == value),
            ("service", "!=") => Some(service != value),
            ("service", "in") => Some(value.split(':').any(|v| v == service)),
            ("service", "notin") => Some(!value.split(':').any(|v| v == service)),
            _ => None,
        };
        match known {
            Some(false) => return Some(false),
            Some(true) => {}
            None => all_known = false,
        }
    }
    all_known.then_some(true)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Impression {
    Undefined,
    Positive,
    Negative,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    /// libpam's PAM_MUST_FAIL_CODE.
    MustFail,
    Ret(Ret),
}

#[derive(Debug, Clone)]
struct Run {
    impression: Impression,
    status: Status,
    /// The impression and status when each stack level was entered (for `reset`).
    saved: Vec<(Impression, Status)>,
}

/// Most module results tried before giving up (each condition module doubles them).
const BUDGET: usize = 1 << 20;

/// Whether some combination of the results `scenario` allows makes `stack` succeed;
/// `None` if there were too many combinations to try.
pub fn can_succeed(stack: &[Flat], scenario: &Scenario) -> Option<bool> {
    let run = Run {
        impression: Impression::Undefined,
        status: Status::MustFail,
        saved: Vec::new(),
    };
    let mut budget = BUDGET;
    walk(stack, 0, 0, run, scenario, &mut budget)
}

fn walk(
    stack: &[Flat],
    i: usize,
    prev_level: usize,
    mut run: Run,
    scenario: &Scenario,
    budget: &mut usize,
) -> Option<bool> {
    let Some(flat) = stack.get(i) else {
        return Some(
            run.impression == Impression::Positive && run.status == Status::Ret(Ret::Success),
        );
    };
    *budget = budget.checked_sub(1)?;
    let level = flat.level;
    let results = scenario.results(&flat.rule);
    if results.is_empty() {
        return walk(stack, i + 1, prev_level, run, scenario, budget);
    }
    if prev_level < level {
        if run.saved.len() <= level {
            run.saved
                .resize(level + 1, (Impression::Undefined, Status::MustFail));
        }
        run.saved[level] = (run.impression, run.status);
    }
    let mut unknown = false;
    for ret in results {
        let mut next = run.clone();
        let j = step(stack, i, ret, &mut next);
        match walk(stack, j, level, next, scenario, budget) {
            Some(true) => return Some(true),
            Some(false) => {}
            None => unknown = true,
        }
    }
    if unknown {
        None
    } else {
        Some(false)
    }
}

/// Applies rule `i`'s action for `ret` to `run`; returns the index of the next rule.
fn step(stack: &[Flat], i: usize, ret: Ret, run: &mut Run) -> usize {
    let level = stack[i].level;
    let action = stack[i]
        .rule
        .control
        .action(ret.value_name())
        .unwrap_or_else(|| "bad".to_string());
    // The end of the current (sub)stack, where `done` and `die` continue.
    let decision = || {
        let mut h = i;
        while stack.get(h + 1).is_some_and(|f| f.level >= level) {
            h += 1;
        }
        h + 1
    };
    match action.as_str() {
        "ignore" => i + 1,
        "reset" => {
            (run.impression, run.status) = run
                .saved
                .get(level)
                .copied()
                .unwrap_or((Impression::Undefined, Status::MustFail));
            i + 1
        }
        "ok" | "done" => {
            if run.impression == Impression::Undefined
                || (run.impression == Impression::Positive
                    && run.status == Status::Ret(Ret::Success))
            {
                run.impression = Impression::Positive;
                run.status = Status::Ret(ret);
            }
            if run.impression != Impression::Negative && action == "done" {
                decision()
            } else {
                i + 1
            }
        }
        jump if jump.parse::<usize>().is_ok_and(|n| n > 0) => {
            let mut n: usize = jump.parse().unwrap_or(0);
            let mut h = i;
            while n > 0 && stack.get(h + 1).is_some_and(|f| f.level >= level) {
                h += 1;
                while stack.get(h + 1).is_some_and(|f| f.level > level) {
                    h += 1;
                }
                n -= 1;
            }
            if n > 0 {
                // libpam: "bad jump in stack".
                run.impression = Impression::Negative;
                run.status = Status::MustFail;
            }
            h + 1
        }
        // "bad", "die", and anything libpam would not know.
        other => {
            if run.impression != Impression::Negative {
                run.impression = Impression::Negative;
                run.status = if ret == Ret::Success {
                    Status::MustFail
                } else {
                    Status::Ret(ret)
                };
            }
            if other == "die" {
                decision()
            } else {
                i + 1
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::pam;
    use super::*;
    use std::path::Path;

    fn stack(text: &str) -> Vec<Flat> {
        let (entries, errors) = pam::parse(Path::new("/t"), text);
        assert!(errors.is_empty(), "{errors:?}");
        entries
            .into_iter()
            .map(|e| match e {
                pam::Entry::Rule(rule) => Flat {
                    rule,
                    scope_end: usize::MAX,
                    level: 0,
                },
                pam::Entry::Include { .. } => panic!("no includes here"),
            })
            .collect()
    }

    const CODE_ALONE: Scenario = Scenario {
        service: "sshd",
        otp: Ret::Success,
        factors: Ret::AuthErr,
    };

    const DEBIAN_COMMON_AUTH: &str = "auth [success=1 default=ignore] pam_unix.so nullok\n\
        auth requisite pam_deny.so\nauth required pam_permit.so\n";

    #[test]
    fn the_code_alone_passes_a_stack_of_pam_otp_alone_only() {
        let alone = stack("auth required pam_otp.so\n");
        assert_eq!(can_succeed(&alone, &CODE_ALONE), Some(true));
        let with_password = stack(&format!("{DEBIAN_COMMON_AUTH}auth required pam_otp.so\n"));
        assert_eq!(can_succeed(&with_password, &CODE_ALONE), Some(false));
        let both_right = Scenario {
            factors: Ret::Success,
            ..CODE_ALONE
        };
        assert_eq!(can_succeed(&with_password, &both_right), Some(true));
        // A wrong code fails either way.
        let wrong_code = Scenario {
            otp: Ret::AuthErr,
            ..both_right
        };
        assert_eq!(can_succeed(&with_password, &wrong_code), Some(false));
    }

    #[test]
    fn sufficient_optional_and_jumps() {
        let sufficient = stack("auth sufficient pam_unix.so\nauth required pam_otp.so\n");
        assert_eq!(can_succeed(&sufficient, &CODE_ALONE), Some(true));
        let optional = stack("auth optional pam_unix.so\nauth required pam_otp.so\n");
        assert_eq!(can_succeed(&optional, &CODE_ALONE), Some(true));
        // pam_otp after a jump that only a right password takes: no path with the code alone.
        let jump = stack(
            "auth [success=1 default=ignore] pam_unix.so\nauth requisite pam_deny.so\n\
             auth required pam_otp.so\n",
        );
        assert_eq!(can_succeed(&jump, &CODE_ALONE), Some(false));
        // PAM_IGNORE alone grants nothing.
        let ignore = stack("auth required pam_env.so\n");
        assert_eq!(can_succeed(&ignore, &CODE_ALONE), Some(false));
        // A jump past the end is an error.
        let bad = stack("auth [success=5 default=ignore] pam_permit.so\n");
        assert_eq!(can_succeed(&bad, &CODE_ALONE), Some(false));
    }

    #[test]
    fn service_conditions_are_decided_for_the_service() {
        let line = |args: &str| {
            stack(&format!(
                "auth [success=1 default=ignore] pam_succeed_if.so {args}\n"
            ))
            .remove(0)
            .rule
        };
        let lockers = line("quiet service in xscreensaver:i3lock");
        assert_eq!(service_condition(&lockers, "i3lock"), Some(true));
        assert_eq!(service_condition(&lockers, "sudo"), Some(false));
        let mixed = line("service = sshd user ingroup wheel");
        assert_eq!(service_condition(&mixed, "sshd"), None);
        assert_eq!(service_condition(&mixed, "sudo"), Some(false));
        assert_eq!(
            service_condition(&line("service notin sudo:su"), "su"),
            Some(false)
        );
        assert_eq!(service_condition(&line("uid < 1000"), "su"), None);
        assert_eq!(service_condition(&line("service in"), "su"), None);

        let exempt = stack(&format!(
            "{DEBIAN_COMMON_AUTH}auth [success=1 default=ignore] pam_succeed_if.so quiet \
             service in xscreensaver\nauth required pam_otp.so nullok\n"
        ));
        let locker = Scenario {
            service: "xscreensaver",
            otp: Ret::AuthErr,
            factors: Ret::Success,
        };
        assert_eq!(can_succeed(&exempt, &locker), Some(true));
        let sudo = Scenario {
            service: "sudo",
            ..locker
        };
        assert_eq!(can_succeed(&exempt, &sudo), Some(false));
    }

    #[test]
    fn substacks_end_at_their_own_end() {
        // In a substack, "done" ends the substack only; a later requisite still counts.
        let mut s = stack(
            "auth sufficient pam_permit.so\nauth required pam_otp.so\nauth requisite pam_deny.so\n",
        );
        s[0].level = 1;
        s[1].level = 1;
        assert_eq!(can_succeed(&s, &CODE_ALONE), Some(false));
        // reset goes back to the impression at the substack's start.
        let mut r = stack(
            "auth required pam_otp.so\nauth [default=reset] pam_deny.so\nauth required pam_permit.so\n",
        );
        r[1].level = 1;
        r[2].level = 1;
        assert_eq!(can_succeed(&r, &CODE_ALONE), Some(true));
    }
}
