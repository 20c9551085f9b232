//! In-process logins: the test process itself is the PAM application, around
//! `pam_start_confdir`, so that thousands of logins (and many threads, each with its own PAM
//! handle) cost no process start-up. For the race, crash and fault tests and the benchmark.
//!
//! Each [`Fixture`] is a private directory with its own PAM service directory, an admin
//! secret store (`secret=<dir>/secrets/%u`, owned by the module's user, so no root is
//! needed) holding HOTP secrets, and a state directory. HOTP lets every login present a
//! fresh code: the next counter value.

use std::ffi::{c_int, c_void, CString};
use std::fs;
use std::path::{Path, PathBuf};
use std::ptr;
use std::time::Duration;

use pam_otp_core::otp::{self, Algorithm};
use pam_otp_core::secret_file::encode_base32;
use pam_otp_core::state::State;
use pam_otp_core::store::FileStore;
use pam_otp_core::testing::{write_file, TestDir};

use crate::built::module_path;
use crate::pam_ffi::{
    answer_prompts, pam_authenticate, pam_end, pam_start, pam_start_confdir, PamConv, PamHandle,
    PAM_SUCCESS,
};
use crate::users::current_user;

/// One PAM transaction, as sshd or sudo runs it: start (libpam reads the service file and
/// loads the module), authenticate with `answer` typed at every prompt, end (the module is
/// unloaded). `confdir: None` uses plain `pam_start` (for pam_wrapper, which does not wrap
/// `pam_start_confdir`).
pub fn pam_login(confdir: Option<&Path>, service: &str, user: &str, answer: &str) -> c_int {
    let service = CString::new(service).unwrap();
    let user = CString::new(user).unwrap();
    let answer = CString::new(answer).unwrap();
    let conv = PamConv {
        conv: answer_prompts,
        appdata_ptr: answer.as_ptr() as *mut c_void,
    };
    let mut pamh: *mut PamHandle = ptr::null_mut();
    // SAFETY: every pointer is a live NUL-terminated string or the conv struct, all of which
    // outlive the transaction; the handle is used only between a successful start and end.
    unsafe {
        let rc = match confdir {
            Some(dir) => {
                let dir = CString::new(dir.as_os_str().as_encoded_bytes()).unwrap();
                pam_start_confdir(
                    service.as_ptr(),
                    user.as_ptr(),
                    &conv,
                    dir.as_ptr(),
                    &mut pamh,
                )
            }
            None => pam_start(service.as_ptr(), user.as_ptr(), &conv, &mut pamh),
        };
        assert_eq!(rc, PAM_SUCCESS, "pam_start failed");
        let rc = pam_authenticate(pamh, 0);
        pam_end(pamh, rc);
        rc
    }
}

/// The key every fixture secret uses (RFC 4226's test key; the secret file is private).
pub const KEY: &[u8] = b"12345678901234567890";

/// A service directory, secret store and state directory for in-process logins.
pub struct Fixture {
    pub dir: TestDir,
    pub user: String,
    pub uid: u32,
}

impl Fixture {
    /// `tag` names the directory (see [`TestDir::tagged`]); `extra`: module arguments after
    /// `secret=` and `state_dir=`.
    pub fn new(tag: &str, extra: &str) -> Fixture {
        let me = current_user();
        let f = Fixture {
            dir: TestDir::tagged(tag),
            user: me.name,
            uid: me.uid,
        };
        f.dir.private_dir("services");
        f.dir.private_dir("secrets");
        f.service("otp", extra);
        let me = f.user.clone();
        f.add_secret(&me);
        f
    }

    /// Writes service `name`: the module alone, returning exactly what it returns.
    pub fn service(&self, name: &str, extra: &str) {
        let line = format!(
            "auth [success=done default=die] {} secret={}/%u state_dir={} {extra}\n",
            module_path().display(),
            self.secrets_dir().display(),
            self.state_dir().display(),
        );
        fs::write(self.services_dir().join(name), line).unwrap();
    }

    /// Gives `user` the fixture's HOTP secret (counter starting at 0).
    pub fn add_secret(&self, user: &str) {
        write_file(
            &self.secrets_dir().join(user),
            format!("type = hotp\nsecret = {}\n", &*encode_base32(KEY)).as_bytes(),
            0o600,
        );
    }

    pub fn services_dir(&self) -> PathBuf {
        self.dir.join("services")
    }

    pub fn secrets_dir(&self) -> PathBuf {
        self.dir.join("secrets")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.join("state")
    }

    pub fn state_file(&self, uid: u32) -> PathBuf {
        self.state_dir().join(uid.to_string())
    }

    /// One in-process login of the fixture's user on service `otp`.
    pub fn login(&self, code: &str) -> c_int {
        pam_login(Some(&self.services_dir()), "otp", &self.user, code)
    }

    /// The user's state as the module would read it.
    pub fn state(&self) -> State {
        FileStore::new(self.state_dir(), Duration::from_secs(5))
            .load(self.uid)
            .expect("state loads")
    }
}

/// The fixture key's HOTP code for `counter`, as the token shows it (computed in process:
/// the race tests need thousands).
pub fn hotp(counter: u64) -> String {
    otp::format_code(otp::hotp(KEY, counter, Algorithm::Sha1, 6), 6)
}

/// A six-digit code that is not the fixture key's code for any counter in `0..limit + 30`.
pub fn wrong_code(limit: u64) -> String {
    (0..1_000_000u32)
        .map(|c| format!("{c:06}"))
        .find(|c| !(0..limit + 30).any(|n| hotp(n) == *c))
        .unwrap()
}
