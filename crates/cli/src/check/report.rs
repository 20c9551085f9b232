//! What `pam-otp check` found: each finding with its severity, place and fix, the services
//! that are fine, and how they are printed.

use std::collections::BTreeSet;
use std::path::Path;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Logins that should work are refused.
    Lockout,
    /// Logins that should need a code do not.
    Bypass,
    /// Worth knowing; nobody is locked out or let through by it alone.
    Note,
}

impl Severity {
    fn label(self) -> &'static str {
        match self {
            Severity::Lockout => "LOCKOUT",
            Severity::Bypass => "BYPASS ",
            Severity::Note => "note   ",
        }
    }
}

/// One problem, where it is, and how to fix it. Findings sort by severity, then place.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Finding {
    severity: Severity,
    place: String,
    problem: String,
    fix: String,
}

/// Everything the check found.
#[derive(Default)]
pub struct Report {
    findings: BTreeSet<Finding>,
    /// "ok" lines: services that ask for a code as they should.
    pub ok: Vec<String>,
}

impl Report {
    /// Records a finding (the same one found twice is printed once).
    pub fn add(&mut self, severity: Severity, place: impl ToString, problem: String, fix: &str) {
        self.findings.insert(Finding {
            severity,
            place: place.to_string(),
            problem,
            fix: fix.to_string(),
        });
    }

    /// How many findings there are so far: a check that adds none leaves it unchanged.
    pub fn findings_count(&self) -> usize {
        self.findings.len()
    }

    /// Whether anything locks people out or skips the code (notes do neither).
    pub fn serious(&self) -> bool {
        self.findings.iter().any(|f| f.severity != Severity::Note)
    }

    /// Prints what was checked, the ok lines, each finding with its fix, and a summary.
    pub fn print(&self, pam_dir: &Path, sshd_config: &Path) {
        println!(
            "Checked {} and {}.",
            pam_dir.display(),
            if sshd_config.exists() {
                sshd_config.display().to_string()
            } else {
                format!("no {} (sshd not checked)", sshd_config.display())
            }
        );
        for ok in &self.ok {
            println!("ok       {ok}");
        }
        for f in &self.findings {
            println!("{}  {}: {}", f.severity.label(), f.place, f.problem);
            println!("         fix: {}", f.fix);
        }
        let count = |s: Severity| self.findings.iter().filter(|f| f.severity == s).count();
        let (l, b, n) = (
            count(Severity::Lockout),
            count(Severity::Bypass),
            count(Severity::Note),
        );
        if l + b == 0 {
            println!("No problem found that locks people out or skips the code ({n} note(s)).");
        } else {
            println!("{l} lock-out problem(s), {b} bypass problem(s), {n} note(s).");
        }
    }
}
