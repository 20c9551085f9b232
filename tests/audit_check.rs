//! `pam-otp check` on fixture trees (tests/fixtures/check/…) for findings of the audit
//! (issue 9):
//!
//! - item 9: an sshd whose PAM stack asks for nothing but the code, reachable by a method
//!   list without `publickey` (password or keyboard-interactive alone, also in Match blocks),
//!   lets the code alone log in: a BYPASS.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/check")
        .join(name)
}

fn check_root(root: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pam-otp"))
        .arg("check")
        .arg("--root")
        .arg(root)
        .output()
        .expect("run pam-otp check")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The check's output and its finding lines (each must be followed by its fix).
fn run(root: &Path) -> (Option<i32>, String, Vec<String>) {
    let o = check_root(root);
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    let mut found = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if l.starts_with("LOCKOUT") || l.starts_with("BYPASS") || l.starts_with("note") {
            assert!(
                lines
                    .get(i + 1)
                    .is_some_and(|f| f.trim_start().starts_with("fix: ")),
                "no fix after {l}\n{out}"
            );
            found.push(format!("{l}\n{}", lines[i + 1]));
        }
    }
    (o.status.code(), out, found)
}

#[track_caller]
fn has(found: &[String], severity: &str, place: &str, needles: &[&str]) {
    assert!(
        found.iter().any(|f| f.starts_with(severity)
            && f.contains(place)
            && needles.iter().all(|n| f.contains(n))),
        "no {severity} at {place} with {needles:?} in:\n{}",
        found.join("\n")
    );
}

#[track_caller]
fn none_about(found: &[String], needle: &str) {
    let hits: Vec<&String> = found.iter().filter(|f| f.contains(needle)).collect();
    assert!(
        hits.is_empty(),
        "unexpected findings about {needle:?}: {hits:#?}"
    );
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// A private copy of a fixture, removed on drop.
struct Copy(PathBuf);

impl Copy {
    fn of(name: &str, tag: &str) -> Copy {
        let dir =
            std::env::temp_dir().join(format!("pam-otp-audit-check-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        copy_tree(&fixture(name), &dir);
        Copy(dir)
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------------------
// sshd: the code alone (item 9)

#[test]
fn code_alone_through_password_or_keyboard_interactive_is_a_bypass() {
    let (code, out, found) = run(&fixture("sshd-code-alone"));
    assert_eq!(code, Some(1), "{out}");
    has(
        &found,
        "BYPASS",
        "sshd_config (default)",
        &[
            "the one-time code alone logs in",
            "password",
            "keyboard-interactive",
            "AuthenticationMethods publickey,keyboard-interactive",
        ],
    );
    // The old note said the password method "always fails": with a code-only stack it is
    // the code that is checked there.
    none_about(&found, "always fails");
}

#[test]
fn a_method_list_without_a_key_is_a_bypass_with_a_code_only_stack() {
    let (code, out, found) = run(&fixture("sshd-kbd-alone"));
    assert_eq!(code, Some(1), "{out}");
    has(
        &found,
        "BYPASS",
        "sshd_config:4",
        &["'keyboard-interactive'", "the one-time code alone logs in"],
    );
    // The other list needs the key as well.
    none_about(&found, "'publickey,keyboard-interactive'");
    assert_eq!(found.len(), 1, "{out}");
}

#[test]
fn match_blocks_are_checked_too() {
    let (code, out, found) = run(&fixture("sshd-match-code-alone"));
    assert_eq!(code, Some(1), "{out}");
    has(
        &found,
        "BYPASS",
        "sshd_config:6",
        &["'keyboard-interactive'", "the one-time code alone logs in"],
    );
    has(
        &found,
        "BYPASS",
        "sshd_config:9",
        &["'password'", "the one-time code alone logs in"],
    );
    assert_eq!(found.len(), 2, "{out}");
}

#[test]
fn debian_default_sshd_config_with_the_shipped_stack() {
    let (code, out, found) = run(&fixture("sshd-debian-default"));
    assert_eq!(code, Some(1), "{out}");
    has(
        &found,
        "BYPASS",
        "sshd_config (default)",
        &["the one-time code alone logs in", "password"],
    );
    has(
        &found,
        "BYPASS",
        "sshd_config (default)",
        &["a public key alone logs in"],
    );
    // With a code-only stack, keyboard-interactive alone would be one factor: not offered.
    for f in &found {
        assert!(
            !f.contains("or 'keyboard-interactive' (PAM password and code)"),
            "{f}"
        );
    }
}

#[test]
fn password_and_code_in_one_stack_is_two_factors() {
    let (code, out, found) = run(&fixture("sshd-password-and-code"));
    assert_eq!(code, Some(0), "{out}");
    assert!(found.is_empty(), "{out}");
    assert!(out.contains("ok       sshd: asks for a code"), "{out}");
}

#[test]
fn key_and_code_is_two_factors() {
    let (code, out, found) = run(&fixture("sshd-key-and-code"));
    assert_eq!(code, Some(0), "{out}");
    assert!(found.is_empty(), "{out}");
    // And the repository's own example stack with the shipped container sshd_config.
    let t = Copy::of("sshd-key-and-code", "shipped");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    fs::copy(repo.join("pam.d/sshd"), t.0.join("etc/pam.d/sshd")).unwrap();
    fs::remove_dir_all(t.0.join("etc/ssh/sshd_config.d")).unwrap();
    fs::copy(
        repo.join("tests/container/sshd_config"),
        t.0.join("etc/ssh/sshd_config"),
    )
    .unwrap();
    let (code, out, found) = run(&t.0);
    assert_eq!(code, Some(0), "{out}");
    assert!(found.is_empty(), "{out}");
}

#[test]
fn the_password_method_with_a_password_stack_never_works() {
    let t = Copy::of("sshd-password-and-code", "password-method");
    fs::write(
        t.0.join("etc/ssh/sshd_config"),
        "UsePAM yes\nKbdInteractiveAuthentication yes\nPasswordAuthentication yes\n\
         AuthenticationMethods keyboard-interactive password\n",
    )
    .unwrap();
    let (code, out, found) = run(&t.0);
    assert_eq!(code, Some(0), "{out}");
    has(
        &found,
        "note",
        "sshd_config:4",
        &["'password'", "the same answer", "always fails"],
    );
    none_about(&found, "alone logs in");
}

#[test]
fn key_then_password_method_with_a_code_only_stack_asks_the_code_at_the_password_prompt() {
    let t = Copy::of("sshd-key-and-code", "key-password");
    fs::write(
        t.0.join("etc/ssh/sshd_config.d/50-otp.conf"),
        "KbdInteractiveAuthentication yes\nPasswordAuthentication yes\n\
         AuthenticationMethods publickey,password\n",
    )
    .unwrap();
    let (code, out, found) = run(&t.0);
    // Two factors, but the prompt says "password": worth a note, not a bypass.
    assert!(found.iter().all(|f| f.starts_with("note")), "{out}");
    has(
        &found,
        "note",
        "50-otp.conf:3",
        &["'publickey,password'", "password prompt"],
    );
    assert_eq!(code, Some(0), "{out}");
}
