//! Reading Linux-PAM service files as libpam does: `type control module args`, `-type` for
//! modules that may be missing, `[value=action ...]` controls, `[...]` arguments with
//! spaces, `#` comments, backslash continuations, and `@include`, `include`, `substack`.

use std::path::{Path, PathBuf};

/// One line of a service file.
#[derive(Debug, Clone)]
pub enum Entry {
    Rule(Rule),
    /// `@include FILE` (every type) or `TYPE include|substack FILE`.
    Include {
        kind: Option<String>,
        target: String,
        substack: bool,
        place: Place,
    },
}

/// Where a line is, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub file: PathBuf,
    pub line: usize,
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// A module line.
#[derive(Debug, Clone)]
pub struct Rule {
    pub kind: String,
    /// `-auth`: a module that cannot be loaded is skipped silently.
    pub dash: bool,
    pub control: Control,
    pub module: String,
    pub args: Vec<String>,
    pub place: Place,
}

/// The control field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    Keyword(String),
    Bracket(Vec<(String, String)>),
}

impl Control {
    /// The action taken for return value `value` (`success`, `auth_err`, ...), as libpam
    /// maps the keywords; `None` for an unknown keyword.
    pub fn action(&self, value: &str) -> Option<String> {
        match self {
            Control::Keyword(k) => Some(
                match (k.as_str(), value) {
                    ("required" | "requisite" | "optional", "success") => "ok",
                    // libpam maps PAM_IGNORE to "ignore" for every keyword.
                    ("required" | "requisite" | "optional" | "sufficient", "ignore") => "ignore",
                    ("required", _) => "bad",
                    ("requisite", _) => "die",
                    ("optional", _) => "ignore",
                    ("sufficient", "success") => "done",
                    ("sufficient", _) => "ignore",
                    _ => return None,
                }
                .to_string(),
            ),
            Control::Bracket(pairs) => {
                let find = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v);
                // Unlisted values take `default`; with no default libpam treats them as bad.
                Some(
                    find(value)
                        .or_else(|| find("default"))
                        .cloned()
                        .unwrap_or_else(|| "bad".to_string()),
                )
            }
        }
    }

    pub fn shown(&self) -> String {
        match self {
            Control::Keyword(k) => k.clone(),
            Control::Bracket(pairs) => format!(
                "[{}]",
                pairs
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        }
    }
}

impl Rule {
    /// The module's file name (`/lib/.../pam_otp.so` → `pam_otp.so`).
    pub fn module_name(&self) -> &str {
        self.module.rsplit('/').next().unwrap_or(&self.module)
    }

    pub fn is_otp(&self) -> bool {
        self.module_name() == "pam_otp.so"
    }
}

/// Splits a logical line into tokens; `[...]` is one token (brackets kept), `\]` inside it
/// is a literal `]`.
fn tokens(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut token = String::new();
        if c == '[' {
            chars.next();
            token.push('[');
            while let Some(c) = chars.next() {
                if c == '\\' && chars.peek() == Some(&']') {
                    token.push(']');
                    chars.next();
                } else if c == ']' {
                    token.push(']');
                    break;
                } else {
                    token.push(c);
                }
            }
            // Text glued to the closing bracket belongs to the same token.
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                token.push(c);
                chars.next();
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                token.push(c);
                chars.next();
            }
        }
        out.push(token);
    }
    out
}

/// Parses a service file. Lines that are not understood are returned as errors with their
/// place (libpam skips such lines and logs them).
pub fn parse(file: &Path, text: &str) -> (Vec<Entry>, Vec<(Place, String)>) {
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    let mut logical = String::new();
    let mut start = 0;
    for (index, raw) in text.lines().enumerate() {
        if logical.is_empty() {
            start = index + 1;
        }
        let without_comment = raw.split('#').next().unwrap_or("");
        if let Some(cont) = without_comment.strip_suffix('\\') {
            logical.push_str(cont);
            logical.push(' ');
            continue;
        }
        logical.push_str(without_comment);
        let line = std::mem::take(&mut logical);
        let place = Place {
            file: file.to_path_buf(),
            line: start,
        };
        let t = tokens(&line);
        if t.is_empty() {
            continue;
        }
        match parse_line(&t, place.clone()) {
            Ok(entry) => entries.push(entry),
            Err(why) => errors.push((place, why.into())),
        }
    }
    (entries, errors)
}

/// One logical line, split into tokens (at least one), at `place`.
fn parse_line(t: &[String], place: Place) -> Result<Entry, &'static str> {
    if t[0] == "@include" {
        return match t.get(1) {
            Some(target) => Ok(Entry::Include {
                kind: None,
                target: target.clone(),
                substack: false,
                place,
            }),
            None => Err("@include without a file name"),
        };
    }
    if t.len() < 3 {
        return Err("expected 'type control module [arguments]'");
    }
    let (dash, kind) = match t[0].strip_prefix('-') {
        Some(k) => (true, k.to_ascii_lowercase()),
        None => (false, t[0].to_ascii_lowercase()),
    };
    if t[1] == "include" || t[1] == "substack" {
        return Ok(Entry::Include {
            kind: Some(kind),
            target: t[2].clone(),
            substack: t[1] == "substack",
            place,
        });
    }
    let control = if let Some(inner) = t[1].strip_prefix('[') {
        let inner = inner.trim_end_matches(']');
        Control::Bracket(
            inner
                .split_whitespace()
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_ascii_lowercase(), v.to_ascii_lowercase()))
                .collect(),
        )
    } else {
        Control::Keyword(t[1].to_ascii_lowercase())
    };
    let args = t[3..]
        .iter()
        .map(
            |a| match a.strip_prefix('[').and_then(|a| a.strip_suffix(']')) {
                Some(inner) => inner.to_string(),
                None => a.clone(),
            },
        )
        .collect();
    Ok(Entry::Rule(Rule {
        kind,
        dash,
        control,
        module: t[2].clone(),
        args,
        place,
    }))
}

/// One rule of a flattened stack, with the end of the (sub)stack it belongs to: a `done`
/// ends that scope, not more.
#[derive(Debug, Clone)]
pub struct Flat {
    pub rule: Rule,
    pub scope_end: usize,
    /// How many `substack` lines deep the rule is (0 for the service's own stack and its
    /// includes), as libpam's stack level: jumps count rules at one level.
    pub level: usize,
}

/// The `kind` stack of service file `name` in `dir`, includes expanded. Problems (missing
/// include files, include loops) are reported through `problem`.
pub fn flatten(
    dir: &Path,
    name: &str,
    kind: &str,
    problem: &mut dyn FnMut(Place, String),
) -> Vec<Flat> {
    let mut out = Vec::new();
    expand(dir, name, kind, 0, 0, &mut out, problem);
    let end = out.len();
    for f in &mut out {
        if f.scope_end == usize::MAX {
            f.scope_end = end;
        }
    }
    out
}

fn read_service(dir: &Path, name: &str) -> Option<(PathBuf, String)> {
    let path = if name.starts_with('/') {
        PathBuf::from(name)
    } else {
        dir.join(name)
    };
    let text = std::fs::read_to_string(&path).ok()?;
    Some((path, text))
}

fn expand(
    dir: &Path,
    name: &str,
    kind: &str,
    depth: usize,
    level: usize,
    out: &mut Vec<Flat>,
    problem: &mut dyn FnMut(Place, String),
) {
    let Some((path, text)) = read_service(dir, name) else {
        return;
    };
    let (entries, _) = parse(&path, &text);
    for entry in entries {
        match entry {
            Entry::Rule(rule) if rule.kind == kind => out.push(Flat {
                rule,
                scope_end: usize::MAX,
                level,
            }),
            Entry::Rule(_) => {}
            Entry::Include {
                kind: k,
                target,
                substack,
                place,
            } => {
                if k.as_deref().is_some_and(|k| k != kind) {
                    continue;
                }
                if depth >= 16 {
                    problem(
                        place,
                        format!("includes nest too deep at '{target}' (a loop?)"),
                    );
                    continue;
                }
                if read_service(dir, &target).is_none() {
                    problem(place, format!("includes '{target}', which cannot be read"));
                    continue;
                }
                let begin = out.len();
                let inner = if substack { level + 1 } else { level };
                expand(dir, &target, kind, depth + 1, inner, out, problem);
                if substack {
                    let end = out.len();
                    for f in &mut out[begin..end] {
                        if f.scope_end == usize::MAX {
                            f.scope_end = end;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_controls_arguments_and_continuations() {
        let text = "# comment\nauth [success=1 default=ignore] pam_unix.so nullok # trailing\n\
                    -auth required /lib/security/pam_otp.so [prompt=Two words] \\\n  window=2\n\
                    @include common-account\nauth substack other\nbogus\n";
        let (entries, errors) = parse(Path::new("/x"), text);
        assert_eq!(entries.len(), 4);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].0.line, 7);
        let Entry::Rule(unix) = &entries[0] else {
            panic!()
        };
        assert_eq!(unix.control.action("success").as_deref(), Some("1"));
        assert_eq!(unix.control.action("auth_err").as_deref(), Some("ignore"));
        let Entry::Rule(otp) = &entries[1] else {
            panic!()
        };
        assert!(otp.dash && otp.is_otp());
        assert_eq!(otp.args, vec!["prompt=Two words", "window=2"]);
        assert_eq!(otp.place.line, 3);
        assert!(matches!(&entries[3], Entry::Include { substack: true, .. }));
    }

    #[test]
    fn keyword_actions() {
        let k = |s: &str| Control::Keyword(s.into());
        assert_eq!(k("sufficient").action("success").as_deref(), Some("done"));
        assert_eq!(k("optional").action("auth_err").as_deref(), Some("ignore"));
        assert_eq!(k("required").action("auth_err").as_deref(), Some("bad"));
        assert_eq!(k("required").action("ignore").as_deref(), Some("ignore"));
        assert_eq!(k("requisite").action("ignore").as_deref(), Some("ignore"));
        assert_eq!(k("weird").action("success"), None);
    }
}
