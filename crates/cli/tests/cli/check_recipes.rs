//! `pam-otp check` over the README's recipes, read from the repository's own `pam.d/` and
//! `examples/` files (so the shipped examples are what is checked): each recipe is a note
//! that says who skips the code, and the same shape done wrong is still a BYPASS.

use std::path::{Path, PathBuf};

use crate::harness::*;

/// A file of the repository (`pam.d/...`, `examples/...`).
fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

/// A checked root: the good fixture (Debian's common-auth, pam_otp.so installed) with the
/// recipe stacks as services, their access files in /etc/security and the sshd recipe.
struct Recipes {
    _home: Home,
    root: PathBuf,
}

impl Recipes {
    fn new() -> Recipes {
        let home = Home::new();
        let root = home.path("root");
        copy_tree(&fixture("check/good"), &root);
        let pam = root.join("etc/pam.d");
        for f in [
            "common-session",
            "common-session-noninteractive",
            "common-password",
        ] {
            std::fs::write(pam.join(f), "").unwrap();
        }
        let r = Recipes { _home: home, root };
        for (from, to) in [
            ("pam.d/otp-group", "etc/pam.d/otp-group"),
            ("pam.d/otp-trusted-network", "etc/pam.d/otp-trusted-network"),
            ("pam.d/login-root-console", "etc/pam.d/login"),
            ("pam.d/sshd-password-otp", "etc/pam.d/sshd"),
            (
                "examples/security/access-otp.conf",
                "etc/security/access-otp.conf",
            ),
            (
                "examples/security/access-root-console.conf",
                "etc/security/access-root-console.conf",
            ),
            (
                "examples/ssh/sshd_config.d/50-otp-password-logins.conf",
                "etc/ssh/sshd_config.d/50-otp.conf",
            ),
        ] {
            r.put(to, &std::fs::read_to_string(repo_file(from)).unwrap());
        }
        r
    }

    fn put(&self, rel: &str, text: &str) {
        let p = self.root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.root.join(rel)).unwrap()
    }

    /// Replaces the line of `rel` that contains `needle` with `with` (no line: removed).
    fn edit(&self, rel: &str, needle: &str, with: Option<&str>) {
        let text = self.read(rel);
        assert!(text.contains(needle), "{rel} has no {needle:?}");
        let edited: Vec<&str> = text
            .lines()
            .filter_map(|l| if l.contains(needle) { with } else { Some(l) })
            .collect();
        self.put(rel, &(edited.join("\n") + "\n"));
    }

    fn findings(&self) -> (Option<i32>, String, Vec<String>) {
        let o = check_root(&self.root);
        let out = stdout(&o);
        let found = findings_and_fixes(&out)
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        (o.status.code(), out, found)
    }
}

/// The line number in `rel` (of the checked root) of the first line, not a comment, that
/// contains `needle`.
fn line_of(r: &Recipes, rel: &str, needle: &str) -> usize {
    r.read(rel)
        .lines()
        .position(|l| !l.starts_with('#') && l.contains(needle))
        .unwrap_or_else(|| panic!("{rel} has no {needle:?}"))
        + 1
}

#[track_caller]
fn has(found: &[String], severity: &str, place: &str, needle: &str) {
    assert!(
        found
            .iter()
            .any(|f| f.starts_with(severity) && f.contains(place) && f.contains(needle)),
        "no {severity} at {place} with {needle:?} in:\n{}",
        found.join("\n")
    );
}

#[test]
fn check_explains_each_shipped_recipe_in_a_note() {
    let r = Recipes::new();
    let (code, out, found) = r.findings();
    assert_eq!(code, Some(0), "{out}");
    let group = format!(
        "pam.d/otp-group:{}",
        line_of(&r, "etc/pam.d/otp-group", "notingroup")
    );
    has(&found, "note", &group, "otp-group: pam_otp.so");
    has(
        &found,
        "note",
        &group,
        "is skipped for users not in group otp-users",
    );
    let net = format!(
        "pam.d/otp-trusted-network:{}",
        line_of(&r, "etc/pam.d/otp-trusted-network", "pam_access")
    );
    has(
        &found,
        "note",
        &net,
        "is skipped for logins that /etc/security/access-otp.conf grants (from 192.168.1.0/24)",
    );
    let root_line = format!("pam.d/login:{}", line_of(&r, "etc/pam.d/login", "uid eq 0"));
    has(&found, "note", &root_line, "login: pam_otp.so");
    has(&found, "note", &root_line, "is skipped for root (uid 0)");
    has(
        &found,
        "note",
        "sshd_config.d/50-otp.conf",
        "allows 'publickey' alone: a login with a key is not asked for a code",
    );
    assert_eq!(found.len(), 4, "{out}");
    assert!(
        out.contains("No problem found that locks people out or skips the code (4 note(s))."),
        "{out}"
    );
}

#[test]
fn check_flags_a_trusted_network_whose_access_file_lets_everyone_in() {
    let r = Recipes::new();
    r.edit("etc/security/access-otp.conf", "-:ALL:ALL", None);
    let (code, out, found) = r.findings();
    assert_eq!(code, Some(1), "{out}");
    has(
        &found,
        "BYPASS",
        "pam.d/otp-trusted-network:",
        "does not end with '-:ALL:ALL': pam_access lets in every login that matches no line",
    );

    std::fs::remove_file(r.root.join("etc/security/access-otp.conf")).unwrap();
    let (code, out, found) = r.findings();
    assert_eq!(code, Some(1), "{out}");
    has(
        &found,
        "BYPASS",
        "pam.d/otp-trusted-network:",
        "/etc/security/access-otp.conf of pam_access.so",
    );
    has(
        &found,
        "BYPASS",
        "pam.d/otp-trusted-network:",
        "lets every login in",
    );
}

#[test]
fn check_flags_root_exempted_without_the_console_restriction() {
    let r = Recipes::new();
    r.edit("etc/pam.d/login", "access-root-console.conf", None);
    let (code, out, found) = r.findings();
    assert_eq!(code, Some(1), "{out}");
    has(&found, "BYPASS", "pam.d/login:", "root skips pam_otp.so");
    has(
        &found,
        "BYPASS",
        "pam.d/login:",
        "root needs no code from anywhere",
    );

    // An access file that does not refuse root restricts nothing either.
    let r = Recipes::new();
    r.edit("etc/security/access-root-console.conf", "-:root:ALL", None);
    let (code, _, found) = r.findings();
    assert_eq!(code, Some(1));
    has(
        &found,
        "BYPASS",
        "pam.d/login:",
        "root needs no code from anywhere",
    );
}

#[test]
fn check_flags_a_group_skip_that_skips_the_password_too() {
    let r = Recipes::new();
    // The skip moved above the password, ending the stack: non-members need nothing.
    let text = r.read("etc/pam.d/otp-group");
    let skip = text.lines().find(|l| l.contains("notingroup")).unwrap();
    let moved = text.replace(&format!("{skip}\n"), "").replace(
        "@include common-auth\n",
        &format!(
            "{}\n@include common-auth\n",
            skip.replace("[success=1 ", "[success=done ")
        ),
    );
    assert_ne!(moved, text);
    r.put("etc/pam.d/otp-group", &moved);
    let (code, out, found) = r.findings();
    assert_eq!(code, Some(1), "{out}");
    has(
        &found,
        "BYPASS",
        "pam.d/otp-group:",
        "users not in group otp-users skip pam_otp.so",
    );
    has(
        &found,
        "BYPASS",
        "pam.d/otp-group:",
        "log in with nothing at all",
    );
}

#[test]
fn check_flags_key_or_code_alone_with_the_stock_sshd_stack() {
    let r = Recipes::new();
    // The recipe's sshd_config with the key-and-code pam.d/sshd (no password in the stack):
    // keyboard-interactive alone is then the code alone.
    r.put(
        "etc/pam.d/sshd",
        &std::fs::read_to_string(repo_file("pam.d/sshd")).unwrap(),
    );
    let (code, out, found) = r.findings();
    assert_eq!(code, Some(1), "{out}");
    has(
        &found,
        "BYPASS",
        "sshd_config.d/50-otp.conf",
        "the one-time code alone logs in",
    );
    has(
        &found,
        "BYPASS",
        "sshd_config.d/50-otp.conf",
        "allows 'publickey', which never runs keyboard-interactive",
    );
    assert!(
        !found
            .iter()
            .any(|f| f.starts_with("note") && f.contains("50-otp.conf")),
        "{out}"
    );
}
