//! `pam-otp check`: fixture trees of good, broken and missing set-ups.

use std::os::unix::fs::PermissionsExt;

use crate::harness::*;

/// The finding lines (LOCKOUT/BYPASS/note); each must be followed by its fix.
#[track_caller]
fn findings(out: &str) -> Vec<String> {
    findings_and_fixes(out)
        .into_iter()
        .map(|(finding, _)| finding)
        .collect()
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
fn check_passes_a_correct_setup() {
    let o = check_root(&fixture("check/good"));
    let out = ok(o);
    for service in ["sshd", "sudo", "su"] {
        assert!(
            out.contains(&format!("ok       {service}: asks for a code")),
            "{out}"
        );
    }
    assert!(findings(&out).is_empty(), "{out}");
    assert!(out.contains("No problem found"), "{out}");
}

#[test]
fn check_reports_each_mistake_with_its_fix() {
    let o = check_root(&fixture("check/broken"));
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    let found = findings(&out);
    let expected = [
        ("LOCKOUT", "pam.d/login:2", "argument 'nulok': unknown argument"),
        ("LOCKOUT", "pam.d/sshd:2", "nullok, but no other auth module can succeed"),
        ("LOCKOUT", "pam.d/cups:2", "secret store /etc/pam_otp/users does not exist"),
        ("LOCKOUT", "pam.d/cups:3", "'common-missing', which cannot be read"),
        ("BYPASS", "pam.d/sudo:1", "when pam_unix.so ('sufficient') succeeds, the stack ends"),
        ("BYPASS", "pam.d/common-auth:2", "gdm-password: when pam_unix.so ('[success=2 default=ignore]') succeeds, the stack jumps"),
        ("BYPASS", "pam.d/su:2", "'optional'"),
        ("BYPASS", "pam.d/vsftpd:2", "not installed, and the '-'"),
        ("BYPASS", "sshd_config:1", "UsePAM no"),
        ("BYPASS", "sshd_config:2", "KbdInteractiveAuthentication is off"),
        ("BYPASS", "sshd_config (default)", "a public key alone logs in"),
        ("BYPASS", "sshd_config:5", "allows 'publickey'"),
        ("note", "pam.d/sshd:3", "does nothing in the account stack"),
    ];
    for (severity, place, needle) in expected {
        has(&found, severity, place, needle);
    }
    assert_eq!(found.len(), expected.len(), "{out}");
    assert!(
        out.contains("4 lock-out problem(s), 8 bypass problem(s), 1 note(s)."),
        "{out}"
    );
}

#[test]
fn check_notices_pam_otp_is_nowhere() {
    let o = check_root(&fixture("check/none"));
    assert_eq!(o.status.code(), Some(1));
    let found = findings(&stdout(&o));
    has(&found, "BYPASS", "pam.d", "in no PAM service");
    assert!(stdout(&o).contains("sshd not checked"));
}

#[test]
fn check_state_directory_problems() {
    let t = Home::new();
    let root = t.path("root");
    copy_tree(&fixture("check/good"), &root);
    let state = root.join("var/lib/pam_otp");
    std::fs::create_dir(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o777)).unwrap();
    let found = findings(&stdout(&check_root(&root)));
    has(&found, "LOCKOUT", "pam.d/", "writable by group or others");

    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = check_root(&root);
    if nix::unistd::geteuid().is_root() {
        let out = ok(o);
        has(&findings(&out), "note", "pam.d/", "readable by others");
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert!(findings(&ok(check_root(&root))).is_empty());
        nix::unistd::chown(&state, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
        has(
            &findings(&stdout(&check_root(&root))),
            "LOCKOUT",
            "pam.d/",
            "not owned by root",
        );
    } else {
        has(
            &findings(&stdout(&o)),
            "LOCKOUT",
            "pam.d/",
            "not owned by root",
        );
    }

    std::fs::remove_dir(&state).unwrap();
    std::os::unix::fs::symlink("/tmp", &state).unwrap();
    has(
        &findings(&stdout(&check_root(&root))),
        "LOCKOUT",
        "pam.d/",
        "is a symbolic link",
    );

    std::fs::write(
        root.join("etc/pam.d/sudo"),
        "@include common-auth\nauth required pam_otp.so state_dir=/srv/nowhere/otp\n",
    )
    .unwrap();
    has(
        &findings(&stdout(&check_root(&root))),
        "LOCKOUT",
        "pam.d/sudo:2",
        "/srv/nowhere/otp cannot be created",
    );
}

#[test]
fn check_takes_pam_dir_and_sshd_config_separately() {
    let good = fixture("check/good");
    let broken = fixture("check/broken");
    let o = check(&[
        "--root",
        good.to_str().unwrap(),
        "--sshd-config",
        broken.join("etc/ssh/sshd_config").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let found = findings(&stdout(&o));
    has(
        &found,
        "BYPASS",
        "broken/etc/ssh/sshd_config:1",
        "UsePAM no",
    );
    assert!(found.iter().all(|f| !f.contains("pam.d")), "{found:?}");

    let o = check(&[
        "--root",
        good.to_str().unwrap(),
        "--pam-dir",
        broken.join("etc/pam.d").to_str().unwrap(),
    ]);
    let found = findings(&stdout(&o));
    has(&found, "LOCKOUT", "broken/etc/pam.d/login:2", "nulok");
    // sshd: good sshd_config with a broken sshd stack.
    assert!(
        found.iter().all(|f| !f.contains("sshd_config")),
        "{found:?}"
    );
}

#[test]
fn check_error_paths() {
    fails(
        check(&["--root", "/nonexistent/pam-otp"]),
        1,
        "is not a directory",
    );
    fails(
        check(&["--pam-dir", "/nonexistent/pam.d"]),
        1,
        "cannot read the PAM service directory /nonexistent/pam.d",
    );
}
