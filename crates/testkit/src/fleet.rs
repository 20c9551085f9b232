//! Fleet mode through the built module: the configuration file a test's services name with
//! `config=` (store=redis, pointing at the test's own [`RedisServer`]), and the state Redis
//! holds for a user, read with `redis-cli` (an independent client) and decoded with the
//! state encoding both stores share.

use std::path::{Path, PathBuf};

use pam_otp_core::state::State;

use crate::redis_server::RedisServer;
use crate::write_file;

/// The name of the configuration file in a test's directory.
pub const CONF_NAME: &str = "pam_otp.conf";

/// The Redis timeouts every fleet test configures (pam_otp.conf(5)): well under the test's
/// "nothing hangs" bound.
pub const TIMEOUT_MS: u64 = 300;

/// The store lines for a Redis at `127.0.0.1:port` with [`TIMEOUT_MS`] timeouts.
pub fn redis_conf(port: u16) -> String {
    format!(
        "store = redis\nredis_url = redis://127.0.0.1:{port}\n\
         redis_connect_timeout = {TIMEOUT_MS}\nredis_timeout = {TIMEOUT_MS}\n"
    )
}

/// Writes `text` as `dir/pam_otp.conf`, owned by whoever runs the test (root under
/// `sudo scripts/test.sh`), mode 0600 (so it may hold `redis_password`); returns its path.
pub fn write_conf(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join(CONF_NAME);
    write_file(&path, text.as_bytes(), 0o600);
    path
}

/// The Redis key of `user`'s record in the default namespace.
pub fn user_key(user: &str) -> String {
    format!("pam_otp:user:{user}")
}

/// `user`'s state as `server` holds it (`None`: no record), read with `redis-cli`.
pub fn redis_state(server: &RedisServer, user: &str) -> Option<State> {
    let key = user_key(user);
    if server.cli(&["EXISTS", &key]) == "0" {
        return None;
    }
    let bytes = server.cli_raw(&["HGET", &key, "state"]);
    Some(State::decode(&bytes).unwrap_or_else(|_| panic!("{key} holds no valid state")))
}
