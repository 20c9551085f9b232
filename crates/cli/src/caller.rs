//! Who runs `pam-otp`, and which user it acts for: the caller, or (root only) `--user NAME`.

use pam_otp_core::userdb::{self, Account};

use crate::error::{fail, Result};

/// The effective user id: whose files the command may create and own.
pub fn euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// Whether the command runs as root.
pub fn is_root() -> bool {
    euid() == 0
}

/// Which tool made this process root for someone else, and who that is (a name, or a uid):
/// sudo (`SUDO_UID`, `SUDO_USER`), doas (`DOAS_USER`) or pkexec (`PKEXEC_UID`). Only ever
/// used to refuse, never to choose a user, so a forged variable can do no more than stop
/// the command.
fn elevated_by() -> Option<(&'static str, String)> {
    let var = |name| std::env::var(name).ok().filter(|v| !v.is_empty());
    if let Some(uid) = var("SUDO_UID") {
        if uid == "0" {
            return None;
        }
        return Some(("sudo", var("SUDO_USER").unwrap_or(uid)));
    }
    if let Some(name) = var("SUDO_USER") {
        return (name != "root").then_some(("sudo", name));
    }
    if let Some(name) = var("DOAS_USER") {
        return (name != "root").then_some(("doas", name));
    }
    var("PKEXEC_UID")
        .filter(|uid| uid != "0")
        .map(|uid| ("pkexec", uid))
}

/// The user to act for: `--user NAME` (root only, unless it names the caller) or the caller.
///
/// Root reached through `sudo` by someone else must say whom: `sudo pam-otp enroll` means
/// "enrol me" to whoever typed it, but the caller is root.
pub fn account_to_act_for(user: Option<&str>) -> Result<Account> {
    let me = nix::unistd::getuid().as_raw();
    if let (None, 0, Some((tool, invoker))) = (user, me, elevated_by()) {
        let invoker = pam_otp_core::log_text::escape(&invoker);
        fail!(
            "you are root here (through {tool}, run by {invoker}), so without --user this would act for root, not for {invoker}. To manage {invoker}'s codes, add --user {invoker} (or run pam-otp without {tool}); to manage root's own, add --user root."
        );
    }
    let Some(name) = user else {
        return match userdb::lookup_uid(me) {
            Ok(Some(a)) => Ok(a),
            Ok(None) => fail!("your user id {me} is not in the user database."),
            Err(e) => fail!("could not read the user database: {}.", e.0.desc()),
        };
    };
    let account = match userdb::lookup(name) {
        Ok(Some(a)) => a,
        Ok(None) => fail!(
            "there is no user named '{}'.",
            pam_otp_core::log_text::escape(name)
        ),
        Err(e) => fail!("could not read the user database: {}.", e.0.desc()),
    };
    if account.uid != me && !is_root() {
        fail!(
            "only root can act for another user; run 'pam-otp' without --user to manage your own codes."
        );
    }
    Ok(account)
}
