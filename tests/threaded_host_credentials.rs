//! A threaded host: several PAM transactions at once in threads of one process (as in a
//! multi-threaded display manager, a PAM-using daemon or sshd built with threads), each
//! reading a `%h` secret file as its own user. The module switches its file-system identity
//! for that read; the switch must stay in the thread that made it and be undone there, so
//! that no thread ever runs with another user's groups and the process ends with exactly
//! the credentials it started with.
//!
//! The second user's home lies in a directory only its supplementary group may enter, so its
//! logins need the user's groups (the module first tries without them, then with them).
//!
//! Root only (it creates two users and two groups with useradd/groupadd, and removes them):
//! `#[ignore]`d, run by scripts/test.sh with `--include-ignored` as root.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use pam_otp_core::secret_file::encode_base32;
use pam_otp_testkit::built::module_path;
use pam_otp_testkit::in_process::{hotp, pam_login, Fixture, KEY};
use pam_otp_testkit::pam_ffi::{PAM_AUTH_ERR, PAM_SUCCESS};
use pam_otp_testkit::{write_file, TestDir};

const THREADS: usize = 8;
const LOGINS_PER_THREAD: usize = 150;

/// The `Uid:` (real, effective, saved, file-system), `Gid:` and `Groups:` lines of a task's
/// /proc status, whitespace normalised.
fn credentials(status: &str) -> String {
    status
        .lines()
        .filter(|l| l.starts_with("Uid:") || l.starts_with("Gid:") || l.starts_with("Groups:"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("; ")
}

fn this_thread() -> String {
    credentials(&fs::read_to_string("/proc/thread-self/status").unwrap())
}

/// Every task of this process, with its credentials.
fn every_task() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = fs::read_dir("/proc/self/task")
        .unwrap()
        .flatten()
        .filter_map(|t| {
            // A task that ended meanwhile has no status any more.
            let status = fs::read_to_string(t.path().join("status")).ok()?;
            Some((
                t.file_name().to_string_lossy().into_owned(),
                credentials(&status),
            ))
        })
        .collect();
    out.sort();
    out
}

fn check_start(t: usize, before: &str, mismatches: &Mutex<Vec<String>>) {
    let now = this_thread();
    if now != before {
        mismatches
            .lock()
            .unwrap()
            .push(format!("thread {t} at start: {now}"));
    }
}

/// Sets the calling thread's supplementary groups only (the raw system call; glibc's
/// setgroups would change every thread).
fn set_thread_groups(groups: &[libc::gid_t]) {
    // SAFETY: the kernel reads groups.len() gid_t from a live slice.
    let rc = unsafe { libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) };
    assert_eq!(rc, 0, "setgroups: {}", std::io::Error::last_os_error());
}

/// The calling thread's supplementary groups.
fn thread_groups() -> Vec<libc::gid_t> {
    let mut groups = vec![0; 65536];
    // SAFETY: the buffer holds groups.len() writable gid_t.
    let n = unsafe { libc::syscall(libc::SYS_getgroups, groups.len(), groups.as_mut_ptr()) };
    assert!(n >= 0, "getgroups: {}", std::io::Error::last_os_error());
    groups.truncate(n as usize);
    groups
}

fn run(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Two users, each with a user group and a supplementary group of its own, homes under
/// `homes` holding a HOTP `.otp`; the second one's under `homes/<its group>/`, mode 0750,
/// group its supplementary group. Removed (users and groups) on drop.
struct Accounts {
    users: Vec<String>,
    groups: Vec<String>,
}

impl Accounts {
    fn create(homes: &Path) -> Accounts {
        assert!(
            nix::unistd::geteuid().is_root(),
            "this test creates users and needs root: run it as root \
             (scripts/test.sh does, with --include-ignored)"
        );
        let tag = std::process::id();
        let mut a = Accounts {
            users: Vec::new(),
            groups: Vec::new(),
        };
        for which in ["a", "b"] {
            let group = format!("potg{tag}{which}");
            run("groupadd", &[&group]);
            a.groups.push(group.clone());
            let user = format!("potu{tag}{which}");
            let parent = if which == "a" {
                homes.to_path_buf()
            } else {
                let dir = homes.join(&group);
                fs::create_dir(&dir).unwrap();
                let gid = nix::unistd::Group::from_name(&group).unwrap().unwrap().gid;
                nix::unistd::chown(&dir, None, Some(gid)).unwrap();
                fs::set_permissions(&dir, fs::Permissions::from_mode(0o750)).unwrap();
                dir
            };
            let home: PathBuf = parent.join(&user);
            run(
                "useradd",
                &[
                    "-M",
                    "-U",
                    "-s",
                    "/usr/sbin/nologin",
                    "-d",
                    home.to_str().unwrap(),
                    "-G",
                    &group,
                    &user,
                ],
            );
            a.users.push(user.clone());
            let account = pam_otp_core::userdb::lookup(&user).unwrap().unwrap();
            fs::create_dir(&home).unwrap();
            fs::set_permissions(&home, fs::Permissions::from_mode(0o700)).unwrap();
            let otp = home.join(".otp");
            write_file(
                &otp,
                format!("type = hotp\nsecret = {}\n", &*encode_base32(KEY)).as_bytes(),
                0o600,
            );
            for p in [&home, &otp] {
                nix::unistd::chown(
                    p,
                    Some(nix::unistd::Uid::from_raw(account.uid)),
                    Some(nix::unistd::Gid::from_raw(account.gid)),
                )
                .unwrap();
            }
        }
        a
    }

    /// The user's groups as the group database gives them (`id -G`), to tell them apart
    /// from root's in a failure message.
    fn groups_of(&self, user: &str) -> String {
        let out = Command::new("id").args(["-G", user]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Accounts {
    fn drop(&mut self) {
        for user in &self.users {
            let _ = Command::new("userdel").arg(user).output();
        }
        for group in &self.groups {
            let _ = Command::new("groupdel").arg(group).output();
        }
    }
}

#[test]
#[ignore = "needs root (creates users); scripts/test.sh runs it with --include-ignored as root"]
fn threads_of_one_host_keep_their_own_credentials() {
    let homes = TestDir::tagged("threads-homes");
    // The users must be able to reach their homes.
    fs::set_permissions(homes.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let accounts = Accounts::create(homes.path());
    let f = Fixture::new("threads", "");
    fs::write(
        f.services_dir().join("home"),
        format!(
            "auth [success=done default=die] {} secret=%h/.otp state_dir={}\n",
            module_path().display(),
            f.state_dir().display()
        ),
    )
    .unwrap();

    let before = this_thread();
    let tasks_before = every_task();
    for (task, creds) in &tasks_before {
        assert_eq!(creds, &before, "task {task} differs before the test");
    }
    // Each user's next HOTP counter; held for the whole login, so that one user's logins
    // present their codes in order (the two users' logins still run at the same time).
    let counters: Vec<Mutex<u64>> = accounts.users.iter().map(|_| Mutex::new(0)).collect();
    let mismatches = Mutex::new(Vec::<String>::new());
    let failures = Mutex::new(Vec::<String>::new());
    let services = f.services_dir();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (accounts, counters, mismatches, failures, before, services) = (
                &accounts,
                &counters,
                &mismatches,
                &failures,
                &before,
                &services,
            );
            s.spawn(move || {
                let u = t % accounts.users.len();
                let user = &accounts.users[u];
                check_start(t, before, mismatches);
                // Half the threads have supplementary groups of their own (as a host started
                // from a login shell has root's), which the module must give back.
                let inherited = thread_groups();
                let own = if t >= THREADS / 2 {
                    set_thread_groups(&[0, 65534]);
                    this_thread()
                } else {
                    before.clone()
                };
                let mut seen = 0;
                let mut check = |when: &str| {
                    let now = this_thread();
                    if now != own && seen < 3 {
                        seen += 1;
                        mismatches
                            .lock()
                            .unwrap()
                            .push(format!("thread {t} ({user}) {when}: {now}"));
                    }
                };
                for n in 0..LOGINS_PER_THREAD {
                    let rc = {
                        let mut counter = counters[u].lock().unwrap();
                        let rc = pam_login(Some(services), "home", user, &hotp(*counter));
                        if rc == PAM_SUCCESS {
                            *counter += 1;
                        }
                        rc
                    };
                    if rc != PAM_SUCCESS {
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("thread {t} ({user}) login {n}: rc {rc}"));
                    }
                    check(&format!("after login {n}"));
                }
                check("at end");
                // A joined thread's task can linger in /proc for a moment: leave it as it came.
                set_thread_groups(&inherited);
            });
        }
    });
    let tasks_after: Vec<String> = every_task()
        .into_iter()
        .filter(|(_, creds)| creds != &before)
        .map(|(task, creds)| format!("task {task}: {creds}"))
        .collect();
    let mismatches = mismatches.into_inner().unwrap();
    let failures = failures.into_inner().unwrap();
    let groups: Vec<String> = accounts
        .users
        .iter()
        .map(|u| format!("{u}: {}", accounts.groups_of(u)))
        .collect();
    assert!(
        tasks_after.is_empty() && mismatches.is_empty() && this_thread() == before,
        "credentials changed (before: {before}; users' groups {groups:?})\n\
         after all threads ended: {tasks_after:#?}\n\
         seen by threads (first 3 each): {mismatches:#?}"
    );
    assert!(failures.is_empty(), "logins failed: {failures:#?}");
    let total: u64 = counters.iter().map(|c| *c.lock().unwrap()).sum();
    assert_eq!(total as usize, THREADS * LOGINS_PER_THREAD);
    // The codes were checked against each user's own file: the last one is now a replay.
    for (user, counter) in accounts.users.iter().zip(&counters) {
        let last = hotp(*counter.lock().unwrap() - 1);
        assert_eq!(
            pam_login(Some(&services), "home", user, &last),
            PAM_AUTH_ERR
        );
    }
    assert_eq!(this_thread(), before);
}
