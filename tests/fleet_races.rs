//! Fleet races through the built module: four "hosts" (child processes, each its own libpam
//! and module load, its own state directory and secret store) share one Redis through a
//! configuration file (`config=` on the pam.d line, `store = redis`), and nothing else.
//! Sixteen logins at once with one fresh code, four threads per host, give exactly one
//! success, in each of 1,000 rounds; twelve wrong codes at once across the hosts are all
//! counted in Redis, and with `max_failures=12` they lock the user out exactly once.
//!
//! The hosts are driven round by round over their stdin and stdout, so that every login of a
//! round starts together; the state is read back with redis-cli.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Barrier;
use std::time::Instant;

use pam_otp_testkit::child_process::{child, child_mode};
use pam_otp_testkit::codes::now;
use pam_otp_testkit::fleet::{redis_conf, redis_state, user_key, write_conf};
use pam_otp_testkit::in_process::{hotp, wrong_code, Fixture};
use pam_otp_testkit::pam_ffi::{PAM_AUTH_ERR, PAM_SUCCESS};
use pam_otp_testkit::redis_server::{RedisOptions, RedisServer};
use pam_otp_testkit::users::current_user;

const HOSTS: usize = 4;
const THREADS: usize = 4;
const ROUNDS: u64 = 1000;

/// One host process, waiting for its next command.
struct Host {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Host {
    /// The next `PROVE …` line the host prints (libtest prints its own lines too).
    fn read(&mut self) -> String {
        loop {
            let mut line = String::new();
            let n = self.stdout.read_line(&mut line).unwrap();
            assert!(n > 0, "a host process ended early");
            if let Some(rest) = line.trim().strip_prefix("PROVE ") {
                return rest.to_string();
            }
        }
    }

    fn send(&mut self, command: &str) {
        writeln!(self.stdin, "{command}").unwrap();
        self.stdin.flush().unwrap();
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "end");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the hosts, each with its own fixture whose service reads a configuration file
/// pointing at Redis on `port`, with `extra` on the module line.
fn start_hosts(port: u16, extra: &str) -> Vec<Host> {
    let mut hosts: Vec<Host> = (0..HOSTS)
        .map(|i| {
            let mut child = child("host")
                .env("PROVE_PORT", port.to_string())
                .env("PROVE_EXTRA", extra)
                .env("PROVE_HOST", i.to_string())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let stdin = child.stdin.take().unwrap();
            let stdout = BufReader::new(child.stdout.take().unwrap());
            Host {
                child,
                stdin,
                stdout,
            }
        })
        .collect();
    for h in &mut hosts {
        assert_eq!(h.read(), "ready");
    }
    hosts
}

/// Every host logs in `per_host` times at once with `code`; the sums of successes,
/// refusals and other return codes.
fn round(hosts: &mut [Host], code: &str, per_host: usize) -> (usize, usize, usize) {
    for h in hosts.iter_mut() {
        h.send(&format!("login {code} {per_host}"));
    }
    let mut sum = (0, 0, 0);
    for h in hosts.iter_mut() {
        let line = h.read();
        let n: Vec<usize> = line
            .strip_prefix("result ")
            .unwrap_or_else(|| panic!("unexpected host line {line:?}"))
            .split(' ')
            .map(|v| v.parse().unwrap())
            .collect();
        sum = (sum.0 + n[0], sum.1 + n[1], sum.2 + n[2]);
    }
    sum
}

#[test]
fn one_fresh_code_16_logins_over_4_hosts_1000_rounds_exactly_one_success_each() {
    let server = RedisServer::start(RedisOptions::default());
    // Each round leaves 15 refusals; a high max_failures keeps them from locking the user.
    let mut hosts = start_hosts(server.port, "max_failures=100");
    let started = Instant::now();
    for r in 0..ROUNDS {
        let got = round(&mut hosts, &hotp(r), THREADS);
        assert_eq!(
            got,
            (1, HOSTS * THREADS - 1, 0),
            "round {r}: successes, refusals, other return codes"
        );
    }
    let took = started.elapsed();
    println!(
        "{ROUNDS} rounds of {} logins over {HOSTS} host processes sharing one Redis: {:.1} s \
         ({:.2} ms per round)",
        HOSTS * THREADS,
        took.as_secs_f64(),
        took.as_secs_f64() * 1000.0 / ROUNDS as f64
    );
    drop(hosts);
    let state = redis_state(&server, &current_user().name).expect("a record in Redis");
    assert_eq!(state.hotp_next, Some(ROUNDS), "one counter step per round");
    assert_eq!(
        state.failures,
        (HOSTS * THREADS - 1) as u32,
        "every refusal of the last round was counted"
    );
    // Nothing but Redis was shared, and nothing but the record (and no decoy) was written.
    assert_eq!(server.cli(&["KEYS", "*"]), user_key(&current_user().name));
}

#[test]
fn twelve_wrong_codes_at_once_over_4_hosts_all_count_and_lock_out_once() {
    let server = RedisServer::start(RedisOptions::default());
    let user = current_user().name;
    let wrong = wrong_code(10);
    // 3 threads on each of 4 hosts: 12 concurrent wrong codes.
    let per_host = 3;
    let attempts = (HOSTS * per_host) as u32;

    let mut hosts = start_hosts(server.port, "max_failures=100");
    for r in 0..10 {
        server.cli(&["DEL", &user_key(&user)]);
        let got = round(&mut hosts, &wrong, per_host);
        assert_eq!(got, (0, HOSTS * per_host, 0), "round {r}");
        let state = redis_state(&server, &user).unwrap();
        assert_eq!(
            (state.failures, state.lockouts),
            (attempts, 0),
            "round {r}: every wrong code counted once"
        );
    }
    drop(hosts);

    let mut hosts = start_hosts(server.port, "max_failures=12 lockout=600");
    for r in 0..10 {
        server.cli(&["DEL", &user_key(&user)]);
        let got = round(&mut hosts, &wrong, per_host);
        assert_eq!(got, (0, HOSTS * per_host, 0), "round {r}");
        let state = redis_state(&server, &user).unwrap();
        assert_eq!(state.lockouts, 1, "round {r}: exactly one lock-out");
        assert!(
            state.locked_until > now(),
            "round {r}: locked until {}",
            state.locked_until
        );
        // The right code is now refused on every host.
        let got = round(&mut hosts, &hotp(0), 1);
        assert_eq!(got, (0, HOSTS, 0), "round {r}: locked out everywhere");
    }
}

/// The host process: a fixture of its own (service, secret store, state directory) whose
/// module line names a configuration file that points at the test's Redis.
fn host() {
    let port: u16 = std::env::var("PROVE_PORT").unwrap().parse().unwrap();
    let extra = std::env::var("PROVE_EXTRA").unwrap();
    let i = std::env::var("PROVE_HOST").unwrap();
    let f = Fixture::new(&format!("fleet-host-{i}"), "");
    let conf = write_conf(f.dir.path(), &redis_conf(port));
    f.service("otp", &format!("config={} {extra}", conf.display()));
    println!("PROVE ready");
    std::io::stdout().flush().unwrap();
    for line in std::io::stdin().lock().lines() {
        let line = line.unwrap();
        let words: Vec<&str> = line.split(' ').collect();
        match words.as_slice() {
            ["login", code, n] => {
                let n: usize = n.parse().unwrap();
                let start = Barrier::new(n);
                let counts = [
                    AtomicUsize::new(0),
                    AtomicUsize::new(0),
                    AtomicUsize::new(0),
                ];
                std::thread::scope(|s| {
                    for _ in 0..n {
                        s.spawn(|| {
                            start.wait();
                            let slot = match f.login(code) {
                                PAM_SUCCESS => 0,
                                PAM_AUTH_ERR => 1,
                                _ => 2,
                            };
                            counts[slot].fetch_add(1, Ordering::SeqCst);
                        });
                    }
                });
                let [ok, refused, other] = counts.map(|c| c.into_inner());
                println!("PROVE result {ok} {refused} {other}");
                std::io::stdout().flush().unwrap();
            }
            ["end"] => return,
            other => panic!("unknown host command {other:?}"),
        }
    }
}

/// Does nothing unless started as a host by one of the tests above.
#[test]
fn child_process_entry() {
    let Some(mode) = child_mode() else {
        return;
    };
    match mode.as_str() {
        "host" => host(),
        other => panic!("unknown child mode {other}"),
    }
}
