//! `pam-otp --config PATH`: the command reads the module's configuration file, so it agrees
//! with the module on where state lives; its own options override the file; a file the
//! caller cannot read, or one the module would refuse, stops it with a clear message.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use pam_otp_core::state::State;
use pam_otp_core::store::{FileStore, StateKey, StateStore};

use crate::harness::*;

/// `pam-otp --home HOME --config CONF ARGS` (no --state-dir: the file says where).
fn with_config(home: &Home, conf: &Path, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pam-otp"));
    c.arg("--home")
        .arg(home.root())
        .arg("--config")
        .arg(conf)
        .args(args);
    for name in ["SUDO_USER", "SUDO_UID", "DOAS_USER", "PKEXEC_UID"] {
        c.env_remove(name);
    }
    run_with_input(c, "")
}

fn write_conf(path: &Path, text: &str, mode: u32) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// An enrolled home, a state directory named only in `HOME/pam_otp.conf`, and the user
/// locked out in it.
fn locked_in_the_files_state_dir() -> (Home, PathBuf, FileStore) {
    let home = Home::new();
    ok(home.run(&["enroll", "--no-confirm", "--qr", "none"], ""));
    let state = home.path("file-state");
    let conf = home.path("pam_otp.conf");
    write_conf(
        &conf,
        &format!(
            "# shared with the module\nstate_dir = {}\n",
            state.display()
        ),
        0o644,
    );
    let store = FileStore::new(&state, Duration::from_secs(1));
    let uid = nix::unistd::geteuid().as_raw();
    let user = me();
    store
        .transact(StateKey { uid, name: &user }, &mut |s| State {
            failures: 5,
            locked_until: u64::MAX,
            lockouts: 1,
            ..s.clone()
        })
        .unwrap();
    (home, conf, store)
}

#[test]
fn status_and_unlock_use_the_files_state_dir() {
    let (home, conf, store) = locked_in_the_files_state_dir();
    let uid = nix::unistd::geteuid().as_raw();
    let out = ok(with_config(&home, &conf, &["status"]));
    assert!(out.contains("Locked out:      yes"), "{out}");
    assert!(out.contains("Failures:        5"), "{out}");

    let out = ok(with_config(&home, &conf, &["unlock", &me()]));
    assert!(out.contains("Unlocked"), "{out}");
    let after = store.load(uid).unwrap();
    assert_eq!((after.failures, after.locked_until), (0, 0));
}

#[test]
fn a_command_line_option_overrides_the_file() {
    let (home, conf, store) = locked_in_the_files_state_dir();
    let uid = nix::unistd::geteuid().as_raw();
    // --state-dir elsewhere: the file's state directory is not touched.
    let elsewhere = home.path("other-state");
    let mut c = Command::new(env!("CARGO_BIN_EXE_pam-otp"));
    c.arg("--home")
        .arg(home.root())
        .arg("--config")
        .arg(&conf)
        .arg("--state-dir")
        .arg(&elsewhere)
        .args(["unlock", &me()]);
    let out = ok(run_with_input(c, ""));
    assert!(out.contains("nothing to unlock"), "{out}");
    assert_eq!(store.load(uid).unwrap().locked_until, u64::MAX);
}

#[test]
fn a_file_the_module_would_refuse_stops_the_command() {
    let home = Home::new();
    let conf = home.path("pam_otp.conf");
    write_conf(&conf, "window = 1\nstate_dr = /x\n", 0o644);
    let err = fails(
        with_config(&home, &conf, &["status"]),
        1,
        "line 2: 'state_dr'",
    );
    assert!(err.contains("unknown argument"), "{err}");
    write_conf(&conf, "window = 1\n", 0o666);
    fails(
        with_config(&home, &conf, &["status"]),
        1,
        "is writable by group or others",
    );
    fails(
        with_config(&home, &home.path("missing.conf"), &["status"]),
        1,
        "does not exist",
    );
}

#[test]
#[ignore = "needs root: run by `sudo scripts/test.sh`"]
fn an_unreadable_file_gets_a_clear_message() {
    assert!(nix::unistd::geteuid().is_root(), "this test needs root");
    let home = Home::new();
    std::fs::set_permissions(home.root(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let exe = home.path("pam-otp");
    std::fs::copy(env!("CARGO_BIN_EXE_pam-otp"), &exe).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let conf = home.path("pam_otp.conf");
    write_conf(
        &conf,
        "store = redis\nredis_url = redis://127.0.0.1\nredis_password = hunter2\n",
        0o600,
    );
    let run_as_nobody = |mode: u32| {
        std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(mode)).unwrap();
        let nobody = || {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(&exe)
                .arg("--config")
                .arg(&conf)
                .arg("status");
            c
        };
        run_copied(nobody, "")
    };
    let err = fails(run_as_nobody(0o600), 1, "Permission denied");
    assert!(err.contains("ask an administrator"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    // Readable, a password in it: the module would refuse it, and so does pam-otp.
    let err = fails(run_as_nobody(0o644), 1, "group or others can read");
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn check_reports_a_configuration_file_the_module_refuses() {
    let root = Home::new();
    std::fs::create_dir_all(root.path("etc/pam.d")).unwrap();
    std::fs::create_dir_all(root.path("etc/security")).unwrap();
    std::fs::write(root.path("etc/pam.d/sshd"), "auth required pam_otp.so\n").unwrap();
    write_conf(
        &root.path("etc/security/pam_otp.conf"),
        "store = redis\nredis_url = redis://127.0.0.1\nredis_password = hunter2\n",
        0o644,
    );
    let out = check_root(root.root());
    let text = stdout(&out);
    let found = findings_and_fixes(&text);
    assert!(
        found.iter().any(|(f, _)| f.starts_with("LOCKOUT")
            && f.contains(
                "pam_otp.conf line 3: 'redis_password': is in a file that group or others can read"
            )),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
    assert_eq!(out.status.code(), Some(1));
}
