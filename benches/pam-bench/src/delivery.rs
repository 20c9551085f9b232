//! `delivery` (and its children `delivery-block`, `delivery-parts`): what a login with a code
//! sent out of band costs beside a login with an app's code, the provider's latency left out.
//!
//! The delivery-only user's secret file holds one `deliver = email:…` line; the module runs
//! `deliver_helper=` the `instant-deliver` program (built with this one, copied into a
//! root-safe directory as `oob::spawn` demands) as `nobody`; it writes the code it gets on
//! stdin to a file, and the conversation answers the module's `Code sent to …:` prompt from
//! that file. So a measured login is the whole flow of pam_otp(8) "CODES SENT OUT OF BAND":
//! the send decision saved under the lock, the helper started as another user and awaited,
//! the prompt, the check saved under the lock; only the provider is missing.
//!
//! Logins are measured as `latency` measures them (blocks of [`BLOCK`] in fresh processes
//! after a warm-up login, modules taking turns). The app-code rows are `latency`'s HOTP
//! success path for pam_otp and the incumbents (a fresh code each login; TOTP would refuse a
//! second login within one time step as a replay, and costs the same: one check, one saved
//! state). The send limits allow at most 6 codes an hour, so before each measured delivery
//! login the block puts back (unmeasured, made durable) the state the warm-up login left (a
//! send or two, a used code), and at its end the state it started from.
//!
//! `delivery-parts` then times, apart, in the same kind of process: `oob::spawn::deliver` of
//! the same helper as `nobody` (fork, setgroups/setgid/setuid, exec, the code through a
//! socket, the exit awaited through a pidfd, the group killed, the helper reaped), one
//! `FileStore` transaction on a copy of the delivery user's state (lock, read, decide, write
//! the older slot, `fdatasync`), and making the code (CSPRNG draw, salt, HMAC).

use std::ffi::{c_char, c_int, c_void, CStr, CString, OsStr};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::ptr;
use std::time::{Duration, Instant};

use pam_otp_core::oob::code::{CodeHash, OneTimeCode, OsRandom};
use pam_otp_core::oob::contact::Contact;
use pam_otp_core::oob::rules::PendingCode;
use pam_otp_core::oob::spawn::{self, Helper, Request};
use pam_otp_core::store::{newest_slot, FileStore, StateKey, StateStore};
use pam_otp_testkit::pam_ffi::{
    answer_each_prompt, pam_authenticate, pam_end, pam_start_confdir, PamConv, PamHandle,
    PamMessage, PamResponse, PAM_BUF_ERR, PAM_SUCCESS,
};

use crate::latency::{module_named, run_block, BLOCK};
use crate::setup::{me, private_dir, Kind, Target};
use crate::stats::{percentile, still_loaded, Series};
use crate::{modules, Options};

const NOBODY: u32 = 65534;
const CONTACT: &str = "email:bench@example.org";
/// The row name of the delivery login (pam_otp.so, another service line).
const DELIVERED: &str = "pam_otp, code sent";

/// The helper's installed path and the file it writes the code to.
struct Installed {
    dir: PathBuf,
    helper: PathBuf,
    code: PathBuf,
}

impl Installed {
    /// Copies `instant-deliver` (beside this program) into a directory of its own under the
    /// tests' root-safe directory, with an `out/` that only `nobody` can write.
    fn new() -> Installed {
        let built = std::env::current_exe()
            .unwrap()
            .with_file_name("instant-deliver");
        assert!(
            built.exists(),
            "{} not found: build the benchmark's binaries",
            built.display()
        );
        let dir = pam_otp_core::testing::root_safe_dir()
            .join(format!("pam-bench-deliver.{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let helper = dir.join("deliver");
        fs::copy(&built, &helper).unwrap();
        fs::set_permissions(&helper, fs::Permissions::from_mode(0o755)).unwrap();
        let out = dir.join("out");
        fs::create_dir(&out).unwrap();
        std::os::unix::fs::chown(&out, Some(NOBODY), Some(NOBODY)).unwrap();
        fs::set_permissions(&out, fs::Permissions::from_mode(0o700)).unwrap();
        Installed {
            code: out.join("code"),
            helper,
            dir,
        }
    }

    /// The paths of an installed helper (in a child process).
    fn at(helper: &Path) -> Installed {
        let dir = helper.parent().unwrap().to_path_buf();
        Installed {
            code: dir.join("out").join("code"),
            helper: helper.to_path_buf(),
            dir,
        }
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        // Only the parent made it; children leave it alone.
        if self
            .dir
            .ends_with(format!("pam-bench-deliver.{}", std::process::id()))
        {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

fn target_dir(opts: &Options) -> PathBuf {
    opts.dir.join("delivery-pam_otp")
}

/// The delivery-only user's service and secret file, state in its own directory.
fn create_target(opts: &Options, installed: &Installed) -> Target {
    let otp = module_named(opts, "pam_otp");
    let extra = format!(
        "deliver_helper={} deliver_user=nobody deliver_interval=0 deliver_per_hour=6",
        installed.helper.display()
    );
    let dir = target_dir(opts);
    let t = Target::create_in(&otp, &dir, &[me()], &extra, None);
    // The app secret Target wrote goes: this user has a contact only.
    crate::setup::write_private(
        &dir.join("secrets").join(me()),
        &format!("# codes by e-mail only\ndeliver = {CONTACT}\n"),
    );
    t
}

pub(crate) fn delivery(opts: &Options) {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(euid, 0, "delivery needs root: the helper runs as nobody");
    let installed = Installed::new();
    let mods: Vec<_> = modules(opts)
        .into_iter()
        .filter(|m| m.name != "pam_otp-B")
        .collect();
    let user = vec![me()];
    for m in &mods {
        Target::create_in(
            m,
            &opts.dir.join(format!("latency-success-{}", m.name)),
            &user,
            "",
            None,
        );
    }
    create_target(opts, &installed);
    let rounds = opts.logins.div_ceil(BLOCK);
    // The app-code rows, the delivery row, then the parts block, taking turns.
    let entries = mods.len() + 2;
    let mut series: Vec<Series> = (0..entries).map(|_| Series { samples: vec![] }).collect();
    let mut parts: [Series; 3] = std::array::from_fn(|_| Series { samples: vec![] });
    for round in 0..rounds {
        for k in 0..entries {
            let i = (round + k) % entries;
            if i < mods.len() {
                series[i]
                    .samples
                    .extend(run_block(opts, &mods[i], "success"));
            } else if i == mods.len() {
                let lines = child(opts, "delivery-block", &installed.helper);
                series[i].samples.extend(&lines[0]);
            } else {
                let lines = child(opts, "delivery-parts", &installed.helper);
                for (p, l) in parts.iter_mut().zip(lines) {
                    p.samples.extend(l);
                }
            }
        }
    }

    println!("### Codes sent out of band: a delivery login beside an app-code login\n");
    println!(
        "{} logins per row, measured as in the latency table (blocks of {BLOCK} in fresh \
         processes after a warm-up login, rows taking turns). *{DELIVERED}*: a user with one \
         `deliver = email:…` line and no app secret; `deliver_helper=` a program that reads \
         the code from its standard input, writes it where the benchmark reads it to answer \
         the `Code sent to …:` prompt, and exits 0 (the provider's latency left out), run as \
         `nobody`; `deliver_interval=0 deliver_per_hour=6`, the rest the defaults. The other \
         rows: the HOTP success path of the latency table (a fresh app code each login).\n",
        rounds * BLOCK
    );
    println!(
        "| login | module | median µs | p10 µs | p90 µs | above floor µs | against pam_otp's app-code login µs |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|");
    let floor = series[0].median();
    let otp_app = mods
        .iter()
        .position(|m| m.name == "pam_otp")
        .map(|i| series[i].median());
    let names = mods
        .iter()
        .map(|m| m.name)
        .chain([DELIVERED])
        .collect::<Vec<_>>();
    for (i, (name, s)) in names.iter().zip(&series).enumerate() {
        let sorted = s.sorted();
        let kind = mods.get(i).map(|m| m.kind);
        println!(
            "| {} | {name} | {:.0} | {:.0} | {:.0} | {} | {} |",
            match kind {
                Some(Kind::Permit) => "none (floor)",
                Some(_) => "app code (HOTP)",
                None => "code sent out of band",
            },
            s.median(),
            percentile(&sorted, 0.1),
            percentile(&sorted, 0.9),
            if kind == Some(Kind::Permit) {
                "(floor)".to_string()
            } else {
                format!("{:.0}", s.median() - floor)
            },
            match (otp_app, kind) {
                (Some(app), None) => format!("{:+.0}", s.median() - app),
                _ => "—".into(),
            },
        );
    }
    println!();
    println!(
        "Where the extra time goes: each part timed apart, {} times, in fresh processes taking \
         turns with the logins above (the same machine, the same scratch directory).\n",
        parts[0].samples.len()
    );
    println!("| part | per delivery login | median µs | p10 µs | p90 µs |");
    println!("|---|---:|---:|---:|---:|");
    let labels = [
        (
            "start the helper as `nobody` and await it (`oob::spawn::deliver`: fork, \
             setgroups/setgid/setuid, exec, the code on a socket, exit awaited on a pidfd, \
             group killed, reaped)",
            "×1",
        ),
        (
            "one state transaction (`FileStore`: lock, read, decide, write the older slot, \
             `fdatasync`, unlock) on the delivery user's state",
            "×2 (the app-code login: ×1)",
        ),
        (
            "make the code (getrandom draw, 16-byte salt, HMAC-SHA256)",
            "×1",
        ),
    ];
    for ((label, times), p) in labels.iter().zip(&parts) {
        let sorted = p.sorted();
        println!(
            "| {label} | {times} | {:.1} | {:.1} | {:.1} |",
            p.median(),
            percentile(&sorted, 0.1),
            percentile(&sorted, 0.9)
        );
    }
    println!();
    if let Some(app) = otp_app {
        let extra = series[mods.len()].median() - app;
        let explained = parts[0].median() + parts[1].median() + parts[2].median();
        println!(
            "- A delivery login costs {extra:.0} µs more than an app-code login of the same \
             module (medians); the helper, the second transaction and the code account for \
             {explained:.0} µs of it, the rest ({:.0} µs) is what was not timed apart: \
             looking up `deliver_user` (getpwnam through NSS), reading the `deliver` line, the \
             second prompt, the longer log line, and the noise between runs.",
            extra - explained
        );
    }
    println!("- Every module was unloaded by each `pam_end` (checked in /proc/self/maps).\n");
}

/// Runs a `delivery-block` or `delivery-parts` child; its lines of µs samples.
fn child(opts: &Options, command: &str, helper: &Path) -> Vec<Vec<f64>> {
    let out = Command::new(std::env::current_exe().unwrap())
        .arg(command)
        .arg(helper)
        .arg(BLOCK.to_string())
        .args(opts.child_args())
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(out.status.success(), "{command} failed");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split_whitespace().map(|v| v.parse().unwrap()).collect())
        .collect()
}

/// The child side of the delivery row: one warm-up login, then `count` measured ones, each
/// after the warm-up's state is put back; prints the µs of each.
pub(crate) fn delivery_block(opts: &Options, helper: &str, count: usize) {
    let installed = Installed::at(Path::new(helper));
    let m = module_named(opts, "pam_otp");
    let t = Target::at(&m, &target_dir(opts), &[me()]);
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    let state_path = target_dir(opts).join("state").join(uid.to_string());
    let login = || {
        let _ = fs::remove_file(&installed.code);
        let rc = login_with_sent_code(&t, &installed.code);
        assert_eq!(rc, PAM_SUCCESS, "a delivery login failed ({rc})");
    };
    // The state this block started from, put back at its end: otherwise each block's
    // warm-up would add a send, and a few blocks on a login would pass the limit of six an hour.
    let before = fs::read(&state_path).ok();
    login(); // warm-up, and the state every measured login starts from
    let state = fs::read(&state_path).unwrap();
    let file = fs::OpenOptions::new()
        .write(true)
        .open(&state_path)
        .unwrap();
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        file.write_all_at(&state, 0).unwrap();
        file.sync_data().unwrap();
        let _ = fs::remove_file(&installed.code);
        let started = Instant::now();
        let rc = login_with_sent_code(&t, &installed.code);
        samples.push(started.elapsed().as_secs_f64() * 1e6);
        assert_eq!(rc, PAM_SUCCESS, "a delivery login failed ({rc})");
    }
    file.write_all_at(before.as_deref().unwrap_or(&state), 0)
        .unwrap();
    file.sync_data().unwrap();
    assert!(!still_loaded(&m), "pam_otp stayed loaded after pam_end");
    let text: Vec<String> = samples.iter().map(|s| format!("{s:.1}")).collect();
    println!("{}", text.join(" "));
}

/// The child side of the parts: `count` times each, printed one line per part (spawn,
/// transaction, code).
pub(crate) fn delivery_parts(opts: &Options, helper: &str, count: usize) {
    let installed = Installed::at(Path::new(helper));
    let contact = Contact::parse(CONTACT).unwrap();
    let helper = Helper {
        path: &installed.helper,
        uid: NOBODY,
        gid: NOBODY,
        timeout: spawn::DEFAULT_TIMEOUT,
        conf: None,
    };
    let user = me();
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    // A copy of the delivery user's state (a pending code and a send history), saved the
    // way the module saves it.
    let dir = private_dir(
        &opts
            .dir
            .join(format!("delivery-parts.{}", std::process::id())),
    );
    let real = target_dir(opts).join("state").join(uid.to_string());
    let store = FileStore::new(&dir, Duration::from_secs(5));
    let key = StateKey { uid, name: &user };
    let (_, _, state) = newest_slot(&fs::read(&real).unwrap()).expect("the delivery state");
    store
        .transact(key, &mut |_| state.clone())
        .expect("the copied state saves");
    let mut spawned = Vec::with_capacity(count);
    let mut saved = Vec::with_capacity(count);
    let mut made = Vec::with_capacity(count);
    for n in 0..=count {
        let started = Instant::now();
        let code = OneTimeCode::generate(6, &mut OsRandom).unwrap();
        let hash = CodeHash::new(&code, &mut OsRandom).unwrap();
        let pending = PendingCode::new(hash, 6, 1_900_000_000, 120).unwrap();
        let t_made = started.elapsed();
        let request = Request {
            user: &user,
            contact: &contact,
            service: "bench",
            expires_at: pending.expires_at,
            code: &code,
        };
        let started = Instant::now();
        spawn::deliver(&helper, &request).expect("the helper delivers");
        let t_spawned = started.elapsed();
        let started = Instant::now();
        store
            .transact(key, &mut |s| {
                let mut next = s.clone();
                next.counters.ok = next.counters.ok.wrapping_add(1);
                next
            })
            .expect("a transaction");
        let t_saved = started.elapsed();
        // The first round is the warm-up.
        if n > 0 {
            made.push(t_made.as_secs_f64() * 1e6);
            spawned.push(t_spawned.as_secs_f64() * 1e6);
            saved.push(t_saved.as_secs_f64() * 1e6);
        }
    }
    let _ = fs::remove_dir_all(&dir);
    for series in [spawned, saved, made] {
        let text: Vec<String> = series.iter().map(|s| format!("{s:.1}")).collect();
        println!("{}", text.join(" "));
    }
}

/// One PAM transaction of the delivery user, answering every prompt with what the helper
/// wrote to `code` (read when the prompt comes, after the helper has run).
fn login_with_sent_code(t: &Target, code: &Path) -> c_int {
    let service = CString::new(t.service.as_str()).unwrap();
    let user = CString::new(t.users[0].as_str()).unwrap();
    let code = CString::new(code.as_os_str().as_bytes()).unwrap();
    let dir = CString::new(t.confdir.as_os_str().as_bytes()).unwrap();
    let conv = PamConv {
        conv: answer_with_sent_code,
        appdata_ptr: code.as_ptr() as *mut c_void,
    };
    let mut pamh: *mut PamHandle = ptr::null_mut();
    // SAFETY: every pointer is a live NUL-terminated string or the conv struct, all of which
    // outlive the transaction; the handle is used only between a successful start and end.
    unsafe {
        let rc = pam_start_confdir(
            service.as_ptr(),
            user.as_ptr(),
            &conv,
            dir.as_ptr(),
            &mut pamh,
        );
        assert_eq!(rc, PAM_SUCCESS, "pam_start failed");
        let rc = pam_authenticate(pamh, 0);
        pam_end(pamh, rc);
        rc
    }
}

/// Answers each prompt with the contents of the file whose NUL-terminated path `appdata`
/// points to (empty if there is none yet).
///
/// # Safety
/// Called by libpam only, with `messages` holding `count` valid pointers and `appdata` the
/// path string passed to `pam_start_confdir`'s conversation, alive for the transaction.
unsafe extern "C" fn answer_with_sent_code(
    count: c_int,
    messages: *mut *const PamMessage,
    responses: *mut *mut PamResponse,
    appdata: *mut c_void,
) -> c_int {
    let Ok(n) = usize::try_from(count) else {
        return PAM_BUF_ERR;
    };
    // SAFETY: `appdata` is a NUL-terminated string, as the function's contract says.
    let path = unsafe { CStr::from_ptr(appdata as *const c_char) }.to_bytes();
    let path = Path::new(OsStr::from_bytes(path));
    // SAFETY: `messages` holds `n` valid pointers and `responses` is writable, as the
    // function's contract says.
    unsafe {
        answer_each_prompt(n, messages, responses, || {
            fs::read(path).unwrap_or_default()
        })
    }
}
