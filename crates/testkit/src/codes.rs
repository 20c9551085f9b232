//! Keys and one-time codes from `oathtool` (Debian: oathtool), an implementation independent
//! of ours, given the key in hex so that our base32 decoding is checked too; and recovery
//! entries computed from the documented format rather than with the crate's own helper.

use std::ffi::OsStr;
use std::fs::File;
use std::io::Read;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// Current Unix time in seconds.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// The lines `oathtool ARGS` prints; panics (naming the Debian package) if it cannot run or
/// fails.
pub fn oathtool_lines<S: AsRef<OsStr>>(args: &[S]) -> Vec<String> {
    let shown: Vec<_> = args.iter().map(|a| a.as_ref().to_string_lossy()).collect();
    let out = match Command::new("oathtool").args(args).output() {
        Ok(o) => o,
        Err(e) => panic!(
            "cannot run oathtool ({e}); install the Debian package `oathtool` \
             (apt-get install oathtool)"
        ),
    };
    assert!(
        out.status.success(),
        "oathtool {shown:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("oathtool prints ASCII")
        .lines()
        .map(str::to_string)
        .collect()
}

/// What `oathtool ARGS` prints, trimmed: one code, for the usual arguments.
pub fn oathtool<S: AsRef<OsStr>>(args: &[S]) -> String {
    oathtool_lines(args).join("\n").trim().to_string()
}

/// A key, shown to oathtool in hex and written to secret files in base32.
#[derive(Clone)]
pub struct Key(pub Vec<u8>);

impl Key {
    /// `len` random bytes.
    pub fn random(len: usize) -> Key {
        let mut bytes = vec![0u8; len];
        File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut bytes))
            .expect("read /dev/urandom");
        Key(bytes)
    }

    /// A fixed key, for tests whose codes must not depend on chance (HOTP codes do not
    /// depend on the time either, so such a test sees the same codes on every run).
    pub fn fixed(len: usize) -> Key {
        Key((0..len)
            .map(|i| (i as u8).wrapping_mul(37).wrapping_add(11))
            .collect())
    }

    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn base32(&self) -> String {
        base32::encode(base32::Alphabet::Rfc4648 { padding: false }, &self.0)
    }
}

/// The TOTP parameters of a secret file, in oathtool's terms.
#[derive(Clone, Copy, Debug)]
pub struct Totp {
    pub algorithm: &'static str,
    pub digits: u32,
    pub period: u64,
}

impl Default for Totp {
    fn default() -> Self {
        Totp {
            algorithm: "sha1",
            digits: 6,
            period: 30,
        }
    }
}

impl Totp {
    /// The codes for `count` consecutive steps starting with the one holding `time`.
    pub fn codes(&self, key: &Key, time: u64, count: usize) -> Vec<String> {
        let codes = oathtool_lines(&[
            format!("--totp={}", self.algorithm),
            format!("--digits={}", self.digits),
            format!("--time-step-size={}s", self.period),
            format!("--now=@{time}"),
            format!("--window={}", count - 1),
            key.hex(),
        ]);
        assert_eq!(codes.len(), count, "oathtool printed {codes:?}");
        codes
    }

    /// The code for the current step.
    pub fn now(&self, key: &Key) -> String {
        self.codes(key, now(), 1).remove(0)
    }

    /// The code for the next step (which the module's default window accepts).
    pub fn next(&self, key: &Key) -> String {
        self.codes(key, now() + self.period, 1).remove(0)
    }

    /// A well-formed code that is valid for no step near now (the module's window is at
    /// most a few steps; a wider margin is excluded).
    pub fn wrong(&self, key: &Key) -> String {
        let t = now();
        let near = self.codes(key, t.saturating_sub(3 * self.period), 8);
        let modulus = 10u64.pow(self.digits);
        let base: u64 = near[3].parse().expect("numeric code");
        (1..)
            .map(|i| {
                format!(
                    "{:0width$}",
                    (base + i * 7919) % modulus,
                    width = self.digits as usize
                )
            })
            .find(|c| !near.contains(c))
            .expect("some code is wrong")
    }
}

/// The HOTP (SHA-1, 6 digits) code for `counter`, from oathtool.
pub fn hotp(key: &Key, counter: u64) -> String {
    oathtool_lines(&[format!("--counter={counter}"), key.hex()]).remove(0)
}

/// The secret-file value for a recovery code: `sha256:<salt hex>:<sha256(salt || code)>`,
/// computed here from the documented format rather than with the crate's own helper.
pub fn recovery_entry(normalized_code: &str) -> String {
    use sha2::{Digest, Sha256};
    let salt = Key::random(16);
    let mut h = Sha256::new();
    h.update(&salt.0);
    h.update(normalized_code.as_bytes());
    let digest = Key(h.finalize().to_vec());
    format!("sha256:{}:{}", salt.hex(), digest.hex())
}
