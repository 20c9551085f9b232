//! `pam-otp` run as root must not become a way to rename, replace or read root's files
//! (audit issue 9, item 5), and `sudo pam-otp enroll` must not enrol root by surprise.
//!
//! - A secret template that names the same file for every user (`--secret /etc/shadow`) is
//!   refused, by the CLI and by the module's own `secret=` parser.
//! - `reset` (which renames the secret file to its backup) and `enroll --force` (which copies
//!   it to a backup and replaces it) touch an existing file only if the module itself would
//!   read it as that user's secret: a regular file, owned as expected, no group or other
//!   permission bits, one link, in a directory others cannot write, and a valid secret file.
//! - `PAM_OTP_*` variables, which `sudo` keeps with `env_keep`, are not read at all.
//! - Run through `sudo` without `--user`, enrolling (and every other command that would act
//!   for "yourself") is refused, naming both `--user SUDO_USER` and `--user root`.
//!
//! The root-only cases are `#[ignore]`d: `cargo test --test root_cli_file_safety -- --include-ignored`.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use pam_otp_testkit::built::module_path;
use pam_otp_testkit::client::Client;
use pam_otp_testkit::codes::{Key, Totp};
use pam_otp_testkit::pam_ffi::{PAM_SERVICE_ERR, PAM_SUCCESS};
use pam_otp_testkit::users::current_user;
use pam_otp_testkit::whole_process::Env;
use pam_otp_testkit::{names_in, write_file, TestDir};

// ---------------------------------------------------------------------------------------
// Harness

/// `pam-otp ARGS` with no `PAM_OTP_*` or `SUDO_*` variables, stdin closed, plus `env`.
fn cli(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(pam_otp_testkit::built::cli_path());
    c.args(args).stdin(Stdio::null());
    for name in [
        "PAM_OTP_SECRET",
        "PAM_OTP_STATE_DIR",
        "PAM_OTP_MIN_SECRET_BITS",
        "SUDO_USER",
        "SUDO_UID",
        "SUDO_GID",
        "SUDO_COMMAND",
        "DOAS_USER",
        "PKEXEC_UID",
    ] {
        c.env_remove(name);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run pam-otp")
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Asserts exit status 1 and a message on stderr containing `needle`.
#[track_caller]
fn refused(o: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{}", text(o));
    assert!(
        err.contains(needle),
        "stderr lacks {needle:?}:\n{}",
        text(o)
    );
}

/// Everything about a directory entry that a rename, a copy or a rewrite would change.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    ino: u64,
    mode: u32,
    uid: u32,
    nlink: u64,
    /// The link's target for a symbolic link, the bytes otherwise.
    bytes: Vec<u8>,
}

fn snapshot(path: &Path) -> Snapshot {
    let m = fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let bytes = if m.file_type().is_symlink() {
        fs::read_link(path)
            .unwrap()
            .into_os_string()
            .into_encoded_bytes()
    } else {
        fs::read(path).unwrap()
    };
    Snapshot {
        ino: m.ino(),
        mode: m.mode(),
        uid: m.uid(),
        nlink: m.nlink(),
        bytes,
    }
}

fn chown(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).unwrap();
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// A valid secret file's text: what `reset` and `enroll --force` would otherwise act on.
const SECRET_TEXT: &str = "secret = GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\n";

fn nobody() -> pam_otp_core::userdb::Account {
    pam_otp_core::userdb::lookup("nobody")
        .unwrap()
        .expect("a user named nobody")
}

fn require_root() {
    assert!(nix::unistd::geteuid().is_root(), "this test needs root");
}

/// Asserts exit status 0.
#[track_caller]
fn succeeded(o: &Output) {
    assert!(o.status.success(), "{}", text(o));
}

/// `base`, then `cmd`: the arguments of one `pam-otp` run.
fn then<'a>(base: &[&'a str], cmd: &[&'a str]) -> Vec<&'a str> {
    base.iter().chain(cmd).copied().collect()
}

/// `--secret TEMPLATE --state-dir STATE`.
fn secret_options<'a>(template: &'a str, state: &'a Path) -> [&'a str; 4] {
    ["--secret", template, "--state-dir", state.to_str().unwrap()]
}

/// `--home HOME --state-dir STATE`.
fn home_options<'a>(home: &'a Path, state: &'a Path) -> [&'a str; 4] {
    [
        "--home",
        home.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
    ]
}

/// `enroll --user USER --force --no-confirm --qr none`: replaces USER's secret.
fn force_enrol(user: &str) -> [&str; 7] {
    [
        "enroll",
        "--user",
        user,
        "--force",
        "--no-confirm",
        "--qr",
        "none",
    ]
}

/// A new directory `name` in `parent`, mode 0700.
fn private_dir(parent: &Path, name: &str) -> PathBuf {
    let dir = parent.join(name);
    fs::create_dir(&dir).unwrap();
    chmod(&dir, 0o700);
    dir
}

/// An admin secret store `users` (mode 0700) in `t`, and its template `<store>/%u`.
fn admin_store(t: &TestDir) -> (PathBuf, String) {
    let store = private_dir(t.path(), "users");
    let template = format!("{}/%u", store.display());
    (store, template)
}

// ---------------------------------------------------------------------------------------
// Templates that name one file for every user

/// Templates that expand to the same path whatever the user: `%%` is a literal percent.
const FIXED_TEMPLATES: &[&str] = &["", "%%u", "%%h/x"];

#[test]
fn user_independent_templates_are_refused_by_the_cli() {
    let dir = TestDir::new();
    let me = current_user();
    let state = dir.path().join("state");
    for suffix in FIXED_TEMPLATES {
        let file = dir.path().join("shared");
        write_file(&file, SECRET_TEXT.as_bytes(), 0o600);
        let template = format!("{}{suffix}", file.display());
        let before = snapshot(&file);
        let base = secret_options(&template, &state);
        for cmd in [
            &["enroll", "--no-confirm", "--qr", "none", "--force"][..],
            &["reset", &me.name, "--yes"][..],
            &["status"][..],
            &["recovery", "--regenerate"][..],
        ] {
            let o = cli(&then(&base, cmd), &[]);
            refused(&o, "--secret: must contain %u, %U or %h");
            assert_eq!(
                snapshot(&file),
                before,
                "{template} {cmd:?} changed the file"
            );
        }
        fs::remove_file(&file).unwrap();
        let left: Vec<String> = names_in(dir.path())
            .into_iter()
            .filter(|n| n != "state")
            .collect();
        assert!(left.is_empty(), "{template}: left {left:?}");
    }
}

#[test]
fn user_independent_templates_are_refused_by_the_module() {
    let env = Env::new();
    let key = Key::random(20);
    env.write_secret(&key, "");
    // The same file the template with %u names, given as a fixed path.
    let fixed = format!(
        "auth required {} secret={} state_dir={}\n",
        module_path().display(),
        env.secret_path().display(),
        env.state_dir().display()
    );
    env.service("fixed", &fixed);
    env.run("fixed", &Client::answer(Totp::default().now(&key)))
        .expect(PAM_SERVICE_ERR, "bad_args")
        .expect_prompts(0)
        .expect_line_contains("must contain %u, %U or %h");
    // The same stack with the template is fine.
    env.otp_service("");
    env.run("otp", &Client::answer(Totp::default().now(&key)))
        .expect(PAM_SUCCESS, "ok");
}

#[test]
#[ignore = "needs root: cargo test --test root_cli_file_safety -- --include-ignored"]
fn root_cannot_point_the_cli_at_a_root_file() {
    require_root();
    // A root-owned private file in a root-owned directory: it passes every file check, so
    // only the template rule protects it (as it would /etc/shadow or an ssh host key).
    let dir = TestDir::new();
    let victim = dir.path().join("root-file");
    write_file(&victim, b"root:precious:19000::::::\n", 0o600);
    let before = snapshot(&victim);
    let template = victim.to_str().unwrap();
    let state = dir.path().join("state");
    let base = secret_options(template, &state);
    for cmd in [
        &["reset", "root", "--yes"][..],
        &force_enrol("root")[..],
        &["status", "--user", "root"][..],
        &["recovery", "--user", "root", "--regenerate"][..],
    ] {
        refused(
            &cli(&then(&base, cmd), &[]),
            "--secret: must contain %u, %U or %h",
        );
        assert_eq!(snapshot(&victim), before, "{cmd:?}");
        assert_eq!(names_in(dir.path()), vec!["root-file"], "{cmd:?}");
    }
}

// ---------------------------------------------------------------------------------------
// reset and enroll --force on a file the module would refuse

/// One planted shape at the secret file's place.
struct Plant {
    what: &'static str,
    /// The refusal's message contains one of these.
    why: &'static [&'static str],
}

const PLANTS: &[Plant] = &[
    Plant {
        what: "symlink",
        why: &["not a regular file"],
    },
    Plant {
        what: "mode 0644",
        why: &["accessible to group or others"],
    },
    Plant {
        what: "hard link",
        why: &["more than one hard link"],
    },
    Plant {
        what: "someone else's",
        // In a home, the user cannot even open a root file to look at its owner.
        why: &[
            "not owned by the expected user",
            "read the existing file: Permission denied",
        ],
    },
    Plant {
        what: "not a secret file",
        why: &["not a pam_otp secret file"],
    },
];

/// Plants `plant` at `path`. `owner` is who the module expects to own the file, `other`
/// someone else; `victim` is a root file elsewhere that links may point at.
fn plant(plant: &Plant, path: &Path, owner: (u32, u32), other: (u32, u32), victim: &Path) {
    match plant.what {
        "symlink" => std::os::unix::fs::symlink(victim, path).unwrap(),
        "mode 0644" => {
            write_file(path, SECRET_TEXT.as_bytes(), 0o644);
            chown(path, owner.0, owner.1);
        }
        "hard link" => fs::hard_link(victim, path).unwrap(),
        "someone else's" => {
            write_file(path, SECRET_TEXT.as_bytes(), 0o600);
            chown(path, other.0, other.1);
        }
        "not a secret file" => {
            write_file(
                path,
                b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI root@host\n",
                0o600,
            );
            chown(path, owner.0, owner.1);
        }
        other => panic!("unknown plant {other}"),
    }
}

/// For each planted shape: `reset` and `enroll --force` are refused, and neither the entry,
/// the victim nor the directory listing changes.
fn refuses_every_plant(
    layout: &str,
    secret_dir: &Path,
    secret_name: &str,
    base: &[&str],
    owner: (u32, u32),
    other: (u32, u32),
) {
    let victims = TestDir::new();
    let path = secret_dir.join(secret_name);
    for p in PLANTS {
        // The hard-link victim must be the expected owner's, so that only the link count
        // is wrong; the symlink victim is root's.
        let victim = victims.path().join("victim");
        write_file(&victim, SECRET_TEXT.as_bytes(), 0o600);
        if p.what == "hard link" {
            chown(&victim, owner.0, owner.1);
        }
        let victim_before = snapshot(&victim);
        plant(p, &path, owner, other, &victim);
        let entry_before = snapshot(&path);
        let listing = names_in(secret_dir);
        for cmd in [
            &["reset", "nobody", "--yes"][..],
            &force_enrol("nobody")[..],
        ] {
            let o = cli(&then(base, cmd), &[]);
            assert_eq!(o.status.code(), Some(1), "{}", text(&o));
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(
                p.why.iter().any(|w| err.contains(w)),
                "{:?}: {}",
                p.why,
                text(&o)
            );
            let what = format!("{layout}, {}: {cmd:?}", p.what);
            assert_eq!(snapshot(&path), entry_before, "{what}: entry changed");
            assert_eq!(names_in(secret_dir), listing, "{what}: directory changed");
            let victim_now = snapshot(&victim);
            assert_eq!(
                (
                    victim_now.ino,
                    victim_now.uid,
                    victim_now.mode,
                    &victim_now.bytes
                ),
                (
                    victim_before.ino,
                    victim_before.uid,
                    victim_before.mode,
                    &victim_before.bytes
                ),
                "{what}: victim changed"
            );
        }
        fs::remove_file(&path).unwrap();
        fs::remove_file(&victim).unwrap();
    }
}

#[test]
#[ignore = "needs root: cargo test --test root_cli_file_safety -- --include-ignored"]
fn reset_and_force_leave_unsafe_files_in_an_admin_store_alone() {
    require_root();
    let n = nobody();
    let t = TestDir::new();
    let (store, template) = admin_store(&t);
    let state = t.path().join("state");
    let base = secret_options(&template, &state);
    refuses_every_plant(
        "admin store",
        &store,
        "nobody",
        &base,
        (0, 0),
        (n.uid, n.gid),
    );
}

#[test]
#[ignore = "needs root: cargo test --test root_cli_file_safety -- --include-ignored"]
fn reset_and_force_leave_unsafe_files_in_a_home_alone() {
    require_root();
    let n = nobody();
    let t = TestDir::new();
    // nobody must be able to reach its home.
    chmod(t.path(), 0o711);
    let home = private_dir(t.path(), "home");
    chown(&home, n.uid, n.gid);
    let state = t.path().join("state");
    let base = home_options(&home, &state);
    refuses_every_plant("home", &home, ".otp", &base, (n.uid, n.gid), (0, 0));
}

#[test]
#[ignore = "needs root: cargo test --test root_cli_file_safety -- --include-ignored"]
fn reset_and_force_still_work_on_a_good_secret_file() {
    require_root();
    let t = TestDir::new();
    let (store, template) = admin_store(&t);
    let state = t.path().join("state");
    let base = secret_options(&template, &state);
    let file = store.join("nobody");
    write_file(&file, SECRET_TEXT.as_bytes(), 0o600);
    succeeded(&cli(&then(&base, &force_enrol("nobody")), &[]));
    assert_eq!(
        fs::read(store.join(".nobody.bak")).unwrap(),
        SECRET_TEXT.as_bytes()
    );
    succeeded(&cli(&then(&base, &["reset", "nobody", "--yes"]), &[]));
    assert_eq!(names_in(&store), vec![".nobody.bak"]);
}

// ---------------------------------------------------------------------------------------
// The environment

#[test]
fn pam_otp_variables_are_not_read() {
    let dir = TestDir::new();
    let home = private_dir(dir.path(), "home");
    let elsewhere = private_dir(dir.path(), "elsewhere");
    let redirect = format!("{}/%u", elsewhere.display());
    let state = dir.path().join("state");
    for (name, value) in [
        ("PAM_OTP_SECRET", redirect.as_str()),
        ("PAM_OTP_STATE_DIR", elsewhere.to_str().unwrap()),
        ("PAM_OTP_MIN_SECRET_BITS", "80"),
    ] {
        let o = cli(
            &then(
                &home_options(&home, &state),
                &["enroll", "--no-confirm", "--qr", "none", "--bits", "80"],
            ),
            &[(name, value)],
        );
        refused(&o, &format!("{name} is set"));
        assert!(
            names_in(&home).is_empty(),
            "{name}: wrote {:?}",
            names_in(&home)
        );
        assert!(
            names_in(&elsewhere).is_empty(),
            "{name}: wrote {:?}",
            names_in(&elsewhere)
        );
    }
}

// ---------------------------------------------------------------------------------------
// sudo pam-otp enroll

#[test]
#[ignore = "needs root: cargo test --test root_cli_file_safety -- --include-ignored"]
fn sudo_without_user_does_not_act_for_root() {
    require_root();
    let t = TestDir::new();
    let home = private_dir(t.path(), "home");
    let state = t.path().join("state");
    let paths = home_options(&home, &state);
    let sudo = [("SUDO_USER", "nobody"), ("SUDO_UID", "65534")];
    for cmd in [
        &["enroll", "--no-confirm", "--qr", "none"][..],
        &["status"][..],
        &["recovery", "--regenerate"][..],
        &["import"][..],
    ] {
        let o = cli(&then(&paths, cmd), &sudo);
        refused(&o, "--user nobody");
        refused(&o, "--user root");
        assert!(
            names_in(&home).is_empty(),
            "{cmd:?} wrote {:?}",
            names_in(&home)
        );
    }
    // doas says who ran it too.
    let status = then(&paths, &["status"]);
    refused(&cli(&status, &[("DOAS_USER", "nobody")]), "--user nobody");
    // Saying so is enough.
    let enrol = then(
        &paths,
        &["enroll", "--user", "root", "--no-confirm", "--qr", "none"],
    );
    succeeded(&cli(&enrol, &sudo));
    assert_eq!(names_in(&home), vec![".otp"]);
    // sudo run by root itself (SUDO_UID=0) is root acting for root.
    succeeded(&cli(&status, &[("SUDO_USER", "root"), ("SUDO_UID", "0")]));
}
