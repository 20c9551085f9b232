//! Files a user can influence: read (`read.rs`: [`read_private_file`]) and written
//! (`write.rs`: [`write_private_file`]) treating every such path as hostile, as that user
//! (`identity.rs`: [`UserIdentity`]) where it lies in the user's home. The module only reads;
//! the `pam-otp` command writes.

mod identity;
mod read;
mod write;

pub use identity::{read_users_file, Groups, UserIdentity};
pub use read::{
    check_parent, directory_exists, open_parent, read_private_at, read_private_file, ReadError,
};
pub use write::{backup_path, check_replaceable, retire, write_private_file, Replace, WriteError};
