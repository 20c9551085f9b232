//! `providers`: what a code sent through an SMS/voice/push provider costs, each provider API
//! apart, against the local fake providers (crates/testkit/fakes/providers.py, through
//! `pam_otp_testkit::providers::FakeProviders`).
//!
//! Each measured run is one `pam_otp_core::oob::spawn::deliver` (or, for the APIs where the
//! provider makes and checks its own code, also one `spawn::check`) of the built
//! `pam-otp-deliver` (release, beside this program), set up as tests/provider_logins.rs sets
//! it up and as the module starts it: the binary root-owned in a root-safe directory
//! (`pam_otp_core::testing::root_safe_dir()`), started through a root-owned one-line `/bin/sh`
//! wrapper that sets `PAM_OTP_DELIVER_CONF` (the module always hands the helper its default
//! credentials file, `Helper::conf` = `None`), as `nobody`, with a deliver.conf per API
//! (0600, owned by `nobody`, beside the test CA and the key files it names). So a run is: fork,
//! switch to `nobody`, exec the wrapper, exec the helper, read deliver.conf, the HTTPS
//! request(s) (a fresh TCP connection and TLS handshake each: the helper makes one agent per
//! request), the answer, the exit reaped.
//!
//! The fake is a python3 HTTPS server (`ThreadingHTTPServer`, a thread per connection, ECDSA
//! P-256 certificate) on loopback: its own cost (the handshake in Python's `ssl`, checking the
//! request's shape, RS256 signatures checked with `pow()`, two JSON lines appended per
//! request) is part of every row, and a real provider's is not; the network is not either.
//!
//! Reference rows: the helper started with a deliver.conf whose channel fails at once (an
//! `fcm:` contact and no FCM settings: exit 78 before any connection), through the wrapper and
//! without it (`Helper::conf`, the binary itself); and one HTTPS POST to the fake by `curl`
//! (the whole process, and curl's own `time_appconnect`/`time_total`, which leave its start out).
//!
//! Rows take turns (one run of each per round, the order rotating), after a warm-up round;
//! each verification start is checked with the code the fake sent, and a fresh phone number is
//! used per round, so every provider sees a new verification each time.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use pam_otp_core::oob::code::{OneTimeCode, OsRandom};
use pam_otp_core::oob::contact::Contact;
use pam_otp_core::oob::exit::HelperExit;
use pam_otp_core::oob::spawn::{self, CheckRequest, Checked, Helper, Request, SpawnError};
use pam_otp_testkit::providers::*;

use crate::stats::{percentile, Series};

const TOKEN: &str = "fcmRegistrationToken_0123456789:APA91b-abcdefghijklmnopqrstuvwxyz";

/// One provider API measured: its deliver.conf (without the common `ca_file`/`timeout`) and
/// whether its start is checked (the provider makes and checks the code).
struct Api {
    name: &'static str,
    /// The provider setting and, where two rows share it, the auth (for the summary lines).
    short: &'static str,
    conf: String,
    push: bool,
    verify: bool,
}

fn apis(url: &str, vonage_key: &Path, fcm_json: &Path) -> Vec<Api> {
    let api = |name: &'static str, conf: String, push, verify| Api {
        name,
        short: match name.split_once(" start (") {
            Some((_, "Basic)")) => "vonage-verify (Basic)",
            Some((_, "JWT, RS256)")) => "vonage-verify (JWT)",
            _ => name.split(':').next().unwrap_or(name),
        },
        conf,
        push,
        verify,
    };
    vec![
        api(
            "twilio: Messaging (`Messages.json`, auth token)",
            format!(
                "sms_provider = twilio\ntwilio_account_sid = {TWILIO_ACCOUNT_SID}\n\
                 twilio_auth_token = {TWILIO_AUTH_TOKEN}\ntwilio_from = +15005550006\n\
                 twilio_base_url = {url}\n"
            ),
            false,
            false,
        ),
        api(
            "twilio-verify: Verify v2 start (API key)",
            format!(
                "sms_provider = twilio-verify\ntwilio_account_sid = {TWILIO_ACCOUNT_SID}\n\
                 twilio_api_key = {TWILIO_API_KEY}\ntwilio_api_secret = {TWILIO_API_SECRET}\n\
                 twilio_verify_service_sid = {TWILIO_VERIFY_SERVICE_SID}\n\
                 twilio_verify_base_url = {url}\n"
            ),
            false,
            true,
        ),
        api(
            "vonage: SMS API (`/sms/json`)",
            format!(
                "sms_provider = vonage\nvonage_api_key = {VONAGE_API_KEY}\n\
                 vonage_api_secret = {VONAGE_API_SECRET}\nvonage_from = PamOtp\n\
                 vonage_base_url = {url}\n"
            ),
            false,
            false,
        ),
        api(
            "vonage-verify: Verify v2 start (Basic)",
            format!(
                "sms_provider = vonage-verify\nvonage_api_key = {VONAGE_API_KEY}\n\
                 vonage_api_secret = {VONAGE_API_SECRET}\nvonage_verify_base_url = {url}\n"
            ),
            false,
            true,
        ),
        api(
            "vonage-verify: Verify v2 start (JWT, RS256)",
            format!(
                "sms_provider = vonage-verify\nvonage_api_key = {VONAGE_API_KEY}\n\
                 vonage_api_secret = {VONAGE_API_SECRET}\n\
                 vonage_application_id = {VONAGE_APPLICATION_ID}\n\
                 vonage_private_key_file = {}\nvonage_verify_base_url = {url}\n",
                vonage_key.display()
            ),
            false,
            true,
        ),
        api(
            "arkesel: SMS v2 (`/api/v2/sms/send`)",
            format!(
                "sms_provider = arkesel\narkesel_api_key = {ARKESEL_API_KEY}\n\
                 arkesel_sender = PamOtp\narkesel_base_url = {url}\n"
            ),
            false,
            false,
        ),
        api(
            "arkesel-otp: OTP generate",
            format!(
                "sms_provider = arkesel-otp\narkesel_api_key = {ARKESEL_API_KEY}\n\
                 arkesel_sender = PamOtp\narkesel_base_url = {url}\n"
            ),
            false,
            true,
        ),
        api(
            "fcm: HTTP v1 (OAuth token minted from the service account, then `messages:send`)",
            format!(
                "fcm_service_account_file = {}\nfcm_base_url = {url}\n",
                fcm_json.display()
            ),
            true,
            false,
        ),
    ]
}

/// The built helper beside this program, installed with the fake providers (see the module
/// docs and `InstalledHelper`).
fn install() -> InstalledHelper {
    let built = std::env::current_exe()
        .unwrap()
        .with_file_name("pam-otp-deliver");
    assert!(
        built.exists(),
        "{} not found: cargo build --release -p pam-otp-deliver (with this program's \
         CARGO_TARGET_DIR)",
        built.display()
    );
    InstalledHelper::new("pam-bench-providers", &built)
}

fn helper<'a>(path: &'a Path, conf: Option<&'a Path>) -> Helper<'a> {
    Helper {
        path,
        uid: NOBODY,
        gid: NOBODY,
        timeout: spawn::DEFAULT_TIMEOUT,
        conf,
    }
}

/// A phone number of its own for round `round` (E.164, Ghana mobile).
fn phone(round: usize) -> String {
    format!("+23324{:07}", round % 10_000_000)
}

fn ms(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1e3
}

/// One `spawn::deliver`; its ms and the verification handle, if the provider gave one.
fn send(h: &Helper<'_>, contact: &Contact) -> (f64, Option<String>) {
    let code = OneTimeCode::generate(6, &mut OsRandom).unwrap();
    let request = Request {
        user: "bench",
        contact,
        service: "bench",
        expires_at: 1_900_000_000,
        code: &code,
    };
    let started = Instant::now();
    let delivered = spawn::deliver(h, &request);
    let t = ms(started);
    let delivered = delivered.unwrap_or_else(|e| panic!("the helper failed: {e:?}"));
    (t, delivered.verify)
}

/// The helper started with nothing it can send with: must exit 78 at once.
fn no_network(h: &Helper<'_>) -> f64 {
    let contact = Contact::parse(&format!("fcm:{TOKEN}")).unwrap();
    let code = OneTimeCode::generate(6, &mut OsRandom).unwrap();
    let request = Request {
        user: "bench",
        contact: &contact,
        service: "bench",
        expires_at: 1_900_000_000,
        code: &code,
    };
    let started = Instant::now();
    let out = spawn::deliver(h, &request);
    let t = ms(started);
    match out {
        Err(SpawnError::Failed {
            exit: HelperExit::BadConfig,
            ..
        }) => t,
        other => panic!("the no-network helper should exit 78: {other:?}"),
    }
}

/// One HTTPS POST to the fake's control API (not recorded) by curl: wall ms, curl's own
/// time_appconnect and time_total in ms.
fn curl(fake: &FakeProviders) -> [f64; 3] {
    let started = Instant::now();
    let out = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "--max-time", "10", "--cacert"])
        .arg(&fake.ca)
        .args([
            "-X",
            "POST",
            "-w",
            "%{http_code} %{time_appconnect} %{time_total}",
        ])
        .arg(format!("{}/_fake/reset", fake.base_url()))
        .stdin(Stdio::null())
        .output()
        .expect("curl (Debian package curl)");
    let wall = ms(started);
    let text = String::from_utf8(out.stdout).unwrap();
    let v: Vec<&str> = text.split_whitespace().collect();
    assert!(
        out.status.success() && v.first() == Some(&"200"),
        "curl: {text}"
    );
    [
        wall,
        v[1].parse::<f64>().unwrap() * 1e3,
        v[2].parse::<f64>().unwrap() * 1e3,
    ]
}

/// The 1, 5 and 15 minute load averages.
fn loadavg() -> String {
    let text = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

pub(crate) fn providers(sends: usize) {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(euid, 0, "providers needs root: the helper runs as nobody");
    let rig = install();
    let apis = apis(
        &rig.fake.base_url(),
        &rig.path("vonage.key"),
        &rig.path("fcm.json"),
    );
    let wrappers: Vec<PathBuf> = apis
        .iter()
        .enumerate()
        .map(|(n, a)| rig.install(&format!("deliver-{n}"), &a.conf))
        .collect();
    let idle = rig.install(&format!("deliver-{}", apis.len()), "");
    let idle_conf = rig.path(&format!("deliver-{}.conf", apis.len()));

    // Jobs taking turns: each API, the two no-network starts, curl.
    let jobs = apis.len() + 3;
    let mut started_s: Vec<Series> = (0..apis.len())
        .map(|_| Series { samples: vec![] })
        .collect();
    let mut checked: Vec<Series> = (0..apis.len())
        .map(|_| Series { samples: vec![] })
        .collect();
    let mut idle_s: [Series; 2] = std::array::from_fn(|_| Series { samples: vec![] });
    let mut curl_s: [Series; 3] = std::array::from_fn(|_| Series { samples: vec![] });
    let load_before = loadavg();
    let begun = Instant::now();
    for round in 0..=sends {
        let keep = round > 0; // round 0 is the warm-up
        let number = phone(round);
        for k in 0..jobs {
            let j = (round + k) % jobs;
            if j < apis.len() {
                let api = &apis[j];
                let to = if api.push { TOKEN } else { number.as_str() };
                let contact = if api.push {
                    Contact::parse(&format!("fcm:{TOKEN}")).unwrap()
                } else {
                    Contact::parse(&format!("sms:{number}")).unwrap()
                };
                let h = helper(&wrappers[j], None);
                let (t, handle) = send(&h, &contact);
                assert_eq!(handle.is_some(), api.verify, "{}: verify line", api.name);
                if keep {
                    started_s[j].samples.push(t);
                }
                if let Some(handle) = handle {
                    let code = rig.fake.last_code_to(to);
                    let request = CheckRequest {
                        user: "bench",
                        contact: &contact,
                        service: "bench",
                        expires_at: 1_900_000_000,
                        handle: &handle,
                        typed: code.as_bytes(),
                    };
                    let at = Instant::now();
                    let out = spawn::check(&h, &request);
                    let t = ms(at);
                    assert_eq!(out, Ok(Checked::Approved), "{}: check", api.name);
                    if keep {
                        checked[j].samples.push(t);
                    }
                }
                // The fake appends what it delivered to one file, and `last_code_to` reads it
                // all: emptied after each run (unmeasured), so that a round does not cost more
                // than the one before. requests.jsonl, which the final check reads, stays.
                fs::write(rig.fake.record_dir.join("delivered.jsonl"), "").unwrap();
            } else if j == apis.len() {
                let t = no_network(&helper(&idle, None));
                if keep {
                    idle_s[0].samples.push(t);
                }
            } else if j == apis.len() + 1 {
                let t = no_network(&helper(&rig.binary, Some(&idle_conf)));
                if keep {
                    idle_s[1].samples.push(t);
                }
            } else {
                let t = curl(&rig.fake);
                if keep {
                    for (s, v) in curl_s.iter_mut().zip(t) {
                        s.samples.push(v);
                    }
                }
            }
        }
    }
    let took = begun.elapsed().as_secs_f64();
    let violations = rig.fake.violations();
    assert!(violations.is_empty(), "{violations:#?}");
    let requests = rig.fake.requests().len();

    println!("### Codes sent through a provider: one helper run per provider API\n");
    println!(
        "{sends} runs per row after a warm-up round, rows taking turns ({took:.0} s in all). \
         Each run is `oob::spawn::deliver` (for the verification APIs, then `oob::spawn::check` \
         with the code the fake sent) of the release `pam-otp-deliver`, as the module starts it: \
         root-owned in a root-safe directory, through a root-owned `/bin/sh` wrapper that sets \
         `PAM_OTP_DELIVER_CONF`, as `nobody`, `timeout = 5`, the test CA as `ca_file`. The \
         providers are the local fake (crates/testkit/fakes/providers.py: python3, \
         `ThreadingHTTPServer`, TLS by Python's `ssl`, ECDSA P-256 certificate) on loopback, so \
         its own cost is in every row and a real provider's latency and the network are not. \
         A fresh TCP connection and TLS handshake per request. {requests} requests, all of the \
         documented shape. Load average {load_before} at the start, {} at the end (the \
         machine is shared).\n",
        loadavg()
    );
    println!(
        "| what is timed | requests | median ms | p95 ms | max ms | above the helper's start, \
         no network (medians) ms |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    let floor = idle_s[0].median();
    let row = |label: &str, requests: &str, s: &Series, above: bool| {
        let sorted = s.sorted();
        println!(
            "| {label} | {requests} | {:.2} | {:.2} | {:.2} | {} |",
            s.median(),
            percentile(&sorted, 0.95),
            sorted[sorted.len() - 1],
            if above {
                format!("{:+.2}", s.median() - floor)
            } else {
                "—".into()
            }
        );
    };
    for (j, api) in apis.iter().enumerate() {
        let requests = if api.push { "2" } else { "1" };
        let label = if api.verify {
            format!("{}: send", api.name)
        } else {
            api.name.to_string()
        };
        row(&label, requests, &started_s[j], true);
        if api.verify {
            row(
                &format!("{}: check (a second helper start)", api.short),
                "1",
                &checked[j],
                true,
            );
        }
    }
    row(
        "helper started, no network (`fcm:` contact, no FCM settings: exit 78), through the wrapper",
        "0",
        &idle_s[0],
        false,
    );
    row(
        "the same, the binary itself (`PAM_OTP_DELIVER_CONF` from `Helper::conf`, no wrapper)",
        "0",
        &idle_s[1],
        true,
    );
    row(
        "curl: one HTTPS POST to the fake, the whole process",
        "1",
        &curl_s[0],
        false,
    );
    row(
        "curl: the same, its own `time_appconnect` (TCP connect + TLS handshake)",
        "—",
        &curl_s[1],
        false,
    );
    row(
        "curl: the same, its own `time_total` (connect, handshake, request, answer; no process start)",
        "1",
        &curl_s[2],
        false,
    );
    println!();
    let verify_pairs: Vec<String> = apis
        .iter()
        .enumerate()
        .filter(|(_, a)| a.verify)
        .map(|(j, a)| {
            format!(
                "{} {:.1} ms",
                a.short,
                started_s[j].median() + checked[j].median()
            )
        })
        .collect();
    println!(
        "- Helper start without any request: {floor:.2} ms median through the wrapper, {:.2} ms \
         without it (the wrapper's `/bin/sh` exec is {:.2} ms of it; an installed helper reads \
         its default deliver.conf and needs no wrapper). Everything above it in a row is the \
         TLS handshake(s), the request and the fake's answer on loopback.",
        idle_s[1].median(),
        floor - idle_s[1].median()
    );
    println!(
        "- A verification API pays two helper starts per login, send and check: {} (medians \
         added).",
        verify_pairs.join(", ")
    );
    println!(
        "- On the internet the provider's own latency (tens to hundreds of ms per round trip, \
         more for a TLS handshake across the world) dominates all of this; FCM pays two round \
         trips (token, then send), each with its own handshake.\n"
    );
}
