//! Findings about sshd_config when sshd's PAM stack has pam_otp.so: `UsePAM`,
//! keyboard-interactive, and the `AuthenticationMethods` lists (global and in `Match`
//! blocks) that skip the code or let the code alone log in.

use std::path::Path;

use super::flow::{self, Ret, Scenario};
use super::pam::{Flat, Place};
use super::report::{Report, Severity};
use super::sshd::{self, Setting};

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

/// Settings of the same meaning under their old and new names.
const KBD_KEYS: [&str; 2] = [
    "kbdinteractiveauthentication",
    "challengeresponseauthentication",
];

/// A keyword's global value (lower case, or sshd's default) and where it is set.
struct Value {
    value: String,
    at: String,
}

impl Value {
    fn is_yes(&self) -> bool {
        self.value == "yes"
    }
}

/// The global settings that decide whether ssh logins are asked for the code.
struct Global {
    use_pam: Value,
    kbd: Value,
    methods: Value,
    pubkey: Value,
    password: Value,
}

impl Global {
    fn read(settings: &[Setting], config: &Path) -> Global {
        let value = |keys: &[&str], default: &str| {
            let s = sshd::global(settings, keys);
            Value {
                value: s.map_or(default.to_string(), |s| s.value.to_ascii_lowercase()),
                at: s.map_or_else(
                    || format!("{} (default)", config.display()),
                    |s| s.place.to_string(),
                ),
            }
        };
        Global {
            use_pam: value(&["usepam"], "no"),
            kbd: value(&KBD_KEYS, "yes"),
            methods: value(&["authenticationmethods"], "any"),
            pubkey: value(&["pubkeyauthentication"], "yes"),
            password: value(&["passwordauthentication"], "yes"),
        }
    }
}

/// Findings about sshd_config, when sshd's PAM stack (`stack`) has pam_otp.so: whether sshd
/// runs the stack at all, whether the code prompt can be shown, and which
/// `AuthenticationMethods` lists (global and in `Match` blocks) skip the code or let it
/// alone log in.
pub fn check_sshd(
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
    let global = Global::read(&settings, config);
    check_use_pam(&global, report);
    check_kbd(&global, report);
    let code_alone = global.use_pam.is_yes() && code_alone_logs_in(stack);
    let global_pam_only = pam_only_lists(
        &global.methods.value,
        global.password.is_yes(),
        global.kbd.is_yes(),
    );
    if code_alone {
        report_code_alone(
            &global.methods.value,
            &global_pam_only,
            &global.methods.at,
            report,
        );
    }
    check_global_methods(&global, code_alone, report);
    for block in match_blocks(&settings) {
        check_match_block(
            &settings,
            block,
            &global,
            &global_pam_only,
            code_alone,
            report,
        );
    }
}

/// Whether someone who has only the code (every password module fails) gets through
/// sshd's auth stack: then a method list without a key is one factor.
fn code_alone_logs_in(stack: &[Flat]) -> bool {
    flow::can_succeed(
        stack,
        &Scenario {
            service: "sshd",
            otp: Ret::Success,
            factors: Ret::AuthErr,
        },
    ) == Some(true)
}

fn check_use_pam(global: &Global, report: &mut Report) {
    let use_pam = &global.use_pam.value;
    if use_pam != "yes" {
        report.add(
            Severity::Bypass,
            &global.use_pam.at,
            format!("sshd_config: UsePAM {use_pam}: sshd never runs the PAM stack, so ssh logins are not asked for a code."),
            "Set 'UsePAM yes'.",
        );
    }
}

/// keyboard-interactive off: the code prompt cannot be shown.
fn check_kbd(global: &Global, report: &mut Report) {
    if global.kbd.is_yes() {
        return;
    }
    let methods = &global.methods.value;
    let lists: Vec<&str> = methods.split_whitespace().collect();
    let needs_kbd = methods != "any"
        && !lists.is_empty()
        && lists
            .iter()
            .all(|l| l.split(',').any(|m| m.starts_with("keyboard-interactive")));
    if needs_kbd {
        report.add(
            Severity::Lockout,
            &global.kbd.at,
            "sshd_config: KbdInteractiveAuthentication is off, but AuthenticationMethods requires keyboard-interactive: nobody can log in over ssh.".into(),
            "Set 'KbdInteractiveAuthentication yes'.",
        );
    } else {
        report.add(
            Severity::Bypass,
            &global.kbd.at,
            "sshd_config: KbdInteractiveAuthentication is off: the code prompt cannot be shown, and ssh logins by other methods skip it.".into(),
            "Set 'KbdInteractiveAuthentication yes'.",
        );
    }
}

/// The global `AuthenticationMethods` (or its absence, `any`).
fn check_global_methods(global: &Global, code_alone: bool, report: &mut Report) {
    let methods = &global.methods;
    if methods.value != "any" {
        let lists: Vec<&str> = methods.value.split_whitespace().collect();
        check_method_lists(&lists, &methods.at, code_alone, report);
        return;
    }
    if global.pubkey.is_yes() {
        report.add(
            Severity::Bypass,
            &methods.at,
            "sshd_config: no AuthenticationMethods, so a public key alone logs in (publickey never runs the PAM auth stack): no code is asked.".into(),
            if code_alone {
                "Set 'AuthenticationMethods publickey,keyboard-interactive' (key and code)."
            } else {
                "Set 'AuthenticationMethods publickey,keyboard-interactive' (key and code) or 'keyboard-interactive' (PAM password and code)."
            },
        );
    }
    if global.password.is_yes() && global.use_pam.is_yes() && !code_alone {
        report.add(
            Severity::Note,
            &global.password.at,
            "sshd_config: PasswordAuthentication yes: sshd answers pam_otp's prompt with the password, so that method always fails and counts towards the lock-out.".into(),
            "Set 'PasswordAuthentication no' and use keyboard-interactive for passwords.",
        );
    }
}

/// The `Match` lines that have settings under them, in file order.
fn match_blocks(settings: &[Setting]) -> Vec<&Place> {
    let mut blocks: Vec<&Place> = Vec::new();
    for s in settings {
        if let Some(m) = &s.in_match {
            if !blocks.contains(&m) {
                blocks.push(m);
            }
        }
    }
    blocks
}

/// One `Match` block: its own settings, falling back to the global ones. With `code_alone`,
/// the method lists of PAM methods alone it opens beyond the global settings
/// (`global_pam_only`) are reported at the line that opens them.
fn check_match_block(
    settings: &[Setting],
    block: &Place,
    global: &Global,
    global_pam_only: &[String],
    code_alone: bool,
    report: &mut Report,
) {
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
    let own_kbd = local(&KBD_KEYS);
    if let Some(s) = own_kbd.filter(|s| !s.value.eq_ignore_ascii_case("yes")) {
        report.add(
            Severity::Bypass,
            &s.place,
            "sshd_config: a Match block turns keyboard-interactive off: matching connections are not asked for a code (or cannot log in).".into(),
            "Remove the line from the Match block.",
        );
    }
    if !code_alone {
        return;
    }
    let own_password = local(&["passwordauthentication"]);
    let yes = |s: Option<&Setting>, global: &Value| {
        s.map_or(global.is_yes(), |s| s.value.eq_ignore_ascii_case("yes"))
    };
    let block_methods = own_methods.map_or(global.methods.value.clone(), |s| {
        s.value.to_ascii_lowercase()
    });
    let block_pam_only = pam_only_lists(
        &block_methods,
        yes(own_password, &global.password),
        yes(own_kbd, &global.kbd),
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

/// The recipe "a code only for logins without a key": `list` is `publickey` alone, another
/// list of the same line is keyboard-interactive alone, and sshd's PAM stack needs more
/// than the code (`!code_alone`: the password too), so no way in is one factor.
fn key_or_password_and_code(list: &str, lists: &[&str], code_alone: bool) -> bool {
    list == "publickey"
        && !code_alone
        && lists
            .iter()
            .any(|l| l.split(',').all(|m| m.starts_with("keyboard-interactive")))
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
        if key_or_password_and_code(list, lists, code_alone) {
            report.add(
                Severity::Note,
                at,
                format!("sshd_config: AuthenticationMethods allows '{list}' alone: a login with a key is not asked for a code; one without a key goes through keyboard-interactive, and sshd's PAM stack asks it for the password and the code."),
                "Nothing to fix if that is intended (README \"Recipes\": a code only for logins without a key); 'publickey,keyboard-interactive' asks key logins for a code too.",
            );
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
