//! Percentiles and series, and the check that no module stays loaded between logins.

use std::fs;

use crate::setup::Module;

pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    let idx = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[idx]
}

pub(crate) struct Series {
    pub(crate) samples: Vec<f64>, // µs
}

impl Series {
    pub(crate) fn sorted(&self) -> Vec<f64> {
        let mut s = self.samples.clone();
        s.sort_by(|a, b| a.partial_cmp(b).unwrap());
        s
    }
    pub(crate) fn median(&self) -> f64 {
        percentile(&self.sorted(), 0.5)
    }
}

/// Whether a module's file is still mapped in this process (it must not be, after pam_end).
pub(crate) fn still_loaded(module: &Module) -> bool {
    let maps = fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let name = module
        .path
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    maps.lines().any(|l| l.ends_with(&name))
}
