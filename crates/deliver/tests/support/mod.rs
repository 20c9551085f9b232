//! What the channel tests share: a test CA made with the `openssl` command, local HTTPS and
//! SMTP receivers (`receiver.py`, python3's standard library only) on loopback, and a way to
//! run the built helper as the module does (empty environment, the code on stdin).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub const HELPER: &str = env!("CARGO_BIN_EXE_pam-otp-deliver");
pub const CODE: &str = "40718263";

/// A directory under cargo's target directory, removed on drop.
pub struct Dir(pub PathBuf);

impl Dir {
    pub fn new(name: &str) -> Dir {
        // Root-safe all the way up, as the caller demands of a helper's path (see
        // `root_safe_dir`); else under cargo's target directory.
        // SAFETY: geteuid has no preconditions.
        let base = if unsafe { libc::geteuid() } == 0 {
            pam_otp_core::testing::root_safe_dir()
        } else {
            Path::new(env!("CARGO_TARGET_TMPDIR")).to_path_buf()
        };
        let p = base.join(format!("deliver_{name}_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        Dir(p)
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    /// A private (0600) file, as the credentials file must be.
    pub fn private(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        p
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A fresh RSA-2048 key pair made by openssl in `dir`: the private key (PKCS#8 PEM, 0600,
/// as a key file must be) at `name.key`, its public half (SPKI PEM) at `name.pub`.
pub fn rsa_key(dir: &Dir, name: &str) -> (PathBuf, PathBuf) {
    let (key, public) = (format!("{name}.key"), format!("{name}.pub"));
    openssl(
        &dir.0,
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
    openssl(&dir.0, &["pkey", "-in", &key, "-pubout", "-out", &public]);
    let key = dir.path(&key);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    (key, dir.path(&public))
}

/// A CA and a certificate for 127.0.0.1/localhost signed by it: (ca.pem, srv.pem, srv.key).
pub fn test_ca(dir: &Dir) -> (PathBuf, PathBuf, PathBuf) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=pam-otp test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
    ]);
    openssl(&dir.0, &ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "srv.key",
        "-out",
        "srv.csr",
        "-subj",
        "/CN=localhost",
    ]);
    openssl(&dir.0, &csr);
    std::fs::write(
        dir.path("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        &dir.0,
        &[
            "x509",
            "-req",
            "-in",
            "srv.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "srv.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
    for f in ["ca.pem", "srv.pem", "srv.key"] {
        std::fs::set_permissions(dir.path(f), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    (dir.path("ca.pem"), dir.path("srv.pem"), dir.path("srv.key"))
}

/// A receiver process; killed on drop.
pub struct Receiver {
    child: Child,
    pub port: u16,
    pub record: PathBuf,
}

/// Starts `python3 tests/support/SCRIPT ARGS…` and reads the port it prints on its first
/// line (every stand-in here does that once it listens).
pub fn python_server(script: &str, args: &[&std::ffi::OsStr]) -> (Child, u16) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support")
        .join(script);
    let mut child = Command::new("python3")
        .arg(script)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().parse().expect("the stand-in prints its port");
    (child, port)
}

/// What a stand-in recorded at `path`, one JSON value per request or message.
pub fn read_records(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

impl Receiver {
    fn start(dir: &Dir, args: &[&str]) -> Receiver {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let record = dir.path(&format!("record-{}-{n}", args[0]));
        let (cert, key) = (dir.path("srv.pem"), dir.path("srv.key"));
        let mut argv: Vec<&std::ffi::OsStr> = vec![
            args[0].as_ref(),
            cert.as_os_str(),
            key.as_os_str(),
            record.as_os_str(),
        ];
        argv.extend(args[1..].iter().map(|a| std::ffi::OsStr::new(*a)));
        let (child, port) = python_server("receiver.py", &argv);
        Receiver {
            child,
            port,
            record,
        }
    }
    /// HTTPS answering every POST with `status` (a number, or `hang`).
    pub fn https(dir: &Dir, status: &str) -> Receiver {
        Receiver::start(dir, &["https", status])
    }
    /// SMTP with STARTTLS and AUTH.
    pub fn smtp(dir: &Dir) -> Receiver {
        Receiver::start(dir, &["smtp"])
    }
    /// What it recorded, one JSON value per request or message.
    pub fn records(&self) -> Vec<serde_json::Value> {
        read_records(&self.record)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The fixed environment for one delivery.
pub fn env(channel: &str, contact: &str, conf: &Path) -> Vec<(String, String)> {
    vec![
        ("PAM_OTP_USER".into(), "alice".into()),
        ("PAM_OTP_CHANNEL".into(), channel.into()),
        ("PAM_OTP_CONTACT".into(), contact.into()),
        ("PAM_OTP_SERVICE".into(), "sshd".into()),
        ("PAM_OTP_EXPIRES".into(), "4102444800".into()),
        ("PAM_OTP_DELIVER_CONF".into(), conf.display().to_string()),
    ]
}

/// Starts the helper as the module does: empty environment but `env`, `CODE` on stdin.
pub fn start(env: &[(String, String)]) -> Child {
    let mut child = Command::new(HELPER)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // A helper that refuses its start before reading stdin closes it: not our failure.
    let _ = stdin.write_all(format!("{CODE}\n").as_bytes());
    drop(stdin);
    child
}

/// The environment of a check (`PAM_OTP_CHECK=handle`; `CODE` on stdin is the typed code).
pub fn check_env(channel: &str, contact: &str, conf: &Path, handle: &str) -> Vec<(String, String)> {
    let mut e = env(channel, contact, conf);
    e.push(("PAM_OTP_CHECK".into(), handle.into()));
    e
}

/// What the helper printed on stdout.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn run(env: &[(String, String)]) -> Output {
    start(env).wait_with_output().unwrap()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
