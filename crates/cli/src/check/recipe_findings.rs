//! The recipes of README "Recipes" (and `pam.d/`): lines that skip pam_otp.so on purpose,
//! for some users (`pam_succeed_if.so` on the user, uid or group), from some places
//! (`pam_access.so` with an access file) or for root at the console. A recognised recipe is
//! a note that says who skips the code; the same shape done wrong (an access file that
//! lets unmatched logins in, root exempted with nothing restricting where it logs in, a
//! skip that also skips the password) stays a BYPASS.

use std::path::Path;

use super::flow::{self, Ret, Scenario};
use super::pam::{Flat, Rule};
use super::report::Severity;

/// What a recognised skip of pam_otp.so is: its severity, the problem and the fix.
pub struct Verdict {
    pub severity: Severity,
    pub problem: String,
    pub fix: &'static str,
}

/// `stack[j]` is a line whose success jumps over (or ends the stack before) the pam_otp.so
/// line `stack[k]`. `Some` when it is one of the recipes (right or wrong), `None` when it
/// is not recognised (the caller reports it as any other skip).
pub fn classify(service: &str, stack: &[Flat], j: usize, k: usize, root: &Path) -> Option<Verdict> {
    let e = &stack[j].rule;
    let otp_place = &stack[k].rule.place;
    let (who, names_root) = match e.module_name() {
        "pam_succeed_if.so" => user_conditions(e)?,
        "pam_access.so" => match access_grants(e, root) {
            Ok(who) => (who, false),
            Err(problem) => {
                return Some(Verdict {
                    severity: Severity::Bypass,
                    problem: format!("{service}: {problem}, so they skip pam_otp.so ({otp_place})."),
                    fix: "End the access file with the line '-:ALL:ALL' (see examples/security/access-otp.conf), so that only the '+' lines skip the code.",
                });
            }
        },
        _ => return None,
    };
    if skips_every_factor(service, stack, j) {
        return Some(Verdict {
            severity: Severity::Bypass,
            problem: format!(
                "{service}: {who} skip pam_otp.so ({otp_place}) and every other module that checks a secret: they log in with nothing at all."
            ),
            fix: "Put the line after the password modules (after '@include common-auth'), directly above pam_otp.so.",
        });
    }
    if names_root && !root_restricted(&stack[..j], root) {
        return Some(Verdict {
            severity: Severity::Bypass,
            problem: format!(
                "{service}: root skips pam_otp.so ({otp_place}), and nothing before it restricts where root logs in: root needs no code from anywhere."
            ),
            fix: "Restrict root to the console first: 'auth requisite pam_access.so accessfile=/etc/security/access-root-console.conf' above the line (see pam.d/login-root-console), or ask root for a code too.",
        });
    }
    Some(Verdict {
        severity: Severity::Note,
        problem: format!(
            "{service}: pam_otp.so ({otp_place}) is skipped for {who}; everyone else is asked for a code."
        ),
        fix: "Nothing to fix if that is intended (README \"Recipes\"); remove the line to ask everyone for a code.",
    })
}

/// The users `pam_succeed_if.so`'s conditions describe, when every condition is about who
/// the user is (name, uid, gid, groups); and whether they can name root explicitly.
fn user_conditions(rule: &Rule) -> Option<(String, bool)> {
    let conditions = flow::succeed_if_conditions(rule)?;
    let mut parts = Vec::new();
    let mut names_root = false;
    for (field, op, value) in conditions {
        let part = match (field, op) {
            ("user", "ingroup") => format!("members of group {value}"),
            ("user", "notingroup") => format!("users not in group {value}"),
            ("user", "=" | "in") => {
                names_root |= value.split(':').any(|v| v == "root");
                format!("user {}", value.replace(':', ", "))
            }
            ("uid", _) => {
                let v: i64 = value.parse().ok()?;
                // Whether uid 0 satisfies the condition.
                names_root |= match op {
                    "eq" | "=" => v == 0,
                    "ne" | "!=" => v != 0,
                    "lt" | "<" => v > 0,
                    "le" | "<=" => v >= 0,
                    "gt" | ">" => v < 0,
                    "ge" | ">=" => v <= 0,
                    _ => return None,
                };
                if v == 0 && matches!(op, "eq" | "=") {
                    "root (uid 0)".to_string()
                } else {
                    format!("users with uid {op} {value}")
                }
            }
            ("user" | "gid", _) => format!("'{field} {op} {value}'"),
            _ => return None,
        };
        parts.push(part);
    }
    Some((parts.join(" and "), names_root))
}

/// The module argument `name=VALUE`'s value.
fn arg<'a>(rule: &'a Rule, name: &str) -> Option<&'a str> {
    rule.args
        .iter()
        .find_map(|a| a.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
}

/// One rule of an access file: permission, users, origins.
struct AccessLine {
    allow: bool,
    users: String,
    origins: String,
}

/// The access file of a `pam_access.so` line (under `root`) and its rules; `Err` when it
/// cannot be read (the message says what pam_access then does).
fn access_file(rule: &Rule, root: &Path) -> Result<(String, Vec<AccessLine>), String> {
    let path = arg(rule, "accessfile").unwrap_or("/etc/security/access.conf");
    let seps = arg(rule, "fieldsep").unwrap_or(":");
    let Ok(text) = std::fs::read_to_string(root.join(path.trim_start_matches('/'))) else {
        return Err(format!(
            "the access file {path} of pam_access.so ({}) does not exist or cannot be read; pam_access then lets every login in",
            rule.place
        ));
    };
    let lines = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut f = l.trim_end().splitn(3, |c| seps.contains(c));
            let (perm, users, origins) = (f.next()?.trim(), f.next()?, f.next()?);
            Some(AccessLine {
                allow: perm.starts_with('+'),
                users: users.trim().to_string(),
                origins: origins.trim().to_string(),
            })
            .filter(|_| perm.starts_with('+') || perm.starts_with('-'))
        })
        .collect();
    Ok((path.to_string(), lines))
}

/// Who a `pam_access.so` line that skips pam_otp.so lets skip it: the `+` lines before the
/// file's `-:ALL:ALL`. `Err` when more than those get in (a missing file, no final deny).
fn access_grants(rule: &Rule, root: &Path) -> Result<String, String> {
    let (path, lines) = access_file(rule, root)?;
    let Some(end) = lines
        .iter()
        .position(|l| !l.allow && l.users == "ALL" && l.origins == "ALL")
    else {
        return Err(format!(
            "{path} (pam_access.so, {}) does not end with '-:ALL:ALL': pam_access lets in every login that matches no line",
            rule.place
        ));
    };
    let granted: Vec<String> = lines[..end]
        .iter()
        .filter(|l| l.allow)
        .map(|l| {
            if l.users == "ALL" {
                format!("from {}", l.origins)
            } else {
                format!("{} from {}", l.users, l.origins)
            }
        })
        .collect();
    Ok(if granted.is_empty() {
        format!("nobody ({path} grants no login)")
    } else {
        format!("logins that {path} grants ({})", granted.join("; "))
    })
}

/// Whether a login that takes the skip at `stack[j]` succeeds even when every module that
/// checks a secret fails and pam_otp.so refuses: the skip then replaces every factor.
fn skips_every_factor(service: &str, stack: &[Flat], j: usize) -> bool {
    let mut taken = stack.to_vec();
    taken[j].rule.module = "pam_permit.so".into();
    let nothing = Scenario {
        service,
        otp: Ret::AuthErr,
        factors: Ret::AuthErr,
    };
    flow::can_succeed(&taken, &nothing) == Some(true)
}

/// Whether a line in `before` refuses root outside the console: `pam_securetty.so`, or
/// `pam_access.so` with a `-` rule for root (or ALL), under a control that makes its
/// refusal a failure of the stack.
fn root_restricted(before: &[Flat], root: &Path) -> bool {
    before.iter().any(|f| {
        let r = &f.rule;
        let refuses = matches!(
            r.control.action("perm_denied").as_deref(),
            Some("bad" | "die")
        );
        refuses
            && match r.module_name() {
                "pam_securetty.so" => true,
                "pam_access.so" => access_file(r, root).is_ok_and(|(_, lines)| {
                    lines.iter().any(|l| {
                        !l.allow
                            && l.users
                                .split_whitespace()
                                .any(|u| u == "root" || u == "ALL")
                    })
                }),
                _ => false,
            }
    })
}
