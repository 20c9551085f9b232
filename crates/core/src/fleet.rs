//! Fleet mode: per-user state shared by every host through Redis (see ARCHITECTURE.md).

pub mod resp;
pub mod settings;
