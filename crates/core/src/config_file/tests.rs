use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::PathBuf;
use std::time::Duration;

use super::*;
use crate::args::CodeSource;
use crate::fleet::settings::{FailMode, HostPort, RedisEndpoint, RedisSettings};
use crate::testing::TestDir;

fn text(t: &str) -> Result<Config, ConfigError> {
    parse_text(t.as_bytes(), true)
}

fn redis(t: &str) -> RedisSettings {
    match text(t).unwrap().store {
        StoreChoice::Redis(s) => *s,
        StoreChoice::File => panic!("not redis: {t}"),
    }
}

/// The `why` of a file error, with the line and key it names.
fn line_error(t: &str) -> (usize, String, &'static str) {
    match parse_text(t.as_bytes(), true) {
        Err(ConfigError::Line { line, key, why, .. }) => (line, key, why),
        other => panic!("{t:?}: expected a line error, got {other:?}"),
    }
}

fn settings_error(t: &str) -> (String, &'static str) {
    match parse_text(t.as_bytes(), true) {
        Err(ConfigError::Settings { key, why }) => (key, why),
        other => panic!("{t:?}: expected a settings error, got {other:?}"),
    }
}

#[test]
fn every_module_argument_is_read_from_the_file() {
    let c = text(
        "# comment\n\n  secret = /etc/otp/%u\nstate_dir=/run/otp\nnullok\ndebug\n\
         use_first_pass\nwindow = 3\nhotp_lookahead = 7\nmax_failures = 9\nlockout = 120\n\
         min_secret_bits = 80\nlock_timeout = 2\nprompt = \"Code please: \"\n",
    )
    .unwrap();
    assert_eq!(c.secret, "/etc/otp/%u");
    assert_eq!(c.state_dir, PathBuf::from("/run/otp"));
    assert!(c.nullok && c.debug);
    assert_eq!(c.code_source, CodeSource::UseFirstPass);
    assert_eq!(
        (
            c.policy.window,
            c.policy.hotp_lookahead,
            c.policy.max_failures
        ),
        (3, 7, 9)
    );
    assert_eq!(c.policy.lockout_secs, 120);
    assert_eq!(c.min_secret_bits, 80);
    assert_eq!(c.lock_timeout, Duration::from_secs(2));
    assert_eq!(c.prompt, "Code please: ");
    assert_eq!(c.store, StoreChoice::File);
    assert_eq!(text("").unwrap(), Config::default());
    assert_eq!(text("store = file\n").unwrap(), Config::default());
}

#[test]
fn the_file_is_as_strict_as_the_arguments() {
    assert_eq!(
        line_error("window = 1\nnulok\n"),
        (2, "nulok".into(), "unknown argument")
    );
    assert_eq!(
        line_error("window = 1\n\nwindow = 2\n"),
        (3, "window".into(), "given more than once")
    );
    assert_eq!(line_error("window = 11").2, "must be 0 to 10 steps");
    assert_eq!(line_error("nullok = yes").2, "takes no value");
    assert_eq!(line_error("window").2, "needs a value (name=value)");
    assert_eq!(line_error("= 3").2, "the line has no key (key = value)");
    assert_eq!(line_error("window = 1\0").2, "the line holds a NUL byte");
    assert_eq!(
        parse_text(b"window = \xff", true).unwrap_err().to_string(),
        "configuration file - line 1: 'window': the line is not UTF-8"
    );
    assert_eq!(
        line_error("config = /etc/x").2,
        "is only a module argument (it names this file)"
    );
    assert_eq!(
        line_error("try_first_pass\nuse_first_pass").2,
        "try_first_pass and use_first_pass exclude each other"
    );
    // The key is escaped, so a line cannot forge a log line.
    assert_eq!(line_error("bad\u{1b}key = 1").1, r#""bad\x1bkey""#);
}

const URL: &str = "store = redis\nredis_url = redis://10.0.0.5\n";

#[test]
fn a_direct_redis_with_every_default() {
    let s = redis(URL);
    assert_eq!(
        s,
        RedisSettings::new(RedisEndpoint::Direct(HostPort {
            host: "10.0.0.5".into(),
            port: 6379
        }))
    );
    let s = redis("store = redis\nredis_url = redis://redis.example:6380/4\n");
    assert_eq!(
        s.endpoint,
        RedisEndpoint::Direct(HostPort {
            host: "redis.example".into(),
            port: 6380
        })
    );
    assert_eq!(s.db, 4);
    let s = redis("store=redis\nredis_url=redis://[::1]:7000/\nredis_db=2");
    assert_eq!(
        s.endpoint,
        RedisEndpoint::Direct(HostPort {
            host: "::1".into(),
            port: 7000
        })
    );
    assert_eq!(s.db, 2);
}

#[test]
fn every_redis_key_is_read() {
    let s = redis(
        "store = redis\nredis_url = rediss://r.example:6390\nredis_ca_file = /etc/ssl/r.pem\n\
         redis_user = pam\nredis_password = s3cret with space#\nredis_namespace = site1:\n\
         redis_connect_timeout = 100\nredis_timeout = 200\nredis_wait = 2\n\
         redis_wait_timeout = 300\nfail_mode = local\nredis_db = 3\n",
    );
    assert!(s.tls);
    assert_eq!(s.ca_file, Some(PathBuf::from("/etc/ssl/r.pem")));
    assert_eq!(s.user.as_deref(), Some("pam"));
    assert_eq!(
        s.password.as_deref().map(String::as_str),
        Some("s3cret with space#")
    );
    assert_eq!(s.namespace, "site1:");
    assert_eq!(s.connect_timeout, Duration::from_millis(100));
    assert_eq!(s.timeout, Duration::from_millis(200));
    assert_eq!(s.wait_replicas, 2);
    assert_eq!(s.wait_timeout, Duration::from_millis(300));
    assert_eq!(s.fail_mode, FailMode::Local);
    assert_eq!(s.db, 3);
    // Debug never shows the password.
    assert!(!format!("{s:?}").contains("s3cret"));

    let s = redis(
        "store = redis\nredis_sentinels = s1:26379, [2001:db8::1]:26380\n\
         redis_sentinel_master = mymaster\nredis_tls = yes\nredis_ca_file = /ca.pem\n\
         redis_password_file = /etc/security/pam_otp.redis\n",
    );
    assert_eq!(
        s.endpoint,
        RedisEndpoint::Sentinel {
            sentinels: vec![
                HostPort {
                    host: "s1".into(),
                    port: 26379
                },
                HostPort {
                    host: "2001:db8::1".into(),
                    port: 26380
                }
            ],
            master: "mymaster".into()
        }
    );
    assert!(s.tls);
    assert_eq!(
        s.password_file,
        Some(PathBuf::from("/etc/security/pam_otp.redis"))
    );
    assert_eq!(s.password, None, "the pure parser reads no file");
    assert!(!redis("store=redis\nredis_sentinels=a:1\nredis_sentinel_master=m\nredis_tls=no").tls);
}

#[test]
fn bad_redis_values_are_errors() {
    for (line, why) in [
        ("store = redi", "must be file or redis"),
        (
            "fail_mode = open",
            "must be closed or local (there is no fail-open mode)",
        ),
        (
            "redis_url = http://x",
            "must be redis://host[:port][/db] or rediss://host[:port][/db]",
        ),
        (
            "redis_url = redis://",
            "must be redis://host[:port][/db] or rediss://host[:port][/db]",
        ),
        (
            "redis_url = redis://h:0",
            "must be redis://host[:port][/db] or rediss://host[:port][/db]",
        ),
        (
            "redis_url = redis://h:70000",
            "must be redis://host[:port][/db] or rediss://host[:port][/db]",
        ),
        (
            "redis_url = redis://-h",
            "must be redis://host[:port][/db] or rediss://host[:port][/db]",
        ),
        (
            "redis_url = redis://h/x",
            "the database after '/' must be 0 to 65535",
        ),
        (
            "redis_sentinels = a",
            "must be host:port,host:port,... (IPv6 addresses in brackets)",
        ),
        (
            "redis_sentinels = a:1,",
            "must be host:port,host:port,... (IPv6 addresses in brackets)",
        ),
        (
            "redis_sentinels = [zz]:1",
            "must be host:port,host:port,... (IPv6 addresses in brackets)",
        ),
        ("redis_tls = true", "must be yes or no"),
        ("redis_db = 65536", "must be 0 to 65535"),
        (
            "redis_user = a b",
            "must be 1 to 64 printable ASCII characters, no spaces",
        ),
        (
            "redis_namespace = ",
            "must be 1 to 64 printable ASCII characters, no spaces",
        ),
        (
            "redis_sentinel_master = é",
            "must be 1 to 64 printable ASCII characters, no spaces",
        ),
        ("redis_ca_file = ca.pem", "must be an absolute path"),
        ("redis_password_file = pw", "must be an absolute path"),
        (
            "redis_connect_timeout = 9",
            "must be 10 to 5000 milliseconds",
        ),
        ("redis_timeout = 5001", "must be 10 to 5000 milliseconds"),
        ("redis_wait_timeout = 1s", "must be 10 to 5000 milliseconds"),
        ("redis_wait = 17", "must be 0 to 16 replicas"),
        (
            "redis_password = \"\"",
            "must be 1 to 512 characters, no control characters",
        ),
        ("store", "needs a value (name=value)"),
    ] {
        assert_eq!(line_error(line).2, why, "{line}");
    }
    let long = format!("redis_namespace = {}", "x".repeat(65));
    assert!(line_error(&long).2.starts_with("must be 1 to 64"));
    let many = format!("redis_sentinels = {}", vec!["h:1"; 17].join(","));
    assert_eq!(line_error(&many).2, "names more than 16 Sentinels");
}

#[test]
fn credentials_in_the_url_are_refused_without_echoing_them() {
    let e = parse_text(b"store = redis\nredis_url = redis://u:hunter2@h\n", true).unwrap_err();
    let shown = e.to_string();
    assert!(
        shown.contains("redis_user and redis_password_file"),
        "{shown}"
    );
    assert!(shown.contains("line 2"), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
}

#[test]
fn redis_settings_must_fit_together() {
    assert_eq!(
        settings_error("store = redis"),
        (
            "store".into(),
            "store=redis needs redis_url or redis_sentinels"
        )
    );
    assert_eq!(
        settings_error("redis_url = redis://h"),
        (
            "redis_url".into(),
            "is a Redis setting, but store=redis is not given"
        )
    );
    assert_eq!(
        settings_error("fail_mode = local"),
        (
            "fail_mode".into(),
            "is a Redis setting, but store=redis is not given"
        )
    );
    assert_eq!(
        line_error("store = file\nredis_timeout = 100"),
        (
            2,
            "redis_timeout".into(),
            "is a Redis setting, but this says store=file"
        )
    );
    assert_eq!(
        line_error(&format!(
            "{URL}redis_sentinels = a:1\nredis_sentinel_master=m"
        ))
        .1,
        "redis_sentinels"
    );
    assert_eq!(
        settings_error(&format!("{URL}redis_sentinel_master = m")).0,
        "redis_sentinel_master"
    );
    assert_eq!(
        settings_error(&format!("{URL}redis_tls = yes")).0,
        "redis_tls"
    );
    assert_eq!(
        settings_error("store=redis\nredis_sentinels=a:1").1,
        "needs redis_sentinel_master"
    );
    assert_eq!(
        settings_error("store=redis\nredis_url=redis://h/1\nredis_db=2").0,
        "redis_db"
    );
    assert_eq!(
        settings_error("store=redis\nredis_url=rediss://h").0,
        "redis_ca_file"
    );
    assert_eq!(
        settings_error(&format!("{URL}redis_ca_file=/ca.pem")).1,
        "is only used with TLS (rediss:// or redis_tls=yes)"
    );
    assert_eq!(
        settings_error(&format!("{URL}redis_user=u")).0,
        "redis_user"
    );
    assert_eq!(
        line_error(&format!("{URL}redis_password=x\nredis_password_file=/p")).1,
        "redis_password_file"
    );
}

#[test]
fn a_password_only_in_a_private_file() {
    let t = format!("{URL}redis_password = hunter2\n");
    let e = parse_text(t.as_bytes(), false).unwrap_err();
    let shown = e.to_string();
    assert!(shown.contains("line 3: 'redis_password'"), "{shown}");
    assert!(shown.contains("group or others"), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");

    let e = crate::args::parse(
        [
            "store=redis",
            "redis_url=redis://h",
            "redis_password=hunter2",
        ]
        .iter()
        .map(|a| a.as_bytes()),
    )
    .unwrap_err();
    assert_eq!(e.arg, "redis_password");
    assert!(e.why.contains("not allowed on the module line"));
    assert!(!e.to_string().contains("hunter2"));
}

#[test]
fn the_module_line_sets_the_store_too() {
    let c = crate::args::parse(
        [
            "store=redis",
            "redis_url=redis://h:1",
            "redis_password_file=/etc/pw",
            "fail_mode=local",
        ]
        .iter()
        .map(|a| a.as_bytes()),
    )
    .unwrap();
    let StoreChoice::Redis(s) = c.store else {
        panic!("not redis")
    };
    assert_eq!(s.fail_mode, FailMode::Local);
    assert_eq!(s.password_file, Some(PathBuf::from("/etc/pw")));
}

// ---- Through real files: load() = defaults, then the file, then the arguments. ----

fn write(path: &std::path::Path, contents: &str, mode: u32) {
    fs::write(path, contents).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn load_with(path: &std::path::Path, args: &[&str]) -> Result<Config, ConfigError> {
    let config = format!("config={}", path.display());
    let mut raw: Vec<&[u8]> = vec![config.as_bytes()];
    raw.extend(args.iter().map(|a| a.as_bytes()));
    load(raw, Secrets::Read)
}

#[test]
fn arguments_override_the_file() {
    let d = TestDir::tagged("config-file");
    let f = d.join("pam_otp.conf");
    write(
        &f,
        "state_dir = /run/a\nwindow = 3\ntry_first_pass\nstore = redis\n\
         redis_url = redis://h\n",
        0o644,
    );
    let c = load_with(&f, &["window=5", "use_first_pass", "store=file"]).unwrap();
    assert_eq!(c.state_dir, PathBuf::from("/run/a"));
    assert_eq!(c.policy.window, 5);
    assert_eq!(c.code_source, CodeSource::UseFirstPass);
    assert_eq!(
        c.store,
        StoreChoice::File,
        "store=file drops the file's Redis settings"
    );
    assert_eq!(c.config_file, Some(f.clone()));

    // The endpoint is replaced as a whole.
    let c = load_with(&f, &["redis_sentinels=s:1", "redis_sentinel_master=m"]).unwrap();
    assert!(matches!(
        c.store,
        StoreChoice::Redis(ref s) if matches!(s.endpoint, RedisEndpoint::Sentinel { .. })
    ));
    // Redis settings on the line after the file's store=file are an error.
    write(&f, "store = file\n", 0o644);
    assert!(matches!(
        load_with(&f, &["redis_url=redis://h"]),
        Err(ConfigError::Settings { .. })
    ));
}

#[test]
fn the_file_must_be_safe() {
    let d = TestDir::tagged("config-file");
    let f = d.join("pam_otp.conf");
    let why = |r: Result<Config, ConfigError>| match r {
        Err(ConfigError::File { why, .. }) => why,
        other => panic!("{other:?}"),
    };
    assert_eq!(why(load_with(&f, &[])), "does not exist");
    write(&f, "window = 2\n", 0o664);
    assert!(why(load_with(&f, &[])).contains("writable by group or others"));
    write(&f, "window = 2\n", 0o602);
    assert!(why(load_with(&f, &[])).contains("writable by group or others"));
    write(&f, "window = 2\n", 0o644);
    let link = d.join("link");
    symlink(&f, &link).unwrap();
    assert_eq!(why(load_with(&link, &[])), "is a symbolic link");
    let hard = d.join("hard");
    fs::hard_link(&f, &hard).unwrap();
    assert_eq!(why(load_with(&f, &[])), "has more than one hard link");
    fs::remove_file(&hard).unwrap();
    assert_eq!(why(load_with(d.path(), &[])), "is not a regular file");
    write(&f, &"#".repeat(MAX_FILE_SIZE + 1), 0o644);
    assert_eq!(why(load_with(&f, &[])), "is larger than 64 KiB");
    write(&f, "window = 2\n", 0o444);
    assert_eq!(load_with(&f, &[]).unwrap().policy.window, 2);
    if nix::unistd::geteuid().is_root() {
        std::os::unix::fs::chown(&f, Some(1), None).unwrap();
        assert_eq!(why(load_with(&f, &[])), "is not owned by root");
        std::os::unix::fs::chown(&f, Some(0), None).unwrap();
    }
    // Errors name the file.
    write(&f, "window = 2\nbogus = 1\n", 0o644);
    let shown = load_with(&f, &[]).unwrap_err().to_string();
    assert_eq!(
        shown,
        format!(
            "configuration file {} line 2: 'bogus': unknown argument",
            f.display()
        )
    );
}

#[test]
fn a_readable_file_with_a_password_is_refused() {
    let d = TestDir::tagged("config-file");
    let f = d.join("pam_otp.conf");
    write(&f, &format!("{URL}redis_password = hunter2\n"), 0o640);
    let e = load_with(&f, &[]).unwrap_err().to_string();
    assert!(e.contains("group or others can read"), "{e}");
    assert!(!e.contains("hunter2"), "{e}");
    write(&f, &format!("{URL}redis_password = hunter2\n"), 0o600);
    let c = load_with(&f, &[]).unwrap();
    let StoreChoice::Redis(s) = c.store else {
        panic!()
    };
    assert_eq!(s.password.as_deref().map(String::as_str), Some("hunter2"));
}

#[test]
fn the_password_file_is_read_with_care() {
    let d = TestDir::tagged("config-file");
    let f = d.join("pam_otp.conf");
    let pw = d.join("redis.pw");
    write(
        &f,
        &format!(
            "{URL}redis_user = pam\nredis_password_file = {}\n",
            pw.display()
        ),
        0o644,
    );
    let password = |r: Result<Config, ConfigError>| match r.map(|c| c.store) {
        Ok(StoreChoice::Redis(s)) => Ok(s.password.map(|p| p.to_string())),
        Ok(StoreChoice::File) => panic!("file store"),
        Err(ConfigError::PasswordFile { why, .. }) => Err(why),
        Err(e) => panic!("{e}"),
    };
    assert!(password(load_with(&f, &[]))
        .unwrap_err()
        .contains("not found"));
    write(&pw, "hunter2\n", 0o600);
    assert_eq!(password(load_with(&f, &[])), Ok(Some("hunter2".into())));
    write(&pw, "hunter2", 0o400);
    assert_eq!(password(load_with(&f, &[])), Ok(Some("hunter2".into())));
    // Not read when the caller says so.
    let config = format!("config={}", f.display());
    let c = load([config.as_bytes()], Secrets::Skip).unwrap();
    assert!(matches!(c.store, StoreChoice::Redis(ref s) if s.password.is_none()));
    for (contents, mode) in [
        ("hunter2\n", 0o640),
        ("hunter2\nsecond\n", 0o600),
        ("\n", 0o600),
    ] {
        write(&pw, contents, mode);
        let why = password(load_with(&f, &[])).unwrap_err();
        assert!(!why.contains("hunter2"), "{why}");
    }
    write(&pw, &"x".repeat(MAX_PASSWORD_FILE_SIZE + 1), 0o600);
    assert_eq!(password(load_with(&f, &[])).unwrap_err(), "is too large");
    fs::remove_file(&pw).unwrap();
    write(&d.join("real"), "hunter2\n", 0o600);
    symlink(d.join("real"), &pw).unwrap();
    assert_eq!(
        password(load_with(&f, &[])).unwrap_err(),
        "is a symbolic link"
    );
}

#[test]
fn a_missing_default_file_means_no_settings() {
    // The default path is only read by load(); a missing file there is no error (this
    // machine has none, or the test would not be about defaults: skip then).
    if std::path::Path::new(DEFAULT_PATH).exists() {
        return;
    }
    assert_eq!(load([], Secrets::Read).unwrap(), Config::default());
    assert_eq!(
        load_file(std::path::Path::new(DEFAULT_PATH), false),
        Ok(None)
    );
}
