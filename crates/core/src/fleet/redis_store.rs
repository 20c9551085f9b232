//! [`RedisStore`]: per-user state shared by a fleet of hosts, in Redis.
//!
//! One hash per user name, `{namespace}user:{name}`, with two fields: `version` (decimal,
//! one more on every save) and `state` (exactly the bytes [`State::encode`] writes, the file
//! store's encoding). The decoy state is `{namespace}decoy`.
//!
//! A transaction is two round trips at most, on one connection opened for it and closed
//! after it:
//! 1. (`AUTH`, `SELECT`, `ROLE` when found through Sentinel,) `TYPE key` and
//!    `HMGET key version state`; then `decide` runs on this host;
//! 2. only if the state changed: [`CAS_SCRIPT`] by `EVAL`, which writes only if `version`
//!    is still the one read (and the key is still a hash, or still absent), followed in the
//!    same write by `WAIT n timeout` when `redis_wait` asks for replica acknowledgements.
//!
//! A conflict (another host saved in between) runs the read, the decision and the write
//! again, up to [`MAX_ATTEMPTS`] times with a short random pause, so concurrent logins
//! with one code give exactly one success and concurrent wrong guesses all count.
//!
//! `EVAL` rather than `EVALSHA`: the script is 358 bytes; sending it each time cost about
//! 1.5 µs more per call on loopback (redis-benchmark, one client: 81,000 EVAL/s against
//! 92,000 EVALSHA/s, both p50 15 µs), nothing against a round trip,
//! while `EVALSHA` would need a third round trip whenever
//! the script cache is empty (after every restart, failover or `SCRIPT FLUSH`).

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::{Duration, Instant};

use super::connection::{self, Connection, Tls};
use super::resp::Reply;
use super::sentinel;
use super::settings::{RedisEndpoint, RedisSettings};
use crate::state::State;
use crate::store::{Inspection, StateKey, StateStore, StoreError};

/// How many times a conflicting save is retried before the login is refused.
pub const MAX_ATTEMPTS: u32 = 50;

/// Writes `state` with `version` = ARGV[2] only if the record's `version` is still ARGV[1]
/// ("0": the key must still not exist). 1: saved; 0: conflict; an error if the key is not a
/// hash (nothing is overwritten).
pub const CAS_SCRIPT: &str = r"
local t = redis.call('TYPE', KEYS[1])['ok']
if t == 'none' then
  if ARGV[1] ~= '0' then return 0 end
elseif t ~= 'hash' then
  return redis.error_reply('WRONGTYPE the key holds a ' .. t .. ', not a hash')
elseif redis.call('HGET', KEYS[1], 'version') ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'state', ARGV[3])
return 1
";

/// Moves whatever KEYS[1] holds to the first free name of KEYS[2], KEYS[2].1, … and writes
/// the new state (ARGV[1]) at KEYS[1] with a version above the old one, in one atomic step:
/// no login can see the record missing. Returns the name the old record was kept under
/// ("" if there was none).
pub const REPLACE_SCRIPT: &str = r"
local t = redis.call('TYPE', KEYS[1])['ok']
local version = 1
local kept = ''
if t ~= 'none' then
  if t == 'hash' then
    local v = tonumber(redis.call('HGET', KEYS[1], 'version'))
    if v then version = v + 1 end
  end
  for n = 0, 99 do
    local name = KEYS[2]
    if n > 0 then name = name .. '.' .. n end
    if redis.call('EXISTS', name) == 0 then kept = name break end
  end
  if kept == '' then return redis.error_reply('ERR no free name to keep the old record') end
  redis.call('RENAME', KEYS[1], kept)
end
redis.call('HSET', KEYS[1], 'version', string.format('%d', version), 'state', ARGV[1])
return kept
";

/// Why [`RedisStore::new`] refused the settings (a configuration error, not a Redis one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError(pub String);

impl std::fmt::Display for SettingsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Per-user state in Redis (see the module documentation).
#[derive(Debug, Clone)]
pub struct RedisStore {
    settings: RedisSettings,
    tls: Option<Tls>,
}

/// What one read of a user's record found.
enum Record {
    Missing,
    Usable(u64, State),
    Unusable(StoreError),
}

/// What [`RedisStore::check`] measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// Where the store is ([`StateStore::location`]) and the primary's address.
    pub location: String,
    /// The primary's `ip:port` as connected.
    pub primary: String,
    /// Each step and how long it took: connect (with Sentinel discovery and TLS),
    /// authenticate and INFO, the check-and-set script (with WAIT), the delete.
    pub steps: Vec<(&'static str, Duration)>,
    /// `redis_version` from INFO.
    pub server_version: String,
    /// `role` from INFO (`master` is the only one a login can use).
    pub role: String,
    /// `connected_slaves` from INFO.
    pub replicas: u64,
}

impl RedisStore {
    /// A store for `settings`. TLS needs `ca_file` (we never trust just any certificate),
    /// which is read here.
    pub fn new(settings: RedisSettings) -> Result<RedisStore, SettingsError> {
        let tls = match (settings.tls, &settings.ca_file) {
            (false, _) => None,
            (true, None) => {
                return Err(SettingsError(
                    "TLS (rediss:// or redis_tls) needs redis_ca_file".to_string(),
                ))
            }
            (true, Some(ca)) => Some(Tls::from_ca_file(ca).map_err(SettingsError)?),
        };
        if let RedisEndpoint::Sentinel { sentinels, .. } = &settings.endpoint {
            if sentinels.is_empty() {
                return Err(SettingsError(
                    "redis_sentinels lists no Sentinel".to_string(),
                ));
            }
        }
        Ok(RedisStore { settings, tls })
    }

    /// The settings this store was made with.
    pub fn settings(&self) -> &RedisSettings {
        &self.settings
    }

    /// The Redis key of a user's record (the decoy's for [`StateKey::DECOY`]).
    pub fn key_of(&self, key: StateKey<'_>) -> Vec<u8> {
        let mut out = self.settings.namespace.as_bytes().to_vec();
        if key.is_decoy() {
            out.extend_from_slice(b"decoy");
        } else {
            out.extend_from_slice(b"user:");
            out.extend_from_slice(key.name.as_bytes());
        }
        out
    }

    /// A connection to the primary with AUTH/SELECT (and ROLE) queued for the first round trip.
    fn open(&self) -> Result<Connection, StoreError> {
        let s = &self.settings;
        let (primary, via_sentinel) = match &s.endpoint {
            RedisEndpoint::Direct(addr) => (addr.clone(), false),
            RedisEndpoint::Sentinel { sentinels, master } => (
                sentinel::primary_address(
                    sentinels,
                    master,
                    self.tls.as_ref(),
                    s.connect_timeout,
                    s.timeout,
                )?,
                true,
            ),
        };
        let mut conn =
            connection::connect(&primary, self.tls.as_ref(), s.connect_timeout, s.timeout)?;
        conn.authenticate(
            s.user.as_deref(),
            s.password.as_ref().map(|p| p.as_str()),
            s.db,
        );
        if via_sentinel {
            conn.expect_primary();
        }
        Ok(conn)
    }

    /// Reads one record: `TYPE` and `HMGET` in one round trip.
    fn read(&self, conn: &mut Connection, key: &[u8]) -> Result<Record, StoreError> {
        let replies = conn.round_trip(
            &[&[b"TYPE", key], &[b"HMGET", key, b"version", b"state"]],
            Duration::ZERO,
        )?;
        let peer = conn.peer().to_string();
        record_of(&peer, key, &replies)
    }

    /// Saves `next` if the record's version is still `version`: `Ok(true)` saved (and, with
    /// `redis_wait`, acknowledged by enough replicas), `Ok(false)` a conflict.
    fn save(
        &self,
        conn: &mut Connection,
        key: &[u8],
        version: u64,
        next: &State,
    ) -> Result<bool, StoreError> {
        let expected = version.to_string();
        let new_version = version.saturating_add(1).to_string();
        let bytes = next.encode();
        let eval: &[&[u8]] = &[
            b"EVAL",
            CAS_SCRIPT.as_bytes(),
            b"1",
            key,
            expected.as_bytes(),
            new_version.as_bytes(),
            &bytes,
        ];
        let wait_n = self.settings.wait_replicas.to_string();
        let wait_ms = self.settings.wait_timeout.as_millis().max(1).to_string();
        let wait: &[&[u8]] = &[b"WAIT", wait_n.as_bytes(), wait_ms.as_bytes()];
        let replies = if self.settings.wait_replicas > 0 {
            conn.round_trip(&[eval, wait], self.settings.wait_timeout)?
        } else {
            conn.round_trip(&[eval], Duration::ZERO)?
        };
        let peer = conn.peer().to_string();
        match replies.first() {
            Some(Reply::Integer(1)) => {}
            Some(Reply::Integer(0)) => return Ok(false),
            Some(Reply::Error(e)) => {
                return Err(connection::error_reply(&peer, &String::from_utf8_lossy(e)))
            }
            _ => return Err(unexpected(&peer, "EVAL")),
        }
        if self.settings.wait_replicas > 0 {
            match replies.get(1) {
                Some(Reply::Integer(n)) if *n >= i64::from(self.settings.wait_replicas) => {}
                Some(Reply::Integer(n)) => {
                    return Err(StoreError::Server(format!(
                        "{peer}: saved on the primary, but only {n} of {} replicas \
                         acknowledged it within {} ms (redis_wait)",
                        self.settings.wait_replicas,
                        self.settings.wait_timeout.as_millis()
                    )))
                }
                Some(Reply::Error(e)) => {
                    return Err(connection::error_reply(&peer, &String::from_utf8_lossy(e)))
                }
                _ => return Err(unexpected(&peer, "WAIT")),
            }
        }
        Ok(true)
    }

    /// Connects, authenticates, runs the check-and-set script once on a scratch key
    /// `{namespace}check:{hostname}:{pid}` (with `WAIT` when configured) and deletes it,
    /// timing each step: for `pam-otp store check`.
    pub fn check(&self) -> Result<CheckReport, StoreError> {
        let start = Instant::now();
        let mut conn = self.open()?;
        let mut steps = vec![("connect", start.elapsed())];
        let t = Instant::now();
        let info = conn.round_trip(
            &[&[b"INFO", b"server"], &[b"INFO", b"replication"]],
            Duration::ZERO,
        )?;
        steps.push(("authenticate and INFO", t.elapsed()));
        let peer = conn.peer().to_string();
        let mut text = String::new();
        for reply in &info {
            match reply {
                Reply::Bulk(b) => text.push_str(&String::from_utf8_lossy(b)),
                Reply::Error(e) => {
                    return Err(connection::error_reply(&peer, &String::from_utf8_lossy(e)))
                }
                _ => return Err(unexpected(&peer, "INFO")),
            }
        }
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "host".to_string());
        let mut scratch = self.settings.namespace.as_bytes().to_vec();
        scratch.extend_from_slice(format!("check:{hostname}:{}", std::process::id()).as_bytes());
        let t = Instant::now();
        let saved = self.save(&mut conn, &scratch, 0, &State::default());
        steps.push(("check-and-set script", t.elapsed()));
        let t = Instant::now();
        let deleted = conn.round_trip(&[&[b"DEL", &scratch]], Duration::ZERO);
        steps.push(("delete the scratch key", t.elapsed()));
        match saved? {
            true => {}
            false => {
                return Err(StoreError::Server(format!(
                    "{peer}: the scratch key {} already existed",
                    String::from_utf8_lossy(&scratch)
                )))
            }
        }
        if let Some(Reply::Error(e)) = deleted?.first() {
            return Err(connection::error_reply(&peer, &String::from_utf8_lossy(e)));
        }
        Ok(CheckReport {
            location: self.location(),
            primary: peer,
            steps,
            server_version: field("redis_version"),
            role: field("role"),
            replicas: field("connected_slaves").parse().unwrap_or(0),
        })
    }

    /// Every user with a record in this namespace, and what it holds (SCAN, then the same
    /// read as a login, pipelined): for `pam-otp locked`, metrics and migration.
    pub fn users(&self) -> Result<Vec<(String, Inspection)>, StoreError> {
        let mut conn = self.open()?;
        let prefix = self.key_of(StateKey { uid: 0, name: "" });
        let mut pattern = glob_escape(&prefix);
        pattern.push(b'*');
        let mut keys: Vec<Vec<u8>> = Vec::new();
        let mut cursor = b"0".to_vec();
        loop {
            let replies = conn.round_trip(
                &[&[b"SCAN", &cursor, b"MATCH", &pattern, b"COUNT", b"500"]],
                Duration::ZERO,
            )?;
            let peer = conn.peer().to_string();
            match replies.first() {
                Some(Reply::Array(parts)) if parts.len() == 2 => {
                    let next = parts[0]
                        .as_bytes()
                        .ok_or_else(|| unexpected(&peer, "SCAN"))?;
                    let Reply::Array(found) = &parts[1] else {
                        return Err(unexpected(&peer, "SCAN"));
                    };
                    for k in found {
                        keys.push(
                            k.as_bytes()
                                .ok_or_else(|| unexpected(&peer, "SCAN"))?
                                .to_vec(),
                        );
                    }
                    cursor = next.to_vec();
                }
                Some(Reply::Error(e)) => {
                    return Err(connection::error_reply(&peer, &String::from_utf8_lossy(e)))
                }
                _ => return Err(unexpected(&peer, "SCAN")),
            }
            if cursor == b"0" {
                break;
            }
        }
        keys.sort();
        keys.dedup(); // SCAN may return a key more than once
        let mut out = Vec::with_capacity(keys.len());
        for batch in keys.chunks(100) {
            let mut list: Vec<Vec<&[u8]>> = Vec::with_capacity(batch.len() * 2);
            for k in batch {
                list.push(vec![b"TYPE", k]);
                list.push(vec![b"HMGET", k, b"version", b"state"]);
            }
            let refs: Vec<&[&[u8]]> = list.iter().map(Vec::as_slice).collect();
            let replies = conn.round_trip(&refs, Duration::ZERO)?;
            let peer = conn.peer().to_string();
            for (k, pair) in batch.iter().zip(replies.chunks(2)) {
                let name = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
                let inspection = match record_of(&peer, k, pair)? {
                    Record::Missing => continue, // deleted since the SCAN
                    Record::Usable(_, state) => Inspection::Usable(state),
                    Record::Unusable(e) => Inspection::Unusable(e),
                };
                out.push((name, inspection));
            }
        }
        Ok(out)
    }
}

/// A glob pattern matching `bytes` literally (SCAN MATCH).
fn glob_escape(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for &b in bytes {
        if matches!(b, b'*' | b'?' | b'[' | b']' | b'\\') {
            out.push(b'\\');
        }
        out.push(b);
    }
    out
}

fn unexpected(peer: &str, command: &str) -> StoreError {
    StoreError::Server(format!("{peer}: unexpected reply to {command}"))
}

/// A strict decimal version: digits only, no sign, no leading zero (except "0"), fits u64.
fn parse_version(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty()
        || bytes.len() > 20
        || !bytes.iter().all(u8::is_ascii_digit)
        || (bytes.len() > 1 && bytes[0] == b'0')
    {
        return None;
    }
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

/// The replies to `TYPE key` and `HMGET key version state`, judged. A key of another type
/// is unusable ([`StoreError::Server`]); a hash without both fields, or with a version or
/// state that does not parse, is [`StoreError::Corrupt`]; either way nothing is written.
fn record_of(peer: &str, key: &[u8], replies: &[Reply]) -> Result<Record, StoreError> {
    let key_text = String::from_utf8_lossy(key);
    let kind = match replies.first() {
        Some(Reply::Simple(t)) => t.clone(),
        Some(Reply::Error(e)) => {
            return Err(connection::error_reply(peer, &String::from_utf8_lossy(e)))
        }
        _ => return Err(unexpected(peer, "TYPE")),
    };
    let fields = match replies.get(1) {
        Some(Reply::Array(items)) if items.len() == 2 => Some(items),
        Some(Reply::Error(_)) if kind != b"hash" => None, // WRONGTYPE, judged below
        Some(Reply::Error(e)) => {
            return Err(connection::error_reply(peer, &String::from_utf8_lossy(e)))
        }
        _ => return Err(unexpected(peer, "HMGET")),
    };
    match (kind.as_slice(), fields) {
        (b"none", _) => Ok(Record::Missing),
        (b"hash", Some(items)) => {
            let version = items[0].as_bytes().and_then(parse_version);
            let state = items[1].as_bytes().and_then(|b| State::decode(b).ok());
            Ok(match (version, state) {
                (Some(v), Some(s)) => Record::Usable(v, s),
                _ => Record::Unusable(StoreError::Corrupt),
            })
        }
        (other, _) => Ok(Record::Unusable(StoreError::Server(format!(
            "{peer}: {key_text} holds a {}, not a hash (nothing was changed)",
            String::from_utf8_lossy(other)
        )))),
    }
}

/// A short random pause before retrying after a conflict, growing with the attempt (at most
/// about 2 ms), so racing hosts do not collide again in lockstep.
fn backoff(attempt: u32) {
    let random = RandomState::new().hash_one(attempt);
    let max_us = 100 * u64::from(attempt.clamp(1, 20));
    std::thread::sleep(Duration::from_micros(random % max_us));
}

impl StateStore for RedisStore {
    fn transact(
        &self,
        key: StateKey<'_>,
        decide: &mut dyn FnMut(&State) -> State,
    ) -> Result<State, StoreError> {
        let redis_key = self.key_of(key);
        let mut conn = self.open()?;
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                backoff(attempt);
            }
            let (version, state) = match self.read(&mut conn, &redis_key)? {
                Record::Missing => (0, State::default()),
                Record::Usable(v, s) => (v, s),
                Record::Unusable(e) => return Err(e),
            };
            let next = decide(&state);
            if next == state {
                return Ok(next);
            }
            if self.save(&mut conn, &redis_key, version, &next)? {
                return Ok(next);
            }
        }
        Err(StoreError::Server(format!(
            "{}: conflicting writes did not settle after {MAX_ATTEMPTS} attempts",
            conn.peer()
        )))
    }

    fn inspect(&self, key: StateKey<'_>) -> Result<Inspection, StoreError> {
        let redis_key = self.key_of(key);
        let mut conn = self.open()?;
        Ok(match self.read(&mut conn, &redis_key)? {
            Record::Missing => Inspection::Missing,
            Record::Usable(_, s) => Inspection::Usable(s),
            Record::Unusable(e) => Inspection::Unusable(e),
        })
    }

    fn replace(&self, key: StateKey<'_>, state: &State, evidence: &str) -> Result<(), StoreError> {
        if key.is_decoy() {
            return Err(StoreError::Unsafe("the decoy state is not repaired"));
        }
        if evidence.is_empty() || evidence.contains(['*', '?', '[', ']']) {
            return Err(StoreError::Unsafe("bad name for the old state record"));
        }
        let redis_key = self.key_of(key);
        let mut kept = self.settings.namespace.as_bytes().to_vec();
        kept.extend_from_slice(format!("evidence:{}:{evidence}", key.name).as_bytes());
        let bytes = state.encode();
        let mut conn = self.open()?;
        let replies = conn.round_trip(
            &[&[
                b"EVAL",
                REPLACE_SCRIPT.as_bytes(),
                b"2",
                &redis_key,
                &kept,
                &bytes,
            ]],
            Duration::ZERO,
        )?;
        let peer = conn.peer().to_string();
        match replies.first() {
            Some(Reply::Bulk(_)) => Ok(()),
            Some(Reply::Error(e)) => {
                Err(connection::error_reply(&peer, &String::from_utf8_lossy(e)))
            }
            _ => Err(unexpected(&peer, "EVAL")),
        }
    }

    fn location(&self) -> String {
        self.settings.location()
    }
}
