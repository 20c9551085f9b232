//! Reading sshd_config as sshd does for the keywords that decide whether PAM asks for the
//! code: the first value of a keyword wins, `Include` (with `*` patterns) is expanded in
//! place, and `Match` blocks apply only to some connections.

use std::path::{Path, PathBuf};

use super::pam::Place;

/// One keyword setting.
#[derive(Debug, Clone)]
pub struct Setting {
    /// Lower-case keyword.
    pub key: String,
    pub value: String,
    pub place: Place,
    /// The `Match` line this setting is under, if any.
    pub in_match: Option<Place>,
}

/// Settings in file order, includes expanded; `root` prefixes absolute include paths.
pub fn read(path: &Path, root: &Path, problem: &mut dyn FnMut(Place, String)) -> Vec<Setting> {
    let mut out = Vec::new();
    let mut in_match = None;
    expand(path, root, 0, &mut in_match, &mut out, problem);
    out
}

fn expand(
    path: &Path,
    root: &Path,
    depth: usize,
    in_match: &mut Option<Place>,
    out: &mut Vec<Setting>,
    problem: &mut dyn FnMut(Place, String),
) {
    let Ok(text) = std::fs::read_to_string(path) else {
        return;
    };
    for (index, raw) in text.lines().enumerate() {
        let place = Place {
            file: path.to_path_buf(),
            line: index + 1,
        };
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = match line.split_once(|c: char| c.is_whitespace() || c == '=') {
            Some((k, v)) => (
                k,
                v.trim_start_matches(|c: char| c.is_whitespace() || c == '='),
            ),
            None => (line, ""),
        };
        let key = key.to_ascii_lowercase();
        let value = value.trim().trim_matches('"').to_string();
        match key.as_str() {
            "match" => {
                *in_match = Some(place);
            }
            "include" => {
                if depth >= 16 {
                    problem(place, "Include nests too deep (a loop?)".into());
                    continue;
                }
                // sshd restores the including file's Match state after each included file,
                // so a Match block at the end of a drop-in ends with it.
                let outer = in_match.clone();
                for pattern in value.split_whitespace() {
                    for file in glob(pattern, root) {
                        expand(&file, root, depth + 1, in_match, out, problem);
                        *in_match = outer.clone();
                    }
                }
            }
            _ => out.push(Setting {
                key,
                value,
                place,
                in_match: in_match.clone(),
            }),
        }
    }
}

/// Files matching an sshd `Include` pattern: relative to /etc/ssh, `*` and `?` in the last
/// component only (what distributions use), sorted as glob(3) sorts them.
fn glob(pattern: &str, root: &Path) -> Vec<PathBuf> {
    let absolute = if pattern.starts_with('/') {
        pattern.to_string()
    } else {
        format!("/etc/ssh/{pattern}")
    };
    let full = root.join(absolute.trim_start_matches('/'));
    let Some(name) = full
        .file_name()
        .and_then(|n| n.to_str())
        .map(str::to_string)
    else {
        return Vec::new();
    };
    if !name.contains(['*', '?']) {
        return vec![full];
    }
    let dir = full.parent().unwrap_or(Path::new("/"));
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| !n.starts_with('.') && wildcard(&name, n))
        })
        .map(|e| e.path())
        .collect();
    found.sort();
    found
}

fn wildcard(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    fn go(p: &[char], t: &[char]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], t) || (!t.is_empty() && go(p, &t[1..])),
            (Some('?'), Some(_)) => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    go(&p, &t)
}

/// The value sshd uses outside any `Match` block: the first one given.
pub fn global<'a>(settings: &'a [Setting], keys: &[&str]) -> Option<&'a Setting> {
    settings
        .iter()
        .find(|s| s.in_match.is_none() && keys.contains(&s.key.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard("*.conf", "50-otp.conf"));
        assert!(!wildcard("*.conf", "50-otp.conf.bak"));
        assert!(wildcard("a?c", "abc"));
    }
}
