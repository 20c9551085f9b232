//! The state store an attempt uses: this host's files, or a store shared by a fleet with,
//! under `fail_mode=local`, this host's files as the fallback when it cannot be reached.

use crate::args::Config;
#[cfg(feature = "redis")]
use crate::fleet::redis_store::RedisStore;
use crate::fleet::settings::{FailMode, RedisSettings, StoreChoice};
use crate::state::State;
use crate::store::{FileStore, Inspection, StateKey, StateStore, StoreError};

/// Where an attempt's state is kept.
pub struct Stores {
    primary: Box<dyn StateStore>,
    /// `fail_mode=local`: this host's files, used when `primary` is unreachable.
    fallback: Option<FileStore>,
}

/// What [`Stores::transact`] did.
pub struct Transacted {
    /// The saved state, or why there is none.
    pub result: Result<State, StoreError>,
    /// `Some(why)`: the shared store was unreachable and this host's files were used.
    pub fell_back: Option<String>,
}

impl Stores {
    /// The store the configuration names, with this build's Redis client (none without the
    /// `redis` feature: every transaction on a shared store then refuses).
    pub fn open(config: &Config) -> Stores {
        Stores::open_with(config, shared_store)
    }

    /// The store the configuration names, a shared one made by `shared` (the module's
    /// opener loads the Redis client library: see `fleet::abi`). `shared` runs only for
    /// `store=redis`.
    pub fn open_with(
        config: &Config,
        shared: impl FnOnce(&RedisSettings) -> Box<dyn StateStore>,
    ) -> Stores {
        let local = FileStore::new(&config.state_dir, config.lock_timeout);
        match &config.store {
            StoreChoice::File => Stores::new(Box::new(local), None),
            StoreChoice::Redis(settings) => {
                let fallback = (settings.fail_mode == FailMode::Local).then_some(local);
                Stores::new(shared(settings), fallback)
            }
        }
    }

    /// The store an administrator's command changes: the one the configuration names, with
    /// no fallback (a change made to this host's files alone would not reach the fleet).
    pub fn open_for_admin(config: &Config) -> Box<dyn StateStore> {
        match &config.store {
            StoreChoice::File => Box::new(FileStore::new(&config.state_dir, config.lock_timeout)),
            StoreChoice::Redis(settings) => shared_store(settings),
        }
    }

    /// `primary`, falling back to `fallback` (if any) when it is unreachable.
    pub fn new(primary: Box<dyn StateStore>, fallback: Option<FileStore>) -> Stores {
        Stores { primary, fallback }
    }

    /// [`StateStore::transact`] on the primary store; if that cannot be reached and there is
    /// a fallback, on the fallback. Only unreachability falls back: a shared store that
    /// answers with something unusable (a corrupt record, too few replicas) refuses, since
    /// using an older local state then could reopen a code the fleet has seen used.
    pub fn transact(
        &self,
        key: StateKey<'_>,
        decide: &mut dyn FnMut(&State) -> State,
    ) -> Transacted {
        match (self.primary.transact(key, decide), &self.fallback) {
            (Err(StoreError::Unreachable(why)), Some(local)) => Transacted {
                result: local.transact(key, decide),
                fell_back: Some(why),
            },
            (result, _) => Transacted {
                result,
                fell_back: None,
            },
        }
    }

    /// Where the primary store is, for log lines.
    pub fn location(&self) -> String {
        self.primary.location()
    }

    /// Where the fallback store is, if there is one.
    pub fn fallback_location(&self) -> Option<String> {
        self.fallback.as_ref().map(StateStore::location)
    }
}

/// The Redis store `settings` describe, or, if they cannot make one (a CA file that cannot be
/// read, say), a store that refuses everything with why: a configuration error, never a
/// reason to fall back.
#[cfg(feature = "redis")]
fn shared_store(settings: &RedisSettings) -> Box<dyn StateStore> {
    match RedisStore::new(settings.clone()) {
        Ok(store) => Box::new(store),
        Err(e) => Box::new(Misconfigured::new(format!("Redis settings: {e}"))),
    }
}

/// Without the `redis` feature there is no client to make: a store that refuses.
#[cfg(not(feature = "redis"))]
fn shared_store(_: &RedisSettings) -> Box<dyn StateStore> {
    Box::new(Misconfigured::new(
        "this build has no Redis client (pam-otp-core without the `redis` feature)".into(),
    ))
}

/// A shared store that cannot be used (unusable settings, a client library that cannot be
/// loaded): it refuses everything with why, as a server error, never as unreachable, so
/// `fail_mode=local` does not fall back on a configuration or packaging error.
struct Misconfigured(String);

impl Misconfigured {
    /// A store refusing everything with `why`.
    fn new(why: String) -> Misconfigured {
        Misconfigured(why)
    }
}

impl StateStore for Misconfigured {
    fn transact(
        &self,
        _: StateKey<'_>,
        _: &mut dyn FnMut(&State) -> State,
    ) -> Result<State, StoreError> {
        Err(StoreError::Server(self.0.clone()))
    }

    fn inspect(&self, _: StateKey<'_>) -> Result<Inspection, StoreError> {
        Err(StoreError::Server(self.0.clone()))
    }

    fn replace(&self, _: StateKey<'_>, _: &State, _: &str) -> Result<(), StoreError> {
        Err(StoreError::Server(self.0.clone()))
    }

    fn location(&self) -> String {
        "Redis (unusable settings)".into()
    }
}
