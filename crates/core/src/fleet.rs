//! Fleet mode: per-user state shared by every host through Redis (see ARCHITECTURE.md).

pub mod connection;
pub mod redis_store;
pub mod resp;
pub mod sentinel;
pub mod settings;
