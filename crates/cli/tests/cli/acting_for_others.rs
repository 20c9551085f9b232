//! Who may act for whom: root enrols other users as those users, and writes an admin
//! store as root; an ordinary user cannot act for others.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::SystemTime;

use pam_otp_core::authenticate::{authenticate, Reason, Verdict};
use pam_otp_testkit::ScriptedHost;

use crate::harness::*;

#[test]
#[ignore = "needs root: run by `sudo scripts/test.sh`"]
fn root_enrols_another_user_as_that_user() {
    assert!(nix::unistd::geteuid().is_root(), "this test needs root");
    let nobody = pam_otp_core::userdb::lookup("nobody").unwrap().unwrap();
    let home = Home::new();
    nix::unistd::chown(
        home.root(),
        Some(nix::unistd::Uid::from_raw(nobody.uid)),
        Some(nix::unistd::Gid::from_raw(nobody.gid)),
    )
    .unwrap();
    ok(home.run(
        &["enroll", "--user", "nobody", "--no-confirm", "--qr", "none"],
        "",
    ));
    let meta = std::fs::metadata(home.otp()).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o777), (nobody.uid, 0o600));
    let out = ok(home.run(&["status", "--user", "nobody"], ""));
    assert!(out.contains("Enrolled:        yes"), "{out}");

    // A link planted by the user to a root file: never followed, never replaced as root.
    std::fs::remove_file(home.otp()).unwrap();
    let victim = Home::new();
    let target = victim.path("shadow");
    std::fs::write(&target, "root:secret").unwrap();
    std::os::unix::fs::symlink(&target, home.otp()).unwrap();
    fails(
        home.run(
            &["enroll", "--user", "nobody", "--no-confirm", "--force"],
            "",
        ),
        1,
        "not a regular file",
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "root:secret");
    assert_eq!(std::fs::metadata(&target).unwrap().uid(), 0);
}

#[test]
fn admin_store_is_written_by_root_not_the_user() {
    let store = Home::new();
    let template = format!("{}/users/%u", store.root().display());
    let mut c = store.cli(&[
        "--secret",
        &template,
        "enroll",
        "--no-confirm",
        "--qr",
        "none",
    ]);
    c.env_remove("HOME");
    let out = ok(run_with_input(c, ""));
    let file = store.root().join("users").join(me());
    assert!(out.contains(&file.display().to_string()), "{out}");
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(meta.uid(), nix::unistd::geteuid().as_raw());
    assert_eq!(meta.mode() & 0o777, 0o600);
    if nix::unistd::geteuid().is_root() {
        let dir = std::fs::metadata(store.root().join("users")).unwrap();
        assert_eq!(dir.mode() & 0o777, 0o700, "store directory created private");
    }
    let secret = secret_of(&file);
    let code = oathtool(&["--totp", "-b", &b32(&secret)]);
    assert_eq!(login(&file, &store.state(), &code, &[]), Verdict::Success);
    // The module is given the template itself: the same path comes out.
    let mut host = ScriptedHost::new(&me())
        .answering_every_prompt(oathtool(&["--totp", "-b", &b32(&secret)]).as_bytes());
    let args = [
        format!("secret={template}"),
        format!("state_dir={}", store.state().display()),
    ];
    let v = authenticate(
        &mut host,
        args.iter().map(|a| a.as_bytes()),
        SystemTime::now(),
    );
    assert_eq!(v, Verdict::Deny(Reason::Replay), "{:?}", host.logs);
}

// An ordinary user (root drops to nobody with setpriv)

/// A copy of the built `pam-otp` in `dir`, opened up so every user can run it (the build
/// directory may sit under a private home).
fn world_runnable_cli(dir: &Home) -> PathBuf {
    std::fs::set_permissions(dir.root(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let exe = dir.path("pam-otp");
    std::fs::copy(env!("CARGO_BIN_EXE_pam-otp"), &exe).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    exe
}

/// `pam-otp ARGS` as nobody (root drops privileges with setpriv).
fn as_nobody(cli: &Path, args: &[&str]) -> Output {
    assert!(nix::unistd::geteuid().is_root(), "this test needs root");
    let nobody = || {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(cli)
            .args(args)
            .env_remove("PAM_OTP_SECRET")
            .env_remove("PAM_OTP_STATE_DIR");
        c
    };
    run_copied(nobody, "")
}

#[test]
#[ignore = "needs root: run by `sudo scripts/test.sh`"]
fn ordinary_users_cannot_act_for_others_or_read_root_state() {
    let bin = Home::new();
    let cli = world_runnable_cli(&bin);
    let o = as_nobody(&cli, &["status", "--user", "root"]);
    fails(o, 1, "only root can act for another user");
    let o = as_nobody(&cli, &["unlock", "root"]);
    fails(o, 1, "only root can act for another user");

    let nobody = pam_otp_core::userdb::lookup("nobody").unwrap().unwrap();
    let home = Home::new();
    nix::unistd::chown(
        home.root(),
        Some(nix::unistd::Uid::from_raw(nobody.uid)),
        None,
    )
    .unwrap();
    std::fs::create_dir(home.state()).unwrap();
    std::fs::set_permissions(home.state(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let (h, s) = (home.root().to_str().unwrap(), home.state());
    let s = s.to_str().unwrap();
    let o = as_nobody(
        &cli,
        &[
            "--home",
            h,
            "--state-dir",
            s,
            "enroll",
            "--no-confirm",
            "--qr",
            "none",
        ],
    );
    ok(o);
    assert_eq!(std::fs::metadata(home.otp()).unwrap().uid(), nobody.uid);
    let out = ok(as_nobody(&cli, &["--home", h, "--state-dir", s, "status"]));
    assert!(out.contains("not readable as this user"), "{out}");
    assert!(out.contains("known only to root"), "{out}");
    let o = as_nobody(
        &cli,
        &["--home", h, "--state-dir", s, "reset", "nobody", "--yes"],
    );
    fails(o, 1, "only the owner of");
    assert!(home.otp().exists(), "nothing changed");
}
