//! What the configuration says about the state store: this host's files, or Redis shared by
//! a fleet (with how to reach it, how long to wait, and what to do when it cannot be reached).
//! Parsed from `/etc/security/pam_otp.conf` and the module arguments (see `args` and
//! `config_file`); used by the Redis client and by whoever opens the store.

use std::path::PathBuf;
use std::time::Duration;

use zeroize::Zeroizing;

/// `store=`: where per-user state lives.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum StoreChoice {
    /// `store=file` (the default): files in `state_dir`, this host only.
    #[default]
    File,
    /// `store=redis`: one record per user name in Redis, shared by every host using it.
    Redis(Box<RedisSettings>),
}

/// `fail_mode=`: what a login does when Redis cannot be reached. There is no fail-open mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailMode {
    /// Refuse the login (`state_error`).
    #[default]
    Closed,
    /// Use this host's file store instead, and log `fleet_fallback`: replay and lock-out
    /// then hold for this host only, until Redis is back.
    Local,
}

/// A server's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    /// Host name or IP address (for TLS, the name the certificate must carry).
    pub host: String,
    /// TCP port.
    pub port: u16,
}

/// How to find the Redis primary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisEndpoint {
    /// `redis_url=redis://host:port/db` or `rediss://…` (TLS).
    Direct(HostPort),
    /// `redis_sentinels=host:port,…` with `redis_sentinel_master=NAME`: ask the Sentinels, in
    /// order, for the current primary of `master`, and check that it says it is a primary.
    Sentinel {
        /// The Sentinels, asked in this order.
        sentinels: Vec<HostPort>,
        /// The monitored master's name.
        master: String,
    },
}

/// Everything the Redis client needs. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisSettings {
    /// Where the primary is.
    pub endpoint: RedisEndpoint,
    /// TLS (`rediss://`, or `redis_tls` with Sentinels): to the Sentinels and the primary.
    pub tls: bool,
    /// `redis_ca_file=`: the CA certificates (PEM) a TLS server must chain to. Without it,
    /// TLS is refused as a configuration error rather than trusting any certificate.
    pub ca_file: Option<PathBuf>,
    /// The database number (`/db` of the URL, `redis_db=`); 0 by default.
    pub db: u32,
    /// `redis_user=`: the ACL user (`AUTH user password`); `None` with a password is the
    /// `default` user.
    pub user: Option<String>,
    /// `redis_password=` (configuration file only) or the contents of `redis_password_file=`
    /// (read when the settings are loaded, unless the loader was told not to: see
    /// `config_file::Secrets`).
    pub password: Option<Zeroizing<String>>,
    /// `redis_password_file=`: where the password was read from (root-owned, mode 0600).
    pub password_file: Option<PathBuf>,
    /// `redis_namespace=`: prefix of every key (default `pam_otp:`), so that several
    /// deployments can share one server.
    pub namespace: String,
    /// `redis_connect_timeout=` (ms): the longest a TCP connect (and TLS handshake) may take.
    pub connect_timeout: Duration,
    /// `redis_timeout=` (ms): the longest wait for any one reply.
    pub timeout: Duration,
    /// `redis_wait=N`: after a save, `WAIT N` replicas before answering (0: do not wait).
    pub wait_replicas: u32,
    /// `redis_wait_timeout=` (ms): how long `WAIT` may take; too few acknowledgements in
    /// that time refuse the login.
    pub wait_timeout: Duration,
    /// `fail_mode=`.
    pub fail_mode: FailMode,
}

/// Defaults, chosen well inside sshd's LoginGraceTime (120 s) and a user's patience.
pub const DEFAULT_NAMESPACE: &str = "pam_otp:";
/// Default `redis_connect_timeout`.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(300);
/// Default `redis_timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(500);
/// Default `redis_wait_timeout`.
pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_millis(500);

impl RedisSettings {
    /// Settings for `endpoint` with every default (no TLS, no password, no WAIT, fail closed).
    pub fn new(endpoint: RedisEndpoint) -> RedisSettings {
        RedisSettings {
            endpoint,
            tls: false,
            ca_file: None,
            db: 0,
            user: None,
            password: None,
            password_file: None,
            namespace: DEFAULT_NAMESPACE.to_string(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            wait_replicas: 0,
            wait_timeout: DEFAULT_WAIT_TIMEOUT,
            fail_mode: FailMode::Closed,
        }
    }
}

impl RedisSettings {
    /// Where these settings say the state lives, for messages and log lines (never a
    /// credential). The module shows it without loading the Redis client.
    pub fn location(&self) -> String {
        let hp = |h: &HostPort| format!("{}:{}", h.host, h.port);
        match &self.endpoint {
            RedisEndpoint::Direct(addr) => format!(
                "{}://{}/{} (namespace {})",
                if self.tls { "rediss" } else { "redis" },
                hp(addr),
                self.db,
                self.namespace
            ),
            RedisEndpoint::Sentinel { sentinels, master } => format!(
                "sentinel {master} via {}{} (db {}, namespace {})",
                sentinels.iter().map(hp).collect::<Vec<_>>().join(","),
                if self.tls { " with TLS" } else { "" },
                self.db,
                self.namespace
            ),
        }
    }
}

impl std::fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSettings")
            .field("endpoint", &self.endpoint)
            .field("tls", &self.tls)
            .field("ca_file", &self.ca_file)
            .field("db", &self.db)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("password_file", &self.password_file)
            .field("namespace", &self.namespace)
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("wait_replicas", &self.wait_replicas)
            .field("wait_timeout", &self.wait_timeout)
            .field("fail_mode", &self.fail_mode)
            .finish()
    }
}
