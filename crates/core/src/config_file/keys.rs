//! The store's settings (`store=`, `fail_mode=`, `redis_*`): each parsed on its own, then
//! checked together once every source is read, into a [`StoreChoice`].
//!
//! Later sources override earlier ones key by key, with two groups that replace each other
//! as a whole: the endpoint (`redis_url`, or `redis_sentinels` with `redis_sentinel_master`
//! and `redis_tls`) and the password (`redis_password` or `redis_password_file`). A source
//! that says `store=file` drops the Redis settings of the sources before it, but Redis
//! settings in the same source, or after it, are an error: a mistyped `store` line must not
//! silently drop fleet mode.

use std::path::PathBuf;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::args::Place;
use crate::decimal::parse_decimal;
use crate::fleet::settings::{
    FailMode, HostPort, RedisEndpoint, RedisSettings, StoreChoice, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_NAMESPACE, DEFAULT_TIMEOUT, DEFAULT_WAIT_TIMEOUT,
};

/// Shortest and longest Redis timeout, in milliseconds. A login waits at most for a connect,
/// a few replies and a `WAIT`, each bounded by one of them: well inside sshd's
/// LoginGraceTime (120 s by default) even with every Sentinel tried.
pub const TIMEOUT_MS: (u64, u64) = (10, 5000);
/// Most replicas `redis_wait=` may wait for.
pub const MAX_WAIT_REPLICAS: u32 = 16;
/// Longest namespace, master name, ACL user name.
pub const MAX_NAME_LEN: usize = 64;
/// Longest password (in the file or in `redis_password_file`).
pub const MAX_PASSWORD_LEN: usize = 512;
/// Default Redis port (in `redis_url` without a port).
pub const DEFAULT_PORT: u16 = 6379;
/// Most Sentinels in `redis_sentinels`.
pub const MAX_SENTINELS: usize = 16;

/// Where to find the primary, as one source gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Endpoint {
    Url {
        at: HostPort,
        tls: bool,
        db: Option<u32>,
    },
    Sentinels(Vec<HostPort>),
}

/// Where the password comes from.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Password {
    /// `redis_password=` (configuration file only).
    Inline(Zeroizing<String>),
    /// `redis_password_file=`: read when the settings are loaded.
    File(PathBuf),
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Password::Inline(_) => write!(f, "Inline([redacted])"),
            Password::File(p) => write!(f, "File({p:?})"),
        }
    }
}

/// The store's settings read so far (every field: given by some source).
#[derive(Debug, Default)]
pub(crate) struct StoreDraft {
    redis: Option<bool>,
    endpoint: Option<Endpoint>,
    master: Option<String>,
    tls: Option<bool>,
    db: Option<u32>,
    user: Option<String>,
    password: Option<Password>,
    ca_file: Option<PathBuf>,
    namespace: Option<String>,
    connect_timeout: Option<Duration>,
    timeout: Option<Duration>,
    wait_replicas: Option<u32>,
    wait_timeout: Option<Duration>,
    fail_mode: Option<FailMode>,
}

/// The keys of Redis settings (everything but `store`), for the checks across keys.
const REDIS_KEYS: &[&str] = &[
    "fail_mode",
    "redis_url",
    "redis_sentinels",
    "redis_sentinel_master",
    "redis_tls",
    "redis_db",
    "redis_user",
    "redis_password",
    "redis_password_file",
    "redis_ca_file",
    "redis_namespace",
    "redis_connect_timeout",
    "redis_timeout",
    "redis_wait",
    "redis_wait_timeout",
];

impl StoreDraft {
    /// Applies one store key; `Err("unknown argument")` for a key that is none of them.
    pub(crate) fn apply(
        &mut self,
        place: Place,
        name: &str,
        value: Option<&str>,
    ) -> Result<(), &'static str> {
        if !REDIS_KEYS.contains(&name) && name != "store" {
            return Err("unknown argument");
        }
        let v = value.ok_or("needs a value (name=value)")?;
        match name {
            "store" => {
                let redis = match v {
                    "file" => false,
                    "redis" => true,
                    _ => return Err("must be file or redis"),
                };
                if !redis {
                    // Whatever earlier sources said about Redis no longer applies.
                    *self = StoreDraft::default();
                }
                self.redis = Some(redis);
            }
            "fail_mode" => {
                self.fail_mode = Some(match v {
                    "closed" => FailMode::Closed,
                    "local" => FailMode::Local,
                    _ => return Err("must be closed or local (there is no fail-open mode)"),
                });
            }
            "redis_url" => {
                self.endpoint = Some(url(v)?);
                self.master = None;
                self.tls = None;
            }
            "redis_sentinels" => {
                let list: Vec<&str> = v.split(',').map(str::trim).collect();
                if list.len() > MAX_SENTINELS {
                    return Err("names more than 16 Sentinels");
                }
                let sentinels = list
                    .into_iter()
                    .map(|s| host_port(s, None))
                    .collect::<Option<Vec<_>>>()
                    .ok_or("must be host:port,host:port,... (IPv6 addresses in brackets)")?;
                self.endpoint = Some(Endpoint::Sentinels(sentinels));
            }
            "redis_sentinel_master" => self.master = Some(name_like(v)?),
            "redis_tls" => {
                self.tls = Some(match v {
                    "yes" => true,
                    "no" => false,
                    _ => return Err("must be yes or no"),
                });
            }
            "redis_db" => {
                self.db = Some(
                    parse_decimal(v)
                        .filter(|d| *d <= 65535)
                        .ok_or("must be 0 to 65535")?,
                );
            }
            "redis_user" => self.user = Some(name_like(v)?),
            "redis_password" => {
                match place {
                    Place::Args => {
                        return Err("is not allowed on the module line (PAM service files are \
                                    world-readable): put it in the configuration file, or \
                                    name a root-only file with redis_password_file")
                    }
                    Place::File { private: false } => {
                        return Err("is in a file that group or others can read: make the \
                                    file mode 0600, or use redis_password_file")
                    }
                    Place::File { private: true } => {}
                }
                if !password_text(v) {
                    return Err("must be 1 to 512 characters, no control characters");
                }
                self.password = Some(Password::Inline(Zeroizing::new(v.to_string())));
            }
            "redis_password_file" => {
                self.password = Some(Password::File(absolute(v)?));
            }
            "redis_ca_file" => self.ca_file = Some(absolute(v)?),
            "redis_namespace" => self.namespace = Some(name_like(v)?),
            "redis_connect_timeout" => self.connect_timeout = Some(millis(v)?),
            "redis_timeout" => self.timeout = Some(millis(v)?),
            "redis_wait_timeout" => self.wait_timeout = Some(millis(v)?),
            "redis_wait" => {
                self.wait_replicas = Some(
                    parse_decimal(v)
                        .filter(|n| *n <= MAX_WAIT_REPLICAS)
                        .ok_or("must be 0 to 16 replicas")?,
                );
            }
            _ => return Err("unknown argument"),
        }
        Ok(())
    }

    /// The checks within one source (`seen`: its keys, in order).
    pub(crate) fn end_source(&self, seen: &[String]) -> Result<(), (String, &'static str)> {
        let has = |k: &str| seen.iter().any(|s| s == k);
        let fail = |k: &str, why| Err((k.to_string(), why));
        if has("redis_url") && has("redis_sentinels") {
            return fail("redis_sentinels", "excludes redis_url (give one endpoint)");
        }
        if has("redis_password") && has("redis_password_file") {
            return fail(
                "redis_password_file",
                "excludes redis_password (give one password)",
            );
        }
        if self.redis == Some(false) && has("store") {
            if let Some(k) = seen.iter().find(|s| REDIS_KEYS.contains(&s.as_str())) {
                return fail(k, "is a Redis setting, but this says store=file");
            }
        }
        Ok(())
    }

    /// The store the sources describe, checked as a whole.
    pub(crate) fn finish(self) -> Result<StoreChoice, (String, &'static str)> {
        let fail = |k: &str, why| Err((k.to_string(), why));
        if self.redis != Some(true) {
            if let Some(k) = self.first_given() {
                return fail(k, "is a Redis setting, but store=redis is not given");
            }
            return Ok(StoreChoice::File);
        }
        let (endpoint, tls, url_db) = match self.endpoint {
            None => return fail("store", "store=redis needs redis_url or redis_sentinels"),
            Some(Endpoint::Url { at, tls, db }) => {
                if self.master.is_some() {
                    return fail(
                        "redis_sentinel_master",
                        "needs redis_sentinels, not redis_url",
                    );
                }
                if self.tls.is_some() {
                    return fail(
                        "redis_tls",
                        "needs redis_sentinels (with redis_url, rediss:// means TLS)",
                    );
                }
                (RedisEndpoint::Direct(at), tls, db)
            }
            Some(Endpoint::Sentinels(sentinels)) => {
                let Some(master) = self.master else {
                    return fail("redis_sentinels", "needs redis_sentinel_master");
                };
                (
                    RedisEndpoint::Sentinel { sentinels, master },
                    self.tls.unwrap_or(false),
                    None,
                )
            }
        };
        if url_db.is_some() && self.db.is_some() {
            return fail("redis_db", "the database is already in redis_url");
        }
        if tls && self.ca_file.is_none() {
            return fail(
                "redis_ca_file",
                "is needed with TLS (no certificate is trusted without it)",
            );
        }
        if !tls && self.ca_file.is_some() {
            return fail(
                "redis_ca_file",
                "is only used with TLS (rediss:// or redis_tls=yes)",
            );
        }
        if self.user.is_some() && self.password.is_none() {
            return fail(
                "redis_user",
                "needs redis_password_file (or redis_password in the configuration file)",
            );
        }
        let mut s = RedisSettings::new(endpoint);
        s.tls = tls;
        s.ca_file = self.ca_file;
        s.db = url_db.or(self.db).unwrap_or(0);
        s.user = self.user;
        match self.password {
            Some(Password::Inline(p)) => s.password = Some(p),
            Some(Password::File(f)) => s.password_file = Some(f),
            None => {}
        }
        s.namespace = self
            .namespace
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string());
        s.connect_timeout = self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        s.timeout = self.timeout.unwrap_or(DEFAULT_TIMEOUT);
        s.wait_replicas = self.wait_replicas.unwrap_or(0);
        s.wait_timeout = self.wait_timeout.unwrap_or(DEFAULT_WAIT_TIMEOUT);
        s.fail_mode = self.fail_mode.unwrap_or_default();
        Ok(StoreChoice::Redis(Box::new(s)))
    }

    /// The first Redis setting given, if any.
    fn first_given(&self) -> Option<&'static str> {
        let given = [
            ("fail_mode", self.fail_mode.is_some()),
            (
                "redis_url",
                matches!(self.endpoint, Some(Endpoint::Url { .. })),
            ),
            (
                "redis_sentinels",
                matches!(self.endpoint, Some(Endpoint::Sentinels(_))),
            ),
            ("redis_sentinel_master", self.master.is_some()),
            ("redis_tls", self.tls.is_some()),
            ("redis_db", self.db.is_some()),
            ("redis_user", self.user.is_some()),
            ("redis_password", self.password.is_some()),
            ("redis_ca_file", self.ca_file.is_some()),
            ("redis_namespace", self.namespace.is_some()),
            ("redis_connect_timeout", self.connect_timeout.is_some()),
            ("redis_timeout", self.timeout.is_some()),
            ("redis_wait", self.wait_replicas.is_some()),
            ("redis_wait_timeout", self.wait_timeout.is_some()),
        ];
        given.into_iter().find(|(_, g)| *g).map(|(k, _)| k)
    }
}

/// `redis://host[:port][/db]` or `rediss://…`; credentials in the URL are refused.
fn url(v: &str) -> Result<Endpoint, &'static str> {
    const SHAPE: &str = "must be redis://host[:port][/db] or rediss://host[:port][/db]";
    let (tls, rest) = if let Some(r) = v.strip_prefix("rediss://") {
        (true, r)
    } else if let Some(r) = v.strip_prefix("redis://") {
        (false, r)
    } else {
        return Err(SHAPE);
    };
    if rest.contains('@') {
        return Err(
            "must not hold a user or password (the URL is not secret): use \
                    redis_user and redis_password_file",
        );
    }
    let (authority, db) = match rest.split_once('/') {
        None => (rest, None),
        Some((a, "")) => (a, None),
        Some((a, d)) => (
            a,
            Some(
                parse_decimal::<u32>(d)
                    .filter(|d| *d <= 65535)
                    .ok_or("the database after '/' must be 0 to 65535")?,
            ),
        ),
    };
    let at = host_port(authority, Some(DEFAULT_PORT)).ok_or(SHAPE)?;
    Ok(Endpoint::Url { at, tls, db })
}

/// `host:port` (`[v6]:port`); the port may be left out only if `default` is given.
fn host_port(v: &str, default: Option<u16>) -> Option<HostPort> {
    let (host, port) = if let Some(rest) = v.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        let v6 = h.contains(':')
            && h.bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        if !v6 {
            return None;
        }
        (h, after)
    } else {
        let h = v.split(':').next().unwrap_or(v);
        let name = h
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_');
        if h.is_empty() || h.len() > 253 || !name || h.starts_with(['-', '.']) {
            return None;
        }
        (h, v.get(h.len()..)?)
    };
    let port = match port {
        "" => default?,
        p => parse_decimal::<u16>(p.strip_prefix(':')?).filter(|p| *p != 0)?,
    };
    Some(HostPort {
        host: host.to_string(),
        port,
    })
}

/// 1 to 64 printable characters, no space (namespaces, master and user names).
fn name_like(v: &str) -> Result<String, &'static str> {
    if v.is_empty() || v.len() > MAX_NAME_LEN || !v.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("must be 1 to 64 printable ASCII characters, no spaces");
    }
    Ok(v.to_string())
}

/// Whether `v` may be a password: 1 to 512 bytes, no control characters.
pub(crate) fn password_text(v: &str) -> bool {
    !v.is_empty() && v.len() <= MAX_PASSWORD_LEN && !v.chars().any(char::is_control)
}

fn absolute(v: &str) -> Result<PathBuf, &'static str> {
    if !v.starts_with('/') || v.chars().any(char::is_control) {
        return Err("must be an absolute path");
    }
    Ok(PathBuf::from(v))
}

fn millis(v: &str) -> Result<Duration, &'static str> {
    parse_decimal::<u64>(v)
        .filter(|ms| (TIMEOUT_MS.0..=TIMEOUT_MS.1).contains(ms))
        .map(Duration::from_millis)
        .ok_or("must be 10 to 5000 milliseconds")
}
