//! The fake SMS/voice/push providers (`crates/testkit/fakes/providers.py`, python3's standard
//! library only): Twilio (Messaging, Verify v2), Vonage (SMS API, Verify v2), Arkesel (SMS v2,
//! OTP) and Firebase (Google OAuth 2.0 token endpoint, FCM HTTP v1) on one loopback HTTPS port,
//! with a CA and server certificate of its own and RSA keys for the JWTs, killed on drop.
//!
//! The fake checks every request against the provider's documented shape, records it
//! ([`FakeProviders::requests`], [`FakeProviders::violations`]), records what it "delivered"
//! ([`FakeProviders::delivered`], [`FakeProviders::last_code_to`]) and can be told to answer
//! the next requests with a documented error, slowly, or by dropping the connection
//! ([`FakeProviders::next`]). The program's docstring is the reference for the endpoints, the
//! record formats and the control API.
//!
//! Needs, and fails (never skips) without: python3, openssl, curl.

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::redis_server::Certs;
use crate::tools::require_tool;

/// Twilio Account SID the fake accepts.
pub const TWILIO_ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
/// Twilio Auth Token of that account.
pub const TWILIO_AUTH_TOKEN: &str = "f4k3-twilio-auth-token-0123456789";
/// Twilio API key SID (Basic user name instead of the Account SID).
pub const TWILIO_API_KEY: &str = "SK0123456789abcdef0123456789abcdef";
/// Its secret.
pub const TWILIO_API_SECRET: &str = "f4k3-twilio-api-secret-9876543210";
/// The Twilio Verify Service.
pub const TWILIO_VERIFY_SERVICE_SID: &str = "VA0123456789abcdef0123456789abcdef";
/// The Twilio Messaging Service.
pub const TWILIO_MESSAGING_SERVICE_SID: &str = "MG0123456789abcdef0123456789abcdef";
/// Vonage API key.
pub const VONAGE_API_KEY: &str = "f4k3a1b2";
/// Vonage API secret.
pub const VONAGE_API_SECRET: &str = "F4k3VonageSecret";
/// Vonage application id (the `application_id` claim of a Verify v2 JWT).
pub const VONAGE_APPLICATION_ID: &str = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";
/// Arkesel API key (`api-key` header).
pub const ARKESEL_API_KEY: &str = "f4k3-arkesel-api-key-b3Jlb2tleQ";
/// Firebase project id.
pub const FCM_PROJECT_ID: &str = "pam-otp-test";
/// The service account's e-mail (the JWT issuer).
pub const FCM_CLIENT_EMAIL: &str = "pam-otp@pam-otp-test.iam.gserviceaccount.com";
/// The service account key's id (the JWT header's `kid`).
pub const FCM_PRIVATE_KEY_ID: &str = "0123456789abcdef0123456789abcdef01234567";

/// One message or code the fake "delivered to a device".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// `twilio`, `twilio-verify`, `vonage`, `vonage-verify`, `arkesel`, `arkesel-otp`, `fcm`.
    pub provider: String,
    /// The endpoint (`messages`, `start`, `sms`, `generate`, `send`).
    pub api: String,
    /// The phone number (as the request gave it) or the FCM registration token.
    pub to: String,
    /// The message text, or for FCM the JSON of the notification and data.
    pub text: String,
    /// Verify/OTP: the code the fake generated; messaging/push: the first 6-8 digit run.
    pub code: Option<String>,
}

/// The running fake (see the module documentation).
pub struct FakeProviders {
    /// The loopback port.
    pub port: u16,
    /// The test CA's certificate (PEM) that signed the fake's server certificate.
    pub ca: PathBuf,
    /// A Google-style service-account JSON whose `token_uri` is the fake's `/token`.
    pub service_account: PathBuf,
    /// The service account's private key (PEM PKCS#8), also inside [`Self::service_account`].
    pub fcm_private_key: PathBuf,
    /// The Vonage application's private key (PEM PKCS#8), to sign Verify v2 JWTs.
    pub vonage_private_key: PathBuf,
    /// Where the fake appends `requests.jsonl` and `delivered.jsonl`.
    pub record_dir: PathBuf,
    child: Option<Child>,
}

fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("openssl (Debian package openssl) must be installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A fresh RSA-2048 key pair in `dir`: (private PKCS#8 PEM, public SPKI PEM).
fn rsa_key(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let key = format!("{name}.key");
    let public = format!("{name}.pub");
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            &key,
        ],
    );
    openssl(dir, &["pkey", "-in", &key, "-pubout", "-out", &public]);
    (dir.join(key), dir.join(public))
}

/// `data` in unpadded base64url (RFC 4648 section 5), as JWTs encode their parts.
pub fn base64url(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// A JWT `header.claims.signature` signed RS256 with the PEM private key `key` (by the
/// `openssl` command, an implementation independent of the code under test).
pub fn jwt_rs256(key: &Path, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        base64url(header.to_string().as_bytes()),
        base64url(claims.to_string().as_bytes())
    );
    let dir = key.parent().expect("key in a directory");
    let name = format!("jwt-input-{}", std::process::id());
    let path = dir.join(&name);
    fs::write(&path, &input).unwrap();
    let key = key.to_str().unwrap();
    let sig = openssl(dir, &["dgst", "-sha256", "-sign", key, &name]);
    let _ = fs::remove_file(&path);
    format!("{input}.{}", base64url(&sig))
}

/// Seconds since the epoch, for JWT `iat`/`exp`.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn read_jsonl(path: &Path) -> Vec<Value> {
    match fs::read_to_string(path) {
        Ok(text) => text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("the fake writes JSON lines"))
            .collect(),
        Err(_) => Vec::new(),
    }
}

impl FakeProviders {
    /// Generates certificates, keys and credentials in `dir`, starts the fake and waits until
    /// it listens.
    pub fn start(dir: &Path) -> FakeProviders {
        require_tool("python3", &["--version"], "python3");
        require_tool("openssl", &["version"], "openssl");
        require_tool("curl", &["--version"], "curl");
        fs::create_dir_all(dir).unwrap();
        let certs = Certs::generate(dir, "providers");
        let (vonage_key, vonage_pub) = rsa_key(dir, "vonage-application");
        let (fcm_key, fcm_pub) = rsa_key(dir, "fcm-service-account");
        let accounts = json!({
            "twilio": {
                "account_sid": TWILIO_ACCOUNT_SID, "auth_token": TWILIO_AUTH_TOKEN,
                "api_key": TWILIO_API_KEY, "api_secret": TWILIO_API_SECRET,
                "verify_service_sid": TWILIO_VERIFY_SERVICE_SID,
                "messaging_service_sid": TWILIO_MESSAGING_SERVICE_SID,
            },
            "vonage": {
                "api_key": VONAGE_API_KEY, "api_secret": VONAGE_API_SECRET,
                "application_id": VONAGE_APPLICATION_ID,
                "public_key_file": vonage_pub,
            },
            "arkesel": {"api_key": ARKESEL_API_KEY},
            "fcm": {
                "project_id": FCM_PROJECT_ID, "client_email": FCM_CLIENT_EMAIL,
                "private_key_id": FCM_PRIVATE_KEY_ID, "public_key_file": fcm_pub,
            },
        });
        let accounts_path = dir.join("provider-accounts.json");
        fs::write(&accounts_path, accounts.to_string()).unwrap();
        let record_dir = dir.join("provider-records");
        fs::create_dir_all(&record_dir).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("fakes/providers.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .arg("--cert")
            .arg(&certs.cert)
            .arg("--key")
            .arg(&certs.key)
            .arg("--accounts")
            .arg(&accounts_path)
            .arg("--record")
            .arg(&record_dir)
            .args(["--port", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start python3 (Debian package python3)");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the fake providers did not say `listening PORT` within 20 s");
            }
        };
        let port: u16 = match line.trim().strip_prefix("listening ") {
            Some(p) => p.parse().expect("a port number"),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the fake providers did not start (said {line:?})");
            }
        };
        let private_key = fs::read_to_string(&fcm_key).unwrap();
        let service_account = json!({
            "type": "service_account",
            "project_id": FCM_PROJECT_ID,
            "private_key_id": FCM_PRIVATE_KEY_ID,
            "private_key": private_key,
            "client_email": FCM_CLIENT_EMAIL,
            "client_id": "100000000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": format!("https://127.0.0.1:{port}/token"),
        });
        let service_account_path = dir.join("fcm-service-account.json");
        fs::write(&service_account_path, service_account.to_string()).unwrap();
        FakeProviders {
            port,
            ca: certs.ca,
            service_account: service_account_path,
            fcm_private_key: fcm_key,
            vonage_private_key: vonage_key,
            record_dir,
            child: Some(child),
        }
    }

    /// `https://127.0.0.1:PORT`: every provider's base URL.
    pub fn base_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// The fake's token endpoint (the service account's `token_uri`).
    pub fn token_uri(&self) -> String {
        format!("{}/token", self.base_url())
    }

    /// A control request through curl: (HTTP status, body).
    fn control(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, String) {
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "--max-time", "10", "--cacert"])
            .arg(&self.ca)
            .args(["-X", method, "-w", "\n%{http_code}"]);
        if let Some(body) = body {
            cmd.args(["-H", "Content-Type: application/json", "--data-binary"])
                .arg(body.to_string());
        }
        let out = cmd
            .arg(format!("{}{path}", self.base_url()))
            .stdin(Stdio::null())
            .output()
            .expect("run curl (Debian package curl)");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (body, status) = text.rsplit_once('\n').unwrap_or(("", "0"));
        (status.trim().parse().unwrap_or(0), body.to_string())
    }

    /// The next `times` well-formed requests to `provider` answer `answer` (see the docstring).
    pub fn next(&self, provider: &str, answer: &str, times: u32) {
        self.next_with(&json!({"provider": provider, "answer": answer, "times": times}));
    }

    /// [`Self::next`] with every option: `{"provider","answer","times","retry_after","delay_ms"}`.
    pub fn next_with(&self, spec: &Value) {
        let (status, body) = self.control("POST", "/_fake/next", Some(spec));
        assert_eq!(status, 200, "the fake refused {spec}: {body}");
    }

    /// Clears the pending faults.
    pub fn reset(&self) {
        let (status, body) = self.control("POST", "/_fake/reset", None);
        assert_eq!(status, 200, "reset: {body}");
    }

    /// Every provider request the fake received, in order (see the docstring's record format).
    pub fn requests(&self) -> Vec<Value> {
        read_jsonl(&self.record_dir.join("requests.jsonl"))
    }

    /// Every message/code delivered, in order.
    pub fn delivered(&self) -> Vec<Delivered> {
        read_jsonl(&self.record_dir.join("delivered.jsonl"))
            .into_iter()
            .map(|v| Delivered {
                provider: v["provider"].as_str().unwrap_or_default().to_string(),
                api: v["api"].as_str().unwrap_or_default().to_string(),
                to: v["to"].as_str().unwrap_or_default().to_string(),
                text: v["text"].as_str().unwrap_or_default().to_string(),
                code: v["code"].as_str().map(str::to_string),
            })
            .collect()
    }

    /// The code of the last delivery to `to` (`+` ignored, so `+233…` and `233…` match).
    /// Panics when nothing with a code went there.
    pub fn last_code_to(&self, to: &str) -> String {
        let want = to.trim_start_matches('+');
        self.delivered()
            .into_iter()
            .rev()
            .find(|d| d.to.trim_start_matches('+') == want && d.code.is_some())
            .and_then(|d| d.code)
            .unwrap_or_else(|| panic!("the fake delivered no code to {to}"))
    }

    /// Every violation of every request (`provider api: text`), empty when all were well formed.
    pub fn violations(&self) -> Vec<String> {
        self.requests()
            .iter()
            .flat_map(|r| {
                let head = format!(
                    "{} {} {}",
                    r["provider"].as_str().unwrap_or("?"),
                    r["api"].as_str().unwrap_or("?"),
                    r["path"].as_str().unwrap_or("?")
                );
                r["violations"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(move |v| format!("{head}: {}", v.as_str().unwrap_or("?")))
            })
            .collect()
    }

    /// Kills the fake at once.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for FakeProviders {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The uid and gid the installed helper runs as (`deliver_user=nobody`).
pub const NOBODY: u32 = 65534;

/// The fake providers, and a built `pam-otp-deliver` installed as an administrator would:
/// the binary root-owned in a root-safe directory (`pam_otp_core::testing::root_safe_dir`,
/// as `oob::spawn` demands), its private files (credentials, the fake's CA, the FCM service
/// account and the Vonage key) owned by `nobody` with mode 0600. Removed on drop.
pub struct InstalledHelper {
    pub fake: FakeProviders,
    /// The root-safe directory holding it all.
    pub dir: PathBuf,
    /// The copied helper binary.
    pub binary: PathBuf,
}

impl InstalledHelper {
    /// Copies `built` (the helper cargo built) into a new directory named for `name`, starts
    /// the fake there and copies its CA (`ca.pem`), service account (`fcm.json`) and Vonage
    /// key (`vonage.key`) in as private files.
    pub fn new(name: &str, built: &Path) -> InstalledHelper {
        let dir =
            pam_otp_core::testing::root_safe_dir().join(format!("{name}_{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let fake = FakeProviders::start(&dir.join("fake"));
        let private = dir.join("private");
        fs::create_dir(&private).unwrap();
        std::os::unix::fs::chown(&private, Some(NOBODY), Some(NOBODY)).unwrap();
        fs::set_permissions(&private, fs::Permissions::from_mode(0o700)).unwrap();
        let binary = dir.join("pam-otp-deliver.bin");
        fs::copy(built, &binary).unwrap();
        fs::set_permissions(&binary, fs::Permissions::from_mode(0o755)).unwrap();
        let installed = InstalledHelper { fake, dir, binary };
        for (name, from) in [
            ("ca.pem", &installed.fake.ca),
            ("fcm.json", &installed.fake.service_account),
            ("vonage.key", &installed.fake.vonage_private_key),
        ] {
            installed.private(name, &fs::read_to_string(from).unwrap());
        }
        installed
    }

    /// The private file `name`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join("private").join(name)
    }

    /// Writes the private file `name` (owner `nobody`, mode 0600).
    pub fn private(&self, name: &str, text: &str) {
        let path = self.path(name);
        fs::write(&path, text).unwrap();
        std::os::unix::fs::chown(&path, Some(NOBODY), Some(NOBODY)).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    }

    /// The credentials file `name`.conf (the fake's `ca_file` and a 5 s `timeout` first,
    /// then `conf`), and the root-owned one-line wrapper `pam-otp-deliver-name` that hands
    /// it to the helper (a login always names the default credentials file); the wrapper's
    /// path, for `deliver_helper=`.
    pub fn install(&self, name: &str, conf: &str) -> PathBuf {
        let file = format!("{name}.conf");
        self.private(
            &file,
            &format!(
                "ca_file = {}\ntimeout = 5\n{conf}",
                self.path("ca.pem").display()
            ),
        );
        let wrapper = self.dir.join(format!("pam-otp-deliver-{name}"));
        fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nPAM_OTP_DELIVER_CONF={} exec {}\n",
                self.path(&file).display(),
                self.binary.display()
            ),
        )
        .unwrap();
        fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755)).unwrap();
        wrapper
    }
}

impl Drop for InstalledHelper {
    fn drop(&mut self) {
        self.fake.kill();
        let _ = fs::remove_dir_all(&self.dir);
    }
}
