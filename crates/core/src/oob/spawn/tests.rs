use super::*;

fn e(uid: u32, mode: u32) -> Entry {
    Entry { uid, mode }
}

#[test]
fn path_components_must_be_root_owned_and_not_writable_by_others() {
    let dir = libc::S_IFDIR;
    let reg = libc::S_IFREG;
    assert_eq!(check_entry(e(0, dir | 0o755), false), Ok(()));
    assert_eq!(check_entry(e(0, reg | 0o755), true), Ok(()));
    assert_eq!(check_entry(e(0, reg | 0o700), true), Ok(()));
    assert_eq!(
        check_entry(e(0, dir | 0o775), false),
        Err(PathProblem::Writable)
    );
    assert_eq!(
        check_entry(e(0, dir | 0o1777), false),
        Err(PathProblem::Writable)
    );
    assert_eq!(
        check_entry(e(0, reg | 0o757), true),
        Err(PathProblem::Writable)
    );
    assert_eq!(
        check_entry(e(1000, reg | 0o755), true),
        Err(PathProblem::NotRootOwned)
    );
    assert_eq!(
        check_entry(e(1000, dir | 0o755), false),
        Err(PathProblem::NotRootOwned)
    );
    assert_eq!(
        check_entry(e(0, reg | 0o644), true),
        Err(PathProblem::NotExecutable)
    );
    assert_eq!(
        check_entry(e(0, libc::S_IFLNK | 0o777), true),
        Err(PathProblem::Symlink)
    );
    assert_eq!(
        check_entry(e(0, libc::S_IFLNK | 0o777), false),
        Err(PathProblem::Symlink)
    );
    assert_eq!(
        check_entry(e(0, dir | 0o755), true),
        Err(PathProblem::NotRegular)
    );
    assert_eq!(
        check_entry(e(0, reg | 0o755), false),
        Err(PathProblem::NotRegular)
    );
}

#[test]
fn relative_and_dotted_paths_are_refused() {
    for p in [
        "pam-otp-deliver",
        "./pam-otp-deliver",
        "/usr/../tmp/x",
        "/usr/./bin/x",
        "/usr//bin/x",
        "/usr/bin/",
    ] {
        assert_eq!(
            check_helper_path(Path::new(p)),
            Err(PathProblem::NotAbsolute),
            "{p}"
        );
    }
    assert_eq!(
        check_helper_path(Path::new("/nonexistent/pam-otp-deliver")),
        Err(PathProblem::Missing)
    );
    // /tmp is world-writable (sticky or not, it is refused).
    let tmp = std::env::temp_dir();
    if tmp == Path::new("/tmp") {
        // Refused at /tmp, before the missing file is even looked for.
        assert_eq!(
            check_helper_path(&tmp.join("x")),
            Err(PathProblem::Writable)
        );
        assert_eq!(
            check_helper_path(Path::new("/tmp")),
            Err(PathProblem::NotRegular)
        );
    }
}

#[test]
fn scrub_keeps_one_short_line_without_the_code() {
    assert_eq!(
        scrub(b"refused: 403\nsecond line", b"123456"),
        "refused: 403"
    );
    assert_eq!(
        scrub(b"code 123456 rejected", b"123456"),
        "code ••• rejected"
    );
    assert_eq!(scrub(b"a\x1b[31mb", b"123456"), "a[31mb");
    assert_eq!(scrub(&[b'x'; 1000], b"123456").len(), 200);
    assert_eq!(scrub(b"", b"123456"), "");
}

#[test]
fn settings_out_of_bounds_are_refused_before_anything_runs() {
    let contact = Contact::parse("email:alice@example.org").unwrap();
    let code = OneTimeCode::generate(6, &mut crate::oob::code::OsRandom).unwrap();
    let request = Request {
        user: "alice",
        contact: &contact,
        service: "sshd",
        expires_at: 1,
        code: &code,
    };
    let good = Helper {
        path: Path::new("/bin/true"),
        uid: 65534,
        gid: 65534,
        timeout: DEFAULT_TIMEOUT,
        conf: None,
    };
    for bad in [
        Helper {
            uid: 0,
            ..good.clone()
        },
        Helper {
            gid: 0,
            ..good.clone()
        },
        Helper {
            timeout: Duration::ZERO,
            ..good.clone()
        },
        Helper {
            timeout: MAX_TIMEOUT + Duration::from_millis(1),
            ..good.clone()
        },
    ] {
        assert_eq!(deliver(&bad, &request), Err(SpawnError::BadSettings));
    }
    for (user, service) in [
        ("", "sshd"),
        ("al\nice", "sshd"),
        ("alice", ""),
        ("alice", "a\u{7f}"),
    ] {
        let r = Request {
            user,
            service,
            ..request
        };
        assert_eq!(
            deliver(&good, &r),
            Err(SpawnError::BadRequest),
            "{user:?} {service:?}"
        );
    }
    let long = "u".repeat(MAX_NAME_LEN + 1);
    let r = Request {
        user: &long,
        ..request
    };
    assert_eq!(deliver(&good, &r), Err(SpawnError::BadRequest));
    let r = Request { ..request };
    assert_eq!(
        deliver(
            &Helper {
                path: Path::new("bin/true"),
                ..good
            },
            &r
        ),
        Err(SpawnError::UnsafeHelper(PathProblem::NotAbsolute))
    );
}
