//! A stand-in provider API (`canned.py`): answers each path with the answers a test gives,
//! in order, and records every request. Included by the provider tests with
//! `#[path = "support/canned.rs"] mod canned;` next to `mod support;`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Child;

use crate::support::Dir;

/// The running stand-in; killed on drop.
pub struct Canned {
    child: Child,
    pub port: u16,
    record: PathBuf,
}

impl Canned {
    /// Serves `answers` (`{"/path": [{"status", "body", "headers"}, …]}`) with the test CA's
    /// server certificate (`support::test_ca` must have run in `dir`).
    pub fn start(dir: &Dir, answers: &serde_json::Value) -> Canned {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let answers_file = dir.path(&format!("answers-{n}.json"));
        std::fs::write(&answers_file, answers.to_string()).unwrap();
        let record = dir.path(&format!("record-canned-{n}"));
        let (cert, key) = (dir.path("srv.pem"), dir.path("srv.key"));
        let (child, port) = crate::support::python_server(
            "canned.py",
            &[
                cert.as_os_str(),
                key.as_os_str(),
                record.as_os_str(),
                answers_file.as_os_str(),
            ],
        );
        Canned {
            child,
            port,
            record,
        }
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// Every request so far: `{method, path, headers, body}`.
    pub fn records(&self) -> Vec<serde_json::Value> {
        crate::support::read_records(&self.record)
    }
}

impl Drop for Canned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
