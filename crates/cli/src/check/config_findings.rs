//! Findings about the configuration files the module reads: the default one and those that
//! `config=` names. A file the module refuses (unsafe owner or mode, a password in a file
//! others can read, a bad key) makes it refuse every login through the lines that read it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use pam_otp_core::args::Config;
use pam_otp_core::config_file::{self, DEFAULT_PATH};

use super::pam::Place;
use super::report::{Report, Severity};

/// Checks each configuration file the lines in `configs` read, once.
pub fn check_config_files(configs: &[(Config, Place)], root: &Path, report: &mut Report) {
    let mut seen = BTreeSet::new();
    let default = (PathBuf::from(DEFAULT_PATH), false, None);
    let named = configs.iter().filter_map(|(c, place)| {
        c.config_file
            .as_ref()
            .map(|f| (f.clone(), true, Some(place)))
    });
    for (path, explicit, place) in std::iter::once(default).chain(named) {
        if !seen.insert(path.clone()) {
            continue;
        }
        let on_disk = root.join(path.to_string_lossy().trim_start_matches('/'));
        if let Err(e) = config_file::load_file(&on_disk, explicit) {
            let shown = place.map_or_else(|| path.display().to_string(), ToString::to_string);
            report.add(
                Severity::Lockout,
                shown,
                format!("{e}: pam_otp refuses every login that reads it (bad_args)."),
                "Correct the file (see pam_otp.conf(5)): owned by root, not writable by group \
                 or others, mode 0600 if it holds redis_password.",
            );
        }
    }
}
