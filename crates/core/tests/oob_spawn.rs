//! Starting the delivery helper (`pam_otp_core::oob::spawn`) as the module will: real
//! processes, as root (setuid to nobody needs it), so these are `#[ignore]`d; run with
//! `cargo test -p pam-otp-core --test oob_spawn -- --include-ignored`.
//!
//! The helpers are shell scripts in a root-owned directory under cargo's target directory
//! (the temp dir is world-writable, so the path check would rightly refuse it), recording
//! what they saw into a directory nobody may write.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use pam_otp_core::oob::code::{OneTimeCode, OsRandom};
use pam_otp_core::oob::contact::Contact;
use pam_otp_core::oob::exit::HelperExit;
use pam_otp_core::oob::spawn::{deliver, Helper, PathProblem, Request, SpawnError};
use pam_otp_core::testing::{HelperDir, NOBODY};

/// A root-safe place for this test's helper scripts.
fn place(name: &str) -> HelperDir {
    HelperDir::new(&format!("oob_spawn_{name}"))
}

fn run(
    path: &Path,
    timeout: Duration,
) -> (
    Result<pam_otp_core::oob::spawn::Delivered, SpawnError>,
    String,
) {
    let contact = Contact::parse("email:alice@example.org").unwrap();
    let code = OneTimeCode::generate(8, &mut OsRandom).unwrap();
    let helper = Helper {
        path,
        uid: NOBODY,
        gid: NOBODY,
        timeout,
        conf: None,
    };
    let request = Request {
        user: "alice",
        contact: &contact,
        service: "sshd",
        expires_at: 1_900_000_120,
        code: &code,
    };
    let outcome = deliver(&helper, &request);
    (
        outcome,
        String::from_utf8(code.as_bytes().to_vec()).unwrap(),
    )
}

/// Processes still alive (not zombies) in process group `pgid`.
fn live_in_group(pgid: u32) -> Vec<String> {
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp ...: comm may hold spaces, so split after the ')'.
        let Some((_, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        let fields: Vec<&str> = rest.split(' ').collect();
        if fields.get(2) == Some(&pgid.to_string().as_str()) && fields[0] != "Z" {
            found.push(stat);
        }
    }
    found
}

#[test]
#[ignore = "root: the helper runs as nobody"]
fn the_helper_sees_only_the_fixed_environment_and_the_code_on_stdin() {
    let place = place("record");
    // A descriptor the test process opens without O_CLOEXEC, as a careless host might.
    let leak_path = place.dir.join("leaked-descriptor-marker");
    fs::write(&leak_path, b"x").unwrap();
    let c_path = std::ffi::CString::new(leak_path.to_str().unwrap()).unwrap();
    // SAFETY: a valid C string; the descriptor is closed below.
    let leak = unsafe { libc::open(c_path.as_ptr(), libc::O_RDONLY) };
    assert!(leak >= 0);
    let helper = place.script(
        "record.sh",
        r#"read -r code
printf '%s\n' "$code" > $out/stdin
printf '%s\n' "$#" > $out/argc
/usr/bin/env > $out/env
/usr/bin/id -u > $out/id; /usr/bin/id -g >> $out/id; /usr/bin/id -G >> $out/id
/bin/ls -l /proc/$$/fd/ > $out/fds 2>&1
/usr/bin/cut -d' ' -f5 /proc/$$/stat > $out/pgid
echo $$ > $out/pid
/bin/pwd > $out/cwd
echo message-id-1
echo more"#,
    );
    let (outcome, code) = run(&helper, Duration::from_secs(10));
    // SAFETY: our own descriptor, opened above.
    unsafe { libc::close(leak) };
    let delivered = outcome.unwrap();
    assert_eq!(delivered.stdout, "message-id-1");
    assert_eq!(place.read("stdin"), format!("{code}\n"));
    assert_eq!(place.read("argc"), "0\n");
    let mut env: Vec<String> = place.read("env").lines().map(str::to_owned).collect();
    env.sort();
    // dash exports PWD itself, for the commands it runs; nothing else but the fixed set.
    assert_eq!(
        env,
        [
            "PAM_OTP_CHANNEL=email",
            "PAM_OTP_CONTACT=alice@example.org",
            "PAM_OTP_EXPIRES=1900000120",
            "PAM_OTP_SERVICE=sshd",
            "PAM_OTP_USER=alice",
            "PWD=/",
        ]
    );
    assert!(!place.read("env").contains(&code));
    assert_eq!(
        place.read("id"),
        "65534\n65534\n65534\n",
        "no supplementary group kept"
    );
    let fds = place.read("fds");
    assert!(!fds.contains("leaked-descriptor-marker"), "{fds}");
    assert_eq!(
        place.read("pgid").trim(),
        place.read("pid").trim(),
        "its own group"
    );
    assert_eq!(place.read("cwd"), "/\n");
}

#[test]
#[ignore = "root: the helper runs as nobody"]
fn a_hanging_helper_is_killed_at_the_timeout_with_its_children() {
    let place = place("hang");
    let helper = place.script(
        "hang.sh",
        "echo $$ > $out/pid\n/bin/sleep 300 &\necho $! > $out/child\n/bin/sleep 300",
    );
    let start = Instant::now();
    let (outcome, _) = run(&helper, Duration::from_secs(1));
    let took = start.elapsed();
    assert_eq!(outcome, Err(SpawnError::TimedOut(Duration::from_secs(1))));
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(3),
        "{took:?}"
    );
    let pgid: u32 = place.read("pid").trim().parse().unwrap();
    let child: u32 = place.read("child").trim().parse().unwrap();
    assert_ne!(pgid, child);
    // SIGKILL is delivered at once, but the children of the group are reaped by init.
    let until = Instant::now() + Duration::from_secs(2);
    while !live_in_group(pgid).is_empty() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(live_in_group(pgid), Vec::<String>::new());
    // The helper itself was reaped by us: no zombie of ours.
    let stat = fs::read_to_string(format!("/proc/{pgid}/stat")).unwrap_or_default();
    assert!(stat.is_empty(), "helper still there: {stat}");
}

#[test]
#[ignore = "root: the helper runs as nobody"]
fn a_helper_that_exits_leaving_a_child_behind_returns_at_once_and_the_child_dies() {
    let place = place("orphan");
    let helper = place.script(
        "orphan.sh",
        "echo $$ > $out/pid\n/bin/sleep 300 &\necho done",
    );
    let start = Instant::now();
    let (outcome, _) = run(&helper, Duration::from_secs(10));
    assert_eq!(outcome.unwrap().stdout, "done");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    let pgid: u32 = place.read("pid").trim().parse().unwrap();
    let until = Instant::now() + Duration::from_secs(2);
    while !live_in_group(pgid).is_empty() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(live_in_group(pgid), Vec::<String>::new());
}

#[test]
#[ignore = "root: the helper runs as nobody"]
fn a_failing_helper_gives_its_exit_kind_and_a_line_without_the_code() {
    let place = place("fail");
    let refused = place.script(
        "refused.sh",
        "read -r code\necho \"provider said no to $code\" >&2\necho second >&2\nexit 69",
    );
    let (outcome, code) = run(&refused, Duration::from_secs(10));
    let Err(SpawnError::Failed { exit, message }) = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(exit, HelperExit::Refused);
    assert_eq!(message, "provider said no to •••");
    assert!(!message.contains(&code));
    for (status, want) in [
        (65, HelperExit::BadContact),
        (75, HelperExit::Unreachable),
        (78, HelperExit::BadConfig),
        (3, HelperExit::Other(3)),
    ] {
        let h = place.script(&format!("exit{status}.sh"), &format!("exit {status}"));
        let (outcome, _) = run(&h, Duration::from_secs(10));
        assert_eq!(
            outcome,
            Err(SpawnError::Failed {
                exit: want,
                message: String::new()
            })
        );
    }
    let killed = place.script("killed.sh", "kill -TERM $$");
    assert_eq!(
        run(&killed, Duration::from_secs(10)).0,
        Err(SpawnError::Signalled(15))
    );
}

#[test]
#[ignore = "root: the helper runs as nobody"]
fn a_chatty_helper_cannot_block_and_its_output_is_bounded() {
    let place = place("chatty");
    let helper = place.script(
        "chatty.sh",
        "/usr/bin/head -c 2000000 /dev/zero | /usr/bin/tr '\\0' x\n/usr/bin/head -c 2000000 /dev/zero >&2",
    );
    let (outcome, _) = run(&helper, Duration::from_secs(10));
    let out = outcome.unwrap().stdout;
    assert_eq!(out, "x".repeat(200));
}

#[test]
#[ignore = "root: the path checks need root-owned files"]
fn unsafe_helper_paths_are_refused_and_not_run() {
    let place = place("unsafe");
    let body = "touch $out/ran";
    let good = place.script("good.sh", body);
    assert!(run(&good, Duration::from_secs(10)).0.is_ok());
    assert!(place.record.join("ran").exists());
    fs::remove_file(place.record.join("ran")).unwrap();

    let group_writable = place.script("gw.sh", body);
    fs::set_permissions(&group_writable, fs::Permissions::from_mode(0o775)).unwrap();
    let not_root = place.script("user.sh", body);
    std::os::unix::fs::chown(&not_root, Some(1000), None).unwrap();
    let link = place.dir.join("link.sh");
    symlink(&good, &link).unwrap();
    let open_dir = place.dir.join("open");
    fs::create_dir(&open_dir).unwrap();
    fs::set_permissions(&open_dir, fs::Permissions::from_mode(0o777)).unwrap();
    let in_open_dir = open_dir.join("x.sh");
    fs::copy(&good, &in_open_dir).unwrap();
    let not_exec = place.script("noexec.sh", body);
    fs::set_permissions(&not_exec, fs::Permissions::from_mode(0o644)).unwrap();
    for (path, want) in [
        (group_writable, PathProblem::Writable),
        (not_root, PathProblem::NotRootOwned),
        (link, PathProblem::Symlink),
        (in_open_dir, PathProblem::Writable),
        (not_exec, PathProblem::NotExecutable),
        (place.dir.clone(), PathProblem::NotRegular),
    ] {
        let (outcome, _) = run(&path, Duration::from_secs(10));
        assert_eq!(
            outcome,
            Err(SpawnError::UnsafeHelper(want)),
            "{}",
            path.display()
        );
    }
    assert!(!place.record.join("ran").exists(), "an unsafe helper ran");
}
