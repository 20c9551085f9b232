//! Fleet mode: per-user state shared by every host through Redis (see ARCHITECTURE.md).
//!
//! `settings` (what the configuration says) and `abi` (the contract with the Redis client
//! library) are always built; the client itself (`resp`, `connection`, `sentinel`,
//! `redis_store`, with rustls) only with the `redis` feature, so that pam_otp.so, which
//! loads the client from pam_otp_redis.so when `store=redis`, links none of it.

pub mod abi;
#[cfg(feature = "redis")]
pub mod connection;
#[cfg(feature = "redis")]
pub mod redis_store;
#[cfg(feature = "redis")]
pub mod resp;
#[cfg(feature = "redis")]
pub mod sentinel;
pub mod settings;
