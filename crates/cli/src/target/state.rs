//! The target's state in the module's store: whether the caller may see or change it, and
//! reading, creating and changing it as the module would.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use pam_otp_core::authenticate::Stores;
use pam_otp_core::fleet::settings::StoreChoice;
use pam_otp_core::state::State;
use pam_otp_core::store::{FileStore, Inspection, StateKey, StateStore};

use super::Target;
use crate::caller::{euid, is_root};
use crate::error::{fail, CliError, Result};

/// What [`Target::usable_state`] found.
pub enum StateCheck {
    /// The caller cannot see the state.
    NotVisible,
    /// No state file yet.
    Missing,
    /// A state the module can use.
    Usable,
}

/// What `status` can learn about a user's state.
pub enum StateView {
    /// No state file: no attempt recorded yet.
    None,
    /// The state, read under the store's lock.
    Readable(State),
    /// Not readable by the caller (only root can see it).
    Private,
    /// The state exists but could not be read: why.
    Error(String),
}

impl Target {
    /// The key of the user's state in the store.
    pub fn state_key(&self) -> StateKey<'_> {
        StateKey {
            uid: self.account.uid,
            name: &self.account.name,
        }
    }

    /// Whether the state is in a store shared by a fleet (Redis) rather than this host's files.
    pub fn shared_state(&self) -> bool {
        !matches!(self.config.store, StoreChoice::File)
    }

    /// The state store the module uses. Unlike a login, the command never falls back to
    /// this host's files: an admin change must reach the store every host reads.
    pub fn store(&self) -> Box<dyn StateStore> {
        Stores::open_for_admin(&self.config)
    }

    /// Where the state lives, for messages: the state directory or the shared store.
    pub fn state_location(&self) -> String {
        self.store().location()
    }

    /// Whether the caller may write the module's state, as the module does: it owns the
    /// state directory (root, normally), or is root and the directory is yet to be created.
    /// A shared store's credentials are root's, so only root may use it.
    pub fn state_writable(&self) -> bool {
        if self.shared_state() {
            return is_root();
        }
        match std::fs::symlink_metadata(&self.config.state_dir) {
            Ok(m) => m.uid() == euid(),
            Err(_) => is_root(),
        }
    }

    /// Checks that the caller may change state in the state directory (it must own it, as
    /// the module does), before anything else is touched.
    pub fn require_state_owner(&self) -> Result<()> {
        if self.shared_state() {
            if !is_root() {
                fail!(
                    "only root can change a user's state in the shared store {} (its credentials are root's); run this as root.",
                    self.state_location()
                );
            }
            return Ok(());
        }
        let dir = &self.config.state_dir;
        match std::fs::symlink_metadata(dir) {
            Ok(m) if m.uid() != euid() => fail!(
                "only the owner of {} (root) can change a user's state; run this as root.",
                dir.display()
            ),
            Ok(m) if !m.is_dir() => fail!("{} is not a directory.", dir.display()),
            _ => Ok(()),
        }
    }

    /// Before anything is changed: the user's state, which must be usable or absent, so that
    /// no command is left half done on a state the module refuses. `NotVisible` for a caller
    /// who cannot write the state (an ordinary user: the module's state is root's).
    pub fn usable_state(&self) -> Result<StateCheck> {
        if !self.state_writable() {
            return Ok(StateCheck::NotVisible);
        }
        let name = &self.account.name;
        let dir = self.state_location();
        match self.store().inspect(self.state_key()) {
            Ok(Inspection::Missing) => Ok(StateCheck::Missing),
            Ok(Inspection::Usable(_)) => Ok(StateCheck::Usable),
            Ok(Inspection::Unusable(e)) => fail!(
                "{name}'s state in {dir} is unusable ({e}), so pam_otp refuses every login of {name}. Nothing was changed; run 'pam-otp repair {name}' first."
            ),
            Err(e) => fail!("cannot use the state store {dir}: {e}; nothing was changed."),
        }
    }

    /// Creates the user's state file now, if the caller may (see [`Target::state_writable`])
    /// and it does not exist yet, through the store's own creation path. The module's
    /// later saves then rewrite it in place, which needs no new disk space.
    pub fn ensure_state(&self) -> Result<()> {
        // A shared store needs nothing created ahead: it has no disk space to run out of here.
        if !self.state_writable() || self.shared_state() {
            return Ok(());
        }
        match FileStore::new(&self.config.state_dir, Duration::from_secs(5)).load(self.account.uid)
        {
            Ok(_) => Ok(()),
            Err(e) => fail!(
                "could not create {}'s state in {} ({e}); nothing was saved.",
                self.account.name,
                self.config.state_dir.display()
            ),
        }
    }

    /// The user's state, if it can be read without creating anything.
    pub fn peek_state(&self) -> StateView {
        if !self.shared_state() {
            return peek_state(&self.config.state_dir, self.account.uid);
        }
        if !is_root() {
            return StateView::Private;
        }
        match self.store().inspect(self.state_key()) {
            Ok(Inspection::Missing) => StateView::None,
            Ok(Inspection::Usable(s)) => StateView::Readable(s),
            Ok(Inspection::Unusable(e)) | Err(e) => {
                StateView::Error(format!("{}: {e}", self.state_location()))
            }
        }
    }

    /// Applies `change` to the user's state if a state file exists and returns the state
    /// before it. `Ok(None)`: nothing recorded.
    pub fn change_state(&self, change: impl Fn(&State) -> State) -> Result<Option<State>> {
        let store = self.store();
        let location = store.location();
        let exists = if self.shared_state() {
            !matches!(store.inspect(self.state_key()), Ok(Inspection::Missing))
        } else {
            let uid = self.account.uid;
            self.config.state_dir.join(uid.to_string()).exists()
        };
        if !exists {
            return Ok(None);
        }
        let mut before = None;
        store
            .transact(self.state_key(), &mut |s| {
                before = Some(s.clone());
                change(s)
            })
            .map_err(|e| CliError(format!("could not update the state in {location}: {e}.")))?;
        Ok(before)
    }
}

/// Reads the state of `uid` under the store's lock, creating neither directory nor file.
fn peek_state(dir: &Path, uid: u32) -> StateView {
    let dir_meta = match std::fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return StateView::None,
        Err(e) => return StateView::Error(format!("{}: {e}", dir.display())),
    };
    if dir_meta.uid() != euid() {
        return StateView::Private;
    }
    match std::fs::symlink_metadata(dir.join(uid.to_string())) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return StateView::None,
        Err(e) => return StateView::Error(format!("{}: {e}", dir.display())),
        Ok(_) => {}
    }
    match FileStore::new(dir, Duration::from_secs(5)).load(uid) {
        Ok(s) => StateView::Readable(s),
        Err(e) => StateView::Error(format!("{}: {e}", dir.display())),
    }
}
