//! `pam-otp check`: reads the PAM services and sshd's configuration and reports what locks
//! people out or lets them in without a code, each with its fix.
//!
//! It reads; it never changes anything. Exit status 0 when nothing would lock anyone out
//! or skip the code (notes may still be printed), 1 when something would.
//!
//! Reading the files as libpam and sshd do: [`pam`], [`sshd`], and what a stack makes of
//! its modules' results, [`flow`]. What is found, by family: [`stack_findings`] (each
//! service's auth stack), [`locker_findings`] (screen lockers), [`store_findings`] (secret
//! store and state directory), [`config_findings`] (the configuration files),
//! [`sshd_findings`] (sshd_config), [`recipe_findings`] (the README's recipes that skip the
//! code on purpose). [`report`] collects and
//! prints the findings; this file walks the services.

mod config_findings;
mod flow;
mod locker_findings;
mod pam;
mod recipe_findings;
mod report;
mod sshd;
mod sshd_findings;
mod stack_findings;
mod store_findings;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use pam_otp_core::args::Config;

use crate::cli_args::{CheckArgs, ModuleOpts};
use crate::error::{fail, Result};
use locker_findings::LOCKERS;
use pam::Place;
use report::{Report, Severity};

/// `pam-otp check`: checks every service under the PAM directory, the state directories
/// they name and sshd_config, prints the report, and fails if anything is serious.
pub fn run(_opts: &ModuleOpts, a: &CheckArgs) -> Result<ExitCode> {
    let root = a.root.clone().unwrap_or_else(|| PathBuf::from("/"));
    if !root.is_dir() {
        fail!("--root {} is not a directory.", root.display());
    }
    let pam_dir = a.pam_dir.clone().unwrap_or_else(|| root.join("etc/pam.d"));
    let sshd_config = a
        .sshd_config
        .clone()
        .unwrap_or_else(|| root.join("etc/ssh/sshd_config"));
    let services = services(&pam_dir)?;

    let mut report = Report::default();
    let mut configs: Vec<(Config, Place)> = Vec::new();
    let with_otp = check_services(&pam_dir, &services, &root, &mut report, &mut configs);
    if with_otp.is_empty() {
        report.add(
            Severity::Bypass,
            pam_dir.display(),
            "pam_otp.so is in no PAM service's auth stack: nobody is asked for a code.".into(),
            "Add 'auth required pam_otp.so' to the services that need a second factor \
             (e.g. /etc/pam.d/sshd, /etc/pam.d/sudo); see the example stacks in pam_otp(8).",
        );
    }
    store_findings::check_state_dirs(&configs, &root, &mut report);
    config_findings::check_config_files(&configs, &root, &mut report);
    let sshd_stack = pam::flatten(&pam_dir, "sshd", "auth", &mut |_, _| {});
    sshd_findings::check_sshd(
        &sshd_config,
        &root,
        &pam_dir,
        &with_otp,
        &sshd_stack,
        &mut report,
    );

    report.print(&pam_dir, &sshd_config);
    Ok(if report.serious() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The PAM services in `pam_dir`, sorted; hidden files and editor or dpkg leftovers are
/// not services.
fn services(pam_dir: &Path) -> Result<Vec<String>> {
    let Ok(listing) = std::fs::read_dir(pam_dir) else {
        fail!(
            "cannot read the PAM service directory {}.",
            pam_dir.display()
        );
    };
    let mut services: Vec<String> = listing
        .filter_map(std::result::Result::ok)
        .filter(|e| e.path().is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.') && !n.ends_with('~') && !n.ends_with(".dpkg-old"))
        .collect();
    services.sort();
    Ok(services)
}

/// Checks each service; returns those whose auth stack has pam_otp.so.
fn check_services(
    pam_dir: &Path,
    services: &[String],
    root: &Path,
    report: &mut Report,
    configs: &mut Vec<(Config, Place)>,
) -> Vec<String> {
    let mut with_otp = Vec::new();
    for service in services {
        stack_findings::check_other_types(pam_dir, service, report);
        // Debian's common-* files are included by services; they are checked through them.
        if service.starts_with("common-") {
            continue;
        }
        if check_service(pam_dir, service, root, report, configs) {
            with_otp.push(service.clone());
        }
    }
    with_otp
}

/// One service's auth stack, if it has pam_otp.so (returns whether it has): its includes,
/// its pam_otp.so lines and, for a screen locker, whether it can unlock.
fn check_service(
    pam_dir: &Path,
    service: &str,
    root: &Path,
    report: &mut Report,
    configs: &mut Vec<(Config, Place)>,
) -> bool {
    let mut include_problems = Vec::new();
    let stack = pam::flatten(pam_dir, service, "auth", &mut |place, p| {
        include_problems.push((place, p))
    });
    if !stack.iter().any(|f| f.rule.is_otp()) {
        return false;
    }
    for (place, p) in include_problems {
        report.add(
            Severity::Lockout,
            place,
            format!(
                "{service}: the auth stack {p}; libpam then refuses every login through {service}."
            ),
            "Fix the include line or create the file.",
        );
    }
    stack_findings::check_stack(service, &stack, root, report, configs);
    if LOCKERS.contains(&service) {
        locker_findings::check_locker(service, &stack, pam_dir, report);
    }
    true
}
