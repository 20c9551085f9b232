//! The `pam-otp` command, run as a user would run it, with every path redirected into a
//! temporary directory. What it writes is then put through the module's own decision path
//! (`pam_otp::authenticate::authenticate` with a scripted host), with codes computed by
//! `oathtool`, an independent implementation.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime};

use pam_otp::authenticate::{authenticate, Host, Level, Reason, Verdict};
use pam_otp::secret_file::{encode_base32, SecretFile};
use pam_otp::state::State;
use pam_otp::store::{FileStore, StateStore};
use zeroize::Zeroizing;

// ---------------------------------------------------------------------------------------
// Harness

/// A private temporary directory (mode 0700), removed on drop.
struct Temp(PathBuf);

impl Temp {
    fn new(tag: &str) -> Temp {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "pam-otp-cli-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir(&p).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700)).unwrap();
        Temp(p)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    fn otp(&self) -> PathBuf {
        self.path(".otp")
    }
    fn state(&self) -> PathBuf {
        self.path("state")
    }
    /// `--home HOME --state-dir HOME/state`, then `args`.
    fn cli(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_pam-otp"));
        c.arg("--home")
            .arg(&self.0)
            .arg("--state-dir")
            .arg(self.state())
            .args(args)
            .env_remove("PAM_OTP_SECRET")
            .env_remove("PAM_OTP_STATE_DIR")
            .env_remove("PAM_OTP_MIN_SECRET_BITS");
        // Under `sudo cargo test`, root without --user would be told to say whom it means.
        for name in ["SUDO_USER", "SUDO_UID", "DOAS_USER", "PKEXEC_UID"] {
            c.env_remove(name);
        }
        c
    }
    fn run(&self, args: &[&str], stdin: &str) -> Output {
        run_with_input(self.cli(args), stdin)
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run_with_input(mut cmd: Command, stdin: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run pam-otp");
    let mut input = child.stdin.take().unwrap();
    // The command may exit before reading; a broken pipe here is not the test's concern.
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts success and returns stdout.
#[track_caller]
fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "pam-otp failed ({:?})\nstdout:\n{}\nstderr:\n{}",
        o.status,
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

/// Asserts failure with `code`, a "pam-otp: " sentence on stderr containing `needle`.
#[track_caller]
fn fails(o: Output, code: i32, needle: &str) -> String {
    let err = stderr(&o);
    assert_eq!(
        o.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{err}",
        stdout(&o)
    );
    assert!(err.contains(needle), "stderr lacks {needle:?}:\n{err}");
    if code == 1 {
        // A prompt left unanswered on the same line may precede the message.
        let line = err.lines().last().unwrap();
        let at = line
            .find("pam-otp: ")
            .unwrap_or_else(|| panic!("no message in {err}"));
        let line = &line[at..];
        assert!(line.ends_with('.'), "not a sentence: {line}");
    }
    err
}

/// Runs oathtool (Debian package oathtool), the independent implementation.
fn oathtool(args: &[&str]) -> String {
    let out = Command::new("oathtool")
        .args(args)
        .output()
        .expect("oathtool is needed for these tests: apt-get install oathtool");
    assert!(out.status.success(), "oathtool {args:?} failed");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn secret_of(path: &Path) -> SecretFile {
    SecretFile::parse(&std::fs::read(path).unwrap()).unwrap()
}

fn b32(secret: &SecretFile) -> String {
    encode_base32(&secret.key).to_string()
}

/// The module's host, scripted: one user, one answer, logs kept.
struct FakeHost {
    user: String,
    answer: Vec<u8>,
    logs: Vec<String>,
}

impl Host for FakeHost {
    fn user(&mut self) -> Option<String> {
        Some(self.user.clone())
    }
    fn remote_host(&self) -> Option<String> {
        None
    }
    fn authtok(&self) -> Option<Zeroizing<Vec<u8>>> {
        None
    }
    fn ask(&mut self, _prompt: &str) -> Option<Zeroizing<Vec<u8>>> {
        Some(Zeroizing::new(self.answer.clone()))
    }
    fn log(&mut self, _level: Level, line: &str) {
        self.logs.push(line.to_string());
    }
}

fn me() -> String {
    let uid = nix::unistd::geteuid().as_raw();
    pam_otp::userdb::lookup_uid(uid).unwrap().unwrap().name
}

/// One login through the module's decision path with the secret at `secret` (an absolute
/// path: a store owned by the module's user, who is also the one running pam-otp here).
///
/// The module takes only templates that name the user (`%u`), so the file is given as
/// `DIR/%u`: for the call it is renamed to `DIR/<user>` (same inode, mode and owner), then
/// back.
fn login(secret: &Path, state: &Path, typed: &str, extra: &[&str]) -> Verdict {
    let user = me();
    let dir = secret.parent().unwrap();
    let as_user = dir.join(&user);
    let moved = secret != as_user && secret.symlink_metadata().is_ok();
    if moved {
        assert!(!as_user.exists(), "{} is in the way", as_user.display());
        std::fs::rename(secret, &as_user).unwrap();
    }
    let verdict = login_as_template(&format!("{}/%u", dir.display()), state, typed, extra);
    if moved {
        std::fs::rename(&as_user, secret).unwrap();
    }
    verdict
}

fn login_as_template(template: &str, state: &Path, typed: &str, extra: &[&str]) -> Verdict {
    let mut args = vec![
        format!("secret={template}"),
        format!("state_dir={}", state.display()),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let mut host = FakeHost {
        user: me(),
        answer: typed.as_bytes().to_vec(),
        logs: Vec::new(),
    };
    let verdict = authenticate(
        &mut host,
        args.iter().map(|a| a.as_bytes()),
        SystemTime::now(),
    );
    assert_eq!(host.logs.len(), 1, "{:?}", host.logs);
    verdict
}

fn recovery_codes(out: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| {
            let l = l.trim();
            let (n, code) = l.split_once(". ")?;
            (n.parse::<u32>().is_ok() && code.len() == 14).then(|| code.to_string())
        })
        .collect()
}

fn uri_line(out: &str) -> String {
    out.lines()
        .map(str::trim)
        .find(|l| l.starts_with("otpauth://"))
        .expect("an otpauth:// line")
        .to_string()
}

// ---------------------------------------------------------------------------------------
// enroll

#[test]
fn enroll_non_interactive_then_the_module_accepts_oathtool_codes() {
    let home = Temp::new("enroll");
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
    let home = Temp::new("hotp");
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

    let t = Temp::new("sha512");
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
    let home = Temp::new("uri");
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
fn enroll_confirming(home: &Temp, extra: &[&str], answer: impl Fn(&str) -> String) -> Output {
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
    let home = Temp::new("confirm");
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
    let wrong = Temp::new("confirm-wrong");
    let o = enroll_confirming(&wrong, &[], |s| {
        let right: u32 = oathtool(&["--totp", "-b", s]).parse().unwrap();
        let bad = format!("{:06}\n", (right + 500_000) % 1_000_000);
        bad.repeat(3)
    });
    fails(o, 1, "nothing was saved");
    assert!(!wrong.otp().exists());

    // End of input: nothing is written either.
    let eof = Temp::new("confirm-eof");
    let o = enroll_confirming(&eof, &[], |_| String::new());
    fails(o, 1, "no code was typed");
    assert!(!eof.otp().exists());
    assert_eq!(
        std::fs::read_dir(&eof.0).unwrap().count(),
        0,
        "no temp files"
    );

    // HOTP: the confirming code is used up, so the module wants the next one.
    let h = Temp::new("confirm-hotp");
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
    let home = Temp::new("force");
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
    let mut names: Vec<_> = std::fs::read_dir(&home.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, vec![".otp", ".otp.bak"]);
}

#[test]
fn enroll_error_paths_write_nothing() {
    let home = Temp::new("enroll-errors");
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
    assert_eq!(std::fs::read_dir(&home.0).unwrap().count(), 0);

    // A directory others may write to: the module would refuse the file, so no file.
    let open = Temp::new("open-home");
    std::fs::set_permissions(&open.0, std::fs::Permissions::from_mode(0o777)).unwrap();
    fails(
        open.run(&["enroll", "--no-confirm"], ""),
        1,
        "writable by group or others",
    );
    assert_eq!(std::fs::read_dir(&open.0).unwrap().count(), 0);

    // A home that does not exist.
    let gone = Temp::new("gone");
    let mut c = gone.cli(&["enroll", "--no-confirm"]);
    c.args(["--home", "/nonexistent/pam-otp-test"]);
    fails(run_with_input(c, ""), 1, "does not exist");
}

#[test]
fn enroll_never_follows_a_symlink() {
    let home = Temp::new("symlink");
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

// ---------------------------------------------------------------------------------------
// The QR code decodes back to the URI

/// Rasterises the half-block text QR code (two modules per character) with a light margin,
/// as a light-background terminal shows it.
fn decode_text_qr(lines: &[&str]) -> String {
    let rows: Vec<Vec<char>> = lines.iter().map(|l| l.chars().collect()).collect();
    let width = rows.iter().map(Vec::len).max().unwrap();
    let mut modules = vec![vec![false; width]; rows.len() * 2];
    for (y, row) in rows.iter().enumerate() {
        for (x, c) in row.iter().enumerate() {
            let (top, bottom) = match c {
                '█' => (true, true),
                '▀' => (true, false),
                '▄' => (false, true),
                ' ' => (false, false),
                other => panic!("unexpected character {other:?} in the QR code"),
            };
            modules[2 * y][x] = top;
            modules[2 * y + 1][x] = bottom;
        }
    }
    decode_modules(&modules)
}

/// The same for the ANSI form: each cell is ESC[fg;bg m ▀, foreground the top module.
fn decode_ansi_qr(lines: &[&str]) -> String {
    let mut modules = Vec::new();
    for line in lines {
        let mut top = Vec::new();
        let mut bottom = Vec::new();
        for cell in line.split("\x1b[").filter(|c| c.ends_with('▀')) {
            let colours = cell.trim_end_matches('▀').trim_end_matches('m');
            let (fg, bg) = colours.split_once(';').unwrap();
            top.push(fg == "30");
            bottom.push(bg == "40");
        }
        modules.push(top);
        modules.push(bottom);
    }
    decode_modules(&modules)
}

fn decode_modules(modules: &[Vec<bool>]) -> String {
    const SCALE: usize = 6;
    const MARGIN: usize = 4;
    let h = modules.len();
    let w = modules[0].len();
    let (iw, ih) = ((w + 2 * MARGIN) * SCALE, (h + 2 * MARGIN) * SCALE);
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(iw, ih, |x, y| {
        let (mx, my) = (
            (x / SCALE).wrapping_sub(MARGIN),
            (y / SCALE).wrapping_sub(MARGIN),
        );
        let dark = my < h && mx < w && modules[my][mx];
        if dark {
            0
        } else {
            255
        }
    });
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code expected");
    grids[0].decode().expect("the QR code decodes").1
}

fn qr_block(out: &str) -> Vec<&str> {
    let lines: Vec<&str> = out.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("Scan this QR code"))
        .unwrap()
        + 2;
    let end = lines
        .iter()
        .position(|l| l.starts_with("Or open this URI"))
        .unwrap()
        - 1;
    lines[start..end].to_vec()
}

#[test]
fn qr_code_decodes_to_the_printed_uri() {
    for (mode, decode) in [
        ("text", decode_text_qr as fn(&[&str]) -> String),
        ("ansi", decode_ansi_qr),
    ] {
        let home = Temp::new("qr");
        let out = ok(home.run(&["enroll", "--no-confirm", "--qr", mode], ""));
        let decoded = decode(&qr_block(&out));
        assert_eq!(decoded, uri_line(&out), "--qr {mode}");
        assert!(decoded.contains(&b32(&secret_of(&home.otp()))));
    }
    // Not a terminal: auto draws plain text.
    let home = Temp::new("qr-auto");
    let out = ok(home.run(&["enroll", "--no-confirm"], ""));
    assert!(!out.contains('\x1b'));
    assert_eq!(decode_text_qr(&qr_block(&out)), uri_line(&out));
}

#[test]
fn qr_code_also_decodes_with_zbarimg() {
    // zbar-tools is an independent decoder; rqrr above already covers the format.
    assert!(
        Command::new("zbarimg").arg("--version").output().is_ok(),
        "zbarimg is missing: install Debian's zbar-tools (scripts/install-deps.sh)"
    );
    let home = Temp::new("zbar");
    let out = ok(home.run(&["enroll", "--no-confirm", "--qr", "text"], ""));
    let lines = qr_block(&out);
    // Portable graymap, 4 pixels per module, with a light margin.
    let rows: Vec<Vec<char>> = lines.iter().map(|l| l.chars().collect()).collect();
    let w = rows[0].len();
    let h = rows.len() * 2;
    let (s, m) = (4usize, 4usize);
    let (iw, ih) = ((w + 2 * m) * s, (h + 2 * m) * s);
    let mut pgm = format!("P5\n{iw} {ih}\n255\n").into_bytes();
    for y in 0..ih {
        for x in 0..iw {
            let (mx, my) = ((x / s).wrapping_sub(m), (y / s).wrapping_sub(m));
            let dark = my < h && mx < w && {
                let c = rows[my / 2][mx];
                matches!((c, my % 2), ('█', _) | ('▀', 0) | ('▄', 1))
            };
            pgm.push(if dark { 0 } else { 255 });
        }
    }
    let img = home.path("qr.pgm");
    std::fs::write(&img, pgm).unwrap();
    let z = Command::new("zbarimg")
        .args(["--raw", "-q"])
        .arg(&img)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&z.stdout).trim(), uri_line(&out));
}

// ---------------------------------------------------------------------------------------
// status

#[test]
fn status_reports_enrolment_recovery_and_lockout() {
    let home = Temp::new("status");
    let o = home.run(&["status"], "");
    let out = fails(o, 3, "");
    let _ = out;
    let o = home.run(&["status"], "");
    assert!(stdout(&o).contains("Enrolled:        no"), "{}", stdout(&o));

    ok(home.run(
        &[
            "enroll",
            "--no-confirm",
            "--recovery-codes",
            "4",
            "--qr",
            "none",
        ],
        "",
    ));
    let out = ok(home.run(&["status"], ""));
    assert!(out.contains("Enrolled:        yes"), "{out}");
    assert!(
        out.contains("TOTP, a new code every 30 s, SHA1, 6 digits"),
        "{out}"
    );
    assert!(out.contains("160 bits"), "{out}");
    assert!(out.contains("4 of 4 unused"), "{out}");
    assert!(out.contains("no login attempt yet"), "{out}");

    // Five wrong codes lock the user out; status says so, unlock clears it.
    for _ in 0..5 {
        let _ = login(&home.otp(), &home.state(), "000000x", &[]);
    }
    let out = ok(home.run(&["status"], ""));
    assert!(out.contains("Locked out:      yes"), "{out}");
    assert!(out.contains("pam-otp unlock"), "{out}");
    let unlocked = ok(home.run(&["unlock", &me()], ""));
    assert!(unlocked.contains("Unlocked"), "{unlocked}");
    let out = ok(home.run(&["status"], ""));
    assert!(out.contains("Locked out:      no"), "{out}");
    assert!(
        out.contains("Lock-outs") || out.contains("Failures:        0"),
        "{out}"
    );
    let again = ok(home.run(&["unlock", &me()], ""));
    assert!(again.contains("was not locked out"), "{again}");
}

#[test]
fn status_names_a_file_the_module_would_refuse() {
    let home = Temp::new("status-bad");
    ok(home.run(&["enroll", "--no-confirm", "--qr", "none"], ""));
    std::fs::set_permissions(home.otp(), std::fs::Permissions::from_mode(0o644)).unwrap();
    fails(
        home.run(&["status"], ""),
        1,
        "accessible to group or others",
    );
    std::fs::set_permissions(home.otp(), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(
        home.otp(),
        "secret = GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\ncolour = blue\n",
    )
    .unwrap();
    fails(home.run(&["status"], ""), 1, "unknown key 'colour'");
    // 80 bits: readable, but the module refuses it under the default min_secret_bits.
    std::fs::write(home.otp(), "secret = GEZDGNBVGY3TQOJQ\n").unwrap();
    let out = ok(home.run(&["status"], ""));
    assert!(out.contains("REFUSES"), "{out}");
    let out = ok(home.run(&["--min-secret-bits", "80", "status"], ""));
    assert!(!out.contains("REFUSES"), "{out}");
}

// ---------------------------------------------------------------------------------------
// recovery

#[test]
fn recovery_regenerate_replaces_the_codes() {
    let home = Temp::new("recovery");
    fails(home.run(&["recovery"], ""), 1, "not enrolled");
    let first = ok(home.run(&["enroll", "--no-confirm", "--qr", "none"], ""));
    let old = recovery_codes(&first);
    let key_before = b32(&secret_of(&home.otp()));
    let out = ok(home.run(&["recovery"], ""));
    assert!(out.contains("10 of 10 recovery codes unused"), "{out}");

    let out = ok(home.run(&["recovery", "--regenerate", "--count", "5"], ""));
    let new = recovery_codes(&out);
    assert_eq!(new.len(), 5);
    assert_eq!(b32(&secret_of(&home.otp())), key_before, "same secret");
    assert_eq!(
        login(&home.otp(), &home.state(), &old[0], &[]),
        Verdict::Deny(Reason::BadCode)
    );
    assert_eq!(
        login(&home.otp(), &home.state(), &new[0], &[]),
        Verdict::Success
    );
    let out = ok(home.run(&["recovery"], ""));
    assert!(out.contains("4 of 5 recovery codes unused"), "{out}");
    fails(
        home.run(&["recovery", "--regenerate", "--count", "0"], ""),
        2,
        "--count",
    );
}

// ---------------------------------------------------------------------------------------
// unlock and reset

#[test]
fn unlock_and_reset_error_paths() {
    let home = Temp::new("admin");
    fails(
        home.run(&["unlock", "no-such-user-pam-otp"], ""),
        1,
        "no user named",
    );
    let out = ok(home.run(&["unlock", &me()], ""));
    assert!(out.contains("nothing to unlock"), "{out}");
    fails(
        home.run(&["reset", &me(), "--yes"], ""),
        1,
        "is not enrolled",
    );

    ok(home.run(&["enroll", "--no-confirm", "--qr", "none"], ""));
    let before = std::fs::read(home.otp()).unwrap();
    fails(
        home.run(&["reset", &me()], "someone-else\n"),
        1,
        "not confirmed",
    );
    fails(home.run(&["reset", &me()], ""), 1, "not confirmed");
    assert_eq!(std::fs::read(home.otp()).unwrap(), before);

    // A state directory the caller does not own: refused before anything changes.
    if nix::unistd::geteuid().is_root() {
        let foreign = home.path("foreign-state");
        std::fs::create_dir(&foreign).unwrap();
        nix::unistd::chown(&foreign, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
        let mut c = home.cli(&["reset", &me(), "--yes"]);
        c.arg("--state-dir").arg(&foreign);
        fails(run_with_input(c, ""), 1, "only the owner of");
        assert_eq!(std::fs::read(home.otp()).unwrap(), before);
    }

    let out = ok(home.run(&["reset", &me()], &format!("{}\n", me())));
    assert!(out.contains("no longer enrolled"), "{out}");
    assert!(!home.otp().exists());
    assert_eq!(std::fs::read(home.path(".otp.bak")).unwrap(), before);
    let o = home.run(&["status"], "");
    assert_eq!(o.status.code(), Some(3));
}

#[test]
fn reset_keeps_replay_history_and_clears_the_lockout() {
    let home = Temp::new("reset");
    ok(home.run(&["enroll", "--no-confirm", "--qr", "none"], ""));
    let secret = secret_of(&home.otp());
    let code = oathtool(&["--totp", "-b", &b32(&secret)]);
    assert_eq!(
        login(&home.otp(), &home.state(), &code, &[]),
        Verdict::Success
    );
    let uid = nix::unistd::geteuid().as_raw();
    let store = FileStore::new(home.state(), Duration::from_secs(1));
    store
        .transact(uid, &mut |s| State {
            failures: 4,
            locked_until: u64::MAX,
            lockouts: 2,
            ..s.clone()
        })
        .unwrap();
    ok(home.run(&["reset", &me(), "--yes"], ""));
    let after = store.load(uid).unwrap();
    assert_eq!(
        (after.failures, after.lockouts, after.locked_until),
        (0, 0, 0)
    );
    // Restoring the backup by hand does not reopen the code already used.
    std::fs::rename(home.path(".otp.bak"), home.otp()).unwrap();
    assert_eq!(
        login(&home.otp(), &home.state(), &code, &[]),
        Verdict::Deny(Reason::Replay)
    );
}

// ---------------------------------------------------------------------------------------
// Acting for another user as root

#[test]
#[ignore = "needs root: run by `sudo scripts/test.sh`"]
fn root_enrols_another_user_as_that_user() {
    assert!(nix::unistd::geteuid().is_root(), "this test needs root");
    let nobody = pam_otp::userdb::lookup("nobody").unwrap().unwrap();
    let home = Temp::new("nobody");
    nix::unistd::chown(
        &home.0,
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
    let victim = Temp::new("victim");
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
    let store = Temp::new("store");
    let template = format!("{}/users/%u", store.0.display());
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
    let file = store.0.join("users").join(me());
    assert!(out.contains(&file.display().to_string()), "{out}");
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(meta.uid(), nix::unistd::geteuid().as_raw());
    assert_eq!(meta.mode() & 0o777, 0o600);
    if nix::unistd::geteuid().is_root() {
        let dir = std::fs::metadata(store.0.join("users")).unwrap();
        assert_eq!(dir.mode() & 0o777, 0o700, "store directory created private");
    }
    let secret = secret_of(&file);
    let code = oathtool(&["--totp", "-b", &b32(&secret)]);
    assert_eq!(login(&file, &store.state(), &code, &[]), Verdict::Success);
    // The module is given the template itself: the same path comes out.
    let mut host = FakeHost {
        user: me(),
        answer: oathtool(&["--totp", "-b", &b32(&secret)]).into_bytes(),
        logs: Vec::new(),
    };
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

// ---------------------------------------------------------------------------------------
// import

fn import_and_check(home: &Temp, ga: &str, extra: &[&str]) -> (String, String) {
    let mut args = vec!["import"];
    args.extend_from_slice(extra);
    let o = home.run(&args, "");
    let err = stderr(&o);
    let out = ok(o);
    let lines: Vec<&str> = ga.lines().collect();
    let secret = secret_of(&home.otp());
    assert_eq!(
        b32(&secret),
        lines[0],
        "the same secret, so the phone entry still works"
    );
    (out, err)
}

#[test]
fn import_round_trips_a_real_google_authenticator_file() {
    let home = Temp::new("import-real");
    let ga_path = home.path(".google_authenticator");
    let made = Command::new("google-authenticator")
        .args([
            "-t", "-d", "-f", "-r", "3", "-R", "30", "-w", "3", "-e", "5", "-q", "-s",
        ])
        .arg(&ga_path)
        .stdin(Stdio::null())
        .output();
    assert!(
        matches!(&made, Ok(o) if o.status.success()),
        "google-authenticator failed or is missing: install Debian's \
         libpam-google-authenticator (scripts/install-deps.sh): {made:?}"
    );
    let ga = std::fs::read_to_string(&ga_path).unwrap();
    let (out, err) = import_and_check(&home, &ga, &[]);
    assert!(
        out.contains("5 unused scratch code(s) carried over"),
        "{out}"
    );
    assert!(out.contains("keeps working"), "{out}");
    assert!(err.contains("warning: RATE_LIMIT 3 30"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&ga_path).unwrap(),
        ga,
        "left as it was"
    );

    let secret = secret_of(&home.otp());
    assert_eq!(secret.key.len() * 8, 128);
    let code = oathtool(&["--totp", "-b", ga.lines().next().unwrap()]);
    assert_eq!(
        login(&home.otp(), &home.state(), &code, &[]),
        Verdict::Success
    );
    let scratch = ga.lines().last().unwrap();
    assert_eq!(scratch.len(), 8);
    assert!(!std::fs::read_to_string(home.otp())
        .unwrap()
        .contains(scratch));
    assert_eq!(
        login(&home.otp(), &home.state(), scratch, &[]),
        Verdict::Success
    );
    assert_eq!(
        login(&home.otp(), &home.state(), scratch, &[]),
        Verdict::Deny(Reason::Replay)
    );
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn install_fixture(home: &Temp, name: &str) -> String {
    let text = std::fs::read_to_string(fixture(name)).unwrap();
    let dest = home.path(".google_authenticator");
    std::fs::write(&dest, &text).unwrap();
    std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o400)).unwrap();
    text
}

#[test]
fn import_hotp_80_bit_fixture_warns_what_does_not_carry_over() {
    let home = Temp::new("import-hotp");
    let ga = install_fixture(&home, "google_authenticator/hotp_80bit");
    let (out, err) = import_and_check(&home, &ga, &[]);
    assert!(out.contains("HOTP, counter starting at 4"), "{out}");
    assert!(err.contains("add min_secret_bits=80"), "{err}");
    assert!(err.contains("hotp_lookahead=9"), "{err}");
    // The module refuses it until min_secret_bits=80, then accepts the next counter's code.
    let key = ga.lines().next().unwrap();
    let code = oathtool(&["--hotp", "-c", "4", "-b", key]);
    assert_eq!(
        login(&home.otp(), &home.state(), &code, &[]),
        Verdict::Deny(Reason::BadSecretFile)
    );
    assert_eq!(
        login(&home.otp(), &home.state(), &code, &["min_secret_bits=80"]),
        Verdict::Success
    );
    let status = ok(home.run(&["--min-secret-bits", "80", "status"], ""));
    assert!(status.contains("2 of 2 unused"), "{status}");
}

#[test]
fn import_totp_fixture_with_step_and_window() {
    let home = Temp::new("import-totp");
    let ga = install_fixture(&home, "google_authenticator/totp_step60");
    let (out, err) = import_and_check(&home, &ga, &[]);
    assert!(out.contains("every 60 s"), "{out}");
    assert!(err.contains("window=8"), "{err}");
    assert!(err.contains("more than once"), "{err}");
    let code = oathtool(&["--totp", "-s", "60s", "-b", ga.lines().next().unwrap()]);
    assert_eq!(
        login(&home.otp(), &home.state(), &code, &[]),
        Verdict::Success
    );
}

#[test]
fn import_error_paths() {
    let home = Temp::new("import-errors");
    fails(
        home.run(&["import"], ""),
        1,
        "does not exist; nothing to import",
    );
    fails(
        home.run(&["import", "--from", "relative"], ""),
        1,
        "--from must be an absolute path",
    );
    let ga = home.path(".google_authenticator");
    std::fs::write(&ga, "not a secret!\n").unwrap();
    std::fs::set_permissions(&ga, std::fs::Permissions::from_mode(0o600)).unwrap();
    fails(home.run(&["import"], ""), 1, "not a base32 secret");
    std::fs::set_permissions(&ga, std::fs::Permissions::from_mode(0o644)).unwrap();
    fails(home.run(&["import"], ""), 1, "chmod 600");
    assert!(!home.otp().exists());

    let _ = std::fs::remove_file(&ga);
    install_fixture(&home, "google_authenticator/totp_step60");
    ok(home.run(&["enroll", "--no-confirm", "--qr", "none"], ""));
    let before = std::fs::read(home.otp()).unwrap();
    fails(home.run(&["import"], ""), 1, "already exists");
    assert_eq!(std::fs::read(home.otp()).unwrap(), before);
    ok(home.run(&["import", "--force"], ""));
    assert_eq!(std::fs::read(home.path(".otp.bak")).unwrap(), before);
}

// ---------------------------------------------------------------------------------------
// check

fn check(args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pam-otp"));
    c.arg("check").args(args);
    run_with_input(c, "")
}

fn check_root(root: &Path) -> Output {
    check(&["--root", root.to_str().unwrap()])
}

/// Every finding line (LOCKOUT/BYPASS/note) is followed by its fix.
fn findings(out: &str) -> Vec<String> {
    let lines: Vec<&str> = out.lines().collect();
    let mut found = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if l.starts_with("LOCKOUT") || l.starts_with("BYPASS") || l.starts_with("note") {
            assert!(
                lines
                    .get(i + 1)
                    .is_some_and(|f| f.trim_start().starts_with("fix: ")),
                "no fix after {l}"
            );
            found.push(l.to_string());
        }
    }
    found
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

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
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
    let t = Temp::new("check-state");
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

// ---------------------------------------------------------------------------------------
// An ordinary user (root drops to nobody with setpriv)

/// A copy of the built `pam-otp` in `dir`, opened up so every user can run it (the build
/// directory may sit under a private home).
fn world_runnable_cli(dir: &Temp) -> PathBuf {
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).unwrap();
    let exe = dir.path("pam-otp");
    std::fs::copy(env!("CARGO_BIN_EXE_pam-otp"), &exe).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    exe
}

/// `pam-otp ARGS` as nobody (root drops privileges with setpriv).
fn as_nobody(cli: &Path, args: &[&str]) -> Output {
    assert!(nix::unistd::geteuid().is_root(), "this test needs root");
    let mut c = Command::new("setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(cli)
        .args(args)
        .env_remove("PAM_OTP_SECRET")
        .env_remove("PAM_OTP_STATE_DIR");
    run_with_input(c, "")
}

#[test]
#[ignore = "needs root: run by `sudo scripts/test.sh`"]
fn ordinary_users_cannot_act_for_others_or_read_root_state() {
    let bin = Temp::new("bin");
    let cli = world_runnable_cli(&bin);
    let o = as_nobody(&cli, &["status", "--user", "root"]);
    fails(o, 1, "only root can act for another user");
    let o = as_nobody(&cli, &["unlock", "root"]);
    fails(o, 1, "only root can act for another user");

    let nobody = pam_otp::userdb::lookup("nobody").unwrap().unwrap();
    let home = Temp::new("nobody-status");
    nix::unistd::chown(&home.0, Some(nix::unistd::Uid::from_raw(nobody.uid)), None).unwrap();
    std::fs::create_dir(home.state()).unwrap();
    std::fs::set_permissions(home.state(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let (h, s) = (home.0.to_str().unwrap(), home.state());
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
