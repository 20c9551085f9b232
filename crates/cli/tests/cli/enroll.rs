//! `pam-otp enroll`: what it writes, what it confirms, what it refuses.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::{Output, Stdio};
use std::time::{Duration, SystemTime};

use pam_otp_core::authenticate::{Reason, Verdict};
use pam_otp_core::store::FileStore;

use crate::harness::*;

#[test]
fn enroll_non_interactive_then_the_module_accepts_oathtool_codes() {
    let home = Home::new();
    let out = ok(home.run(&["enroll", "--no-confirm", "--qr", "none"], ""));
    let meta = std::fs::metadata(home.otp()).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o600);
    assert_eq!(meta.uid(), nix::unistd::geteuid().as_raw());
    let secret = secret_of(&home.otp());
    assert_eq!(secret.key.len(), 20, "160 bits by default");
    assert_eq!(secret.recovery.len(), 10);
    assert!(out.contains(&b32(&secret)[..4]));
    // The secret in groups for typing by hand.
    let grouped: String = b32(&secret)
        .as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(out.contains(&grouped), "{out}");

    let code = oathtool(&["--totp", "-b", &b32(&secret)]);
    assert_eq!(
        login(&home.otp(), &home.state(), &code, &[]),
        Verdict::Success
    );
    assert_eq!(
        login(&home.otp(), &home.state(), &code, &[]),
        Verdict::Deny(Reason::Replay)
    );

    // A recovery code works once; the file holds no code in clear.
    let codes = recovery_codes(&out);
    assert_eq!(codes.len(), 10, "{out}");
    let text = std::fs::read_to_string(home.otp()).unwrap();
    for c in &codes {
        assert!(!text.contains(&c.replace('-', "")) && !text.contains(c.as_str()));
    }
    assert_eq!(
        login(&home.otp(), &home.state(), &codes[3], &[]),
        Verdict::Success
    );
    assert_eq!(
        login(&home.otp(), &home.state(), &codes[3], &[]),
        Verdict::Deny(Reason::Replay)
    );
    let status = ok(home.run(&["status"], ""));
    assert!(status.contains("9 of 10 unused"), "{status}");
}

#[test]
fn enroll_hotp_and_uncommon_parameters() {
    let home = Home::new();
    let out = ok(home.run(
        &[
            "enroll",
            "--no-confirm",
            "--type",
            "hotp",
            "--digits",
            "8",
            "--recovery-codes",
            "0",
            "--qr",
            "none",
        ],
        "",
    ));
    assert!(out.contains("many apps"), "warns about app support: {out}");
    let uri = uri_line(&out);
    assert!(uri.starts_with("otpauth://hotp/"), "{uri}");
    assert!(uri.contains("&algorithm=SHA1&digits=8&counter=0"), "{uri}");
    let secret = secret_of(&home.otp());
    assert!(secret.recovery.is_empty());
    // oathtool computes HOTP with SHA1 only; the other algorithms are cross-checked as TOTP.
    let code = oathtool(&["--hotp", "-d", "8", "-c", "0", "-b", &b32(&secret)]);
    assert_eq!(
        login(&home.otp(), &home.state(), &code, &[]),
        Verdict::Success
    );

    let t = Home::new();
    ok(t.run(
        &[
            "enroll",
            "--no-confirm",
            "--algorithm",
            "sha512",
            "--digits",
            "7",
            "--period",
            "60",
            "--bits",
            "256",
            "--qr",
            "none",
        ],
        "",
    ));
    let s = secret_of(&t.otp());
    assert_eq!(s.key.len(), 32);
    let code = oathtool(&["--totp=sha512", "-d", "7", "-s", "60s", "-b", &b32(&s)]);
    assert_eq!(login(&t.otp(), &t.state(), &code, &[]), Verdict::Success);
}

#[test]
fn uri_carries_every_parameter_and_names() {
    let home = Home::new();
    let out = ok(home.run(
        &[
            "enroll",
            "--no-confirm",
            "--issuer",
            "Acme Corp",
            "--label",
            "alice@web1",
            "--qr",
            "none",
        ],
        "",
    ));
    let secret = secret_of(&home.otp());
    assert_eq!(
        uri_line(&out),
        format!(
            "otpauth://totp/Acme%20Corp:alice%40web1?secret={}&issuer=Acme%20Corp&algorithm=SHA1&digits=6&period=30",
            b32(&secret)
        )
    );
}

/// Spawns `enroll` without --no-confirm, reads the URI it prints, and answers with
/// `answer(secret)` lines on standard input.
fn enroll_confirming(home: &Home, extra: &[&str], answer: impl Fn(&str) -> String) -> Output {
    let mut args = vec!["enroll", "--qr", "none"];
    args.extend_from_slice(extra);
    let mut child = home
        .cli(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    let secret = loop {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0, "no URI in {seen}");
        seen.push_str(&line);
        if let Some(rest) = line.trim().strip_prefix("otpauth://") {
            let q = rest.split_once("secret=").unwrap().1;
            break q.split('&').next().unwrap().to_string();
        }
    };
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(answer(&secret).as_bytes());
    drop(stdin);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut reader, &mut rest).unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    let status = child.wait().unwrap();
    Output {
        status,
        stdout: (seen + &rest).into_bytes(),
        stderr: err.into_bytes(),
    }
}

#[test]
fn enroll_saves_only_after_a_matching_code() {
    let home = Home::new();
    std::fs::create_dir(home.state()).unwrap();
    std::fs::set_permissions(home.state(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let out = ok(enroll_confirming(&home, &[], |s| {
        format!("{}\n", oathtool(&["--totp", "-b", s]))
    }));
    assert!(out.contains("Saved"), "{out}");
    // The code typed to confirm was seen on screen: it cannot log in.
    let secret = secret_of(&home.otp());
    let code = oathtool(&["--totp", "-b", &b32(&secret)]);
    let step_now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 30;
    let state = FileStore::new(home.state(), Duration::from_secs(1))
        .load(nix::unistd::geteuid().as_raw())
        .unwrap();
    assert!(
        state.last_step.is_some_and(|s| s + 2 >= step_now),
        "{state:?}"
    );
    if state.last_step == Some(step_now) {
        assert_eq!(
            login(&home.otp(), &home.state(), &code, &[]),
            Verdict::Deny(Reason::Replay)
        );
    }

    // Wrong codes three times, then nothing is written.
    let wrong = Home::new();
    let o = enroll_confirming(&wrong, &[], |s| {
        let right: u32 = oathtool(&["--totp", "-b", s]).parse().unwrap();
        let bad = format!("{:06}\n", (right + 500_000) % 1_000_000);
        bad.repeat(3)
    });
    fails(o, 1, "nothing was saved");
    assert!(!wrong.otp().exists());

    // End of input: nothing is written either.
    let eof = Home::new();
    let o = enroll_confirming(&eof, &[], |_| String::new());
    fails(o, 1, "no code was typed");
    assert!(!eof.otp().exists());
    assert_eq!(
        std::fs::read_dir(eof.root()).unwrap().count(),
        0,
        "no temp files"
    );

    // HOTP: the confirming code is used up, so the module wants the next one.
    let h = Home::new();
    ok(enroll_confirming(&h, &["--type", "hotp"], |s| {
        format!("{}\n", oathtool(&["--hotp", "-c", "0", "-b", s]))
    }));
    let secret = secret_of(&h.otp());
    let first = oathtool(&["--hotp", "-c", "0", "-b", &b32(&secret)]);
    let second = oathtool(&["--hotp", "-c", "1", "-b", &b32(&secret)]);
    assert_eq!(
        login(&h.otp(), &h.state(), &first, &[]),
        Verdict::Deny(Reason::BadCode)
    );
    assert_eq!(login(&h.otp(), &h.state(), &second, &[]), Verdict::Success);
}

#[test]
fn enroll_refuses_to_replace_without_force_and_backs_up_with_it() {
    let home = Home::new();
    ok(home.run(&["enroll", "--no-confirm", "--qr", "none"], ""));
    let before = std::fs::read(home.otp()).unwrap();
    let err = fails(
        home.run(&["enroll", "--no-confirm", "--qr", "none"], ""),
        1,
        "already exists",
    );
    assert!(err.contains("--force"), "{err}");
    assert_eq!(std::fs::read(home.otp()).unwrap(), before);

    let out = ok(home.run(&["enroll", "--no-confirm", "--force", "--qr", "none"], ""));
    assert!(out.contains(".otp.bak"), "{out}");
    assert_eq!(std::fs::read(home.path(".otp.bak")).unwrap(), before);
    assert_ne!(std::fs::read(home.otp()).unwrap(), before);
    let bak = std::fs::metadata(home.path(".otp.bak")).unwrap();
    assert_eq!(bak.mode() & 0o777, 0o600);
    let mut names: Vec<_> = std::fs::read_dir(home.root())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        // The harness's state directory, which enrolment as root creates (audit 9, item 7).
        .filter(|n| n != "state")
        .collect();
    names.sort();
    assert_eq!(names, vec![".otp", ".otp.bak"]);
}

#[test]
fn enroll_error_paths_write_nothing() {
    let home = Home::new();
    let cases: &[(&[&str], &str)] = &[
        (
            &["--type", "hotp", "--period", "60"],
            "--period applies to --type totp",
        ),
        (&["--counter", "3"], "--counter applies to --type hotp"),
        (&["--bits", "100"], "multiple of 8"),
        (&["--bits", "96"], "min_secret_bits=128"),
        (&["--issuer", "a:b"], "--issuer must not contain ':'"),
        (&["--label", ""], "--label must not be empty"),
        (
            &["--user", "no-such-user-pam-otp"],
            "there is no user named",
        ),
    ];
    for (extra, needle) in cases {
        let mut args = vec!["enroll", "--no-confirm", "--qr", "none"];
        args.extend_from_slice(extra);
        fails(home.run(&args, ""), 1, needle);
    }
    fails(
        home.run(&["--secret", "relative/path", "enroll", "--no-confirm"], ""),
        1,
        "--secret: must be an absolute path",
    );
    fails(
        home.run(&["--min-secret-bits", "8", "status"], ""),
        1,
        "--min-secret-bits: must be 80 to 1024",
    );
    // clap's own usage errors exit 2.
    fails(home.run(&["enroll", "--digits", "9"], ""), 2, "--digits");
    fails(home.run(&["enroll", "--algorithm", "md5"], ""), 2, "md5");
    assert_eq!(std::fs::read_dir(home.root()).unwrap().count(), 0);

    // A directory others may write to: the module would refuse the file, so no file.
    let open = Home::new();
    std::fs::set_permissions(open.root(), std::fs::Permissions::from_mode(0o777)).unwrap();
    fails(
        open.run(&["enroll", "--no-confirm"], ""),
        1,
        "writable by group or others",
    );
    assert_eq!(std::fs::read_dir(open.root()).unwrap().count(), 0);

    // A home that does not exist.
    let gone = Home::new();
    let mut c = gone.cli(&["enroll", "--no-confirm"]);
    c.args(["--home", "/nonexistent/pam-otp-test"]);
    fails(run_with_input(c, ""), 1, "does not exist");
}

#[test]
fn enroll_never_follows_a_symlink() {
    let home = Home::new();
    let victim = home.path("victim");
    std::fs::write(&victim, "precious").unwrap();
    std::os::unix::fs::symlink(&victim, home.otp()).unwrap();
    fails(
        home.run(&["enroll", "--no-confirm"], ""),
        1,
        "already exists",
    );
    fails(
        home.run(&["enroll", "--no-confirm", "--force"], ""),
        1,
        "not a regular file",
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(std::fs::symlink_metadata(home.otp())
        .unwrap()
        .file_type()
        .is_symlink());
}
