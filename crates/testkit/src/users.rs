//! Who the tests authenticate.

/// The user the tests authenticate: whoever runs them (root in CI, anyone on a dev box),
/// who also owns the admin secret store and the state directory the tests configure.
#[derive(Clone, Debug)]
pub struct TestUser {
    pub name: String,
    pub uid: u32,
}

/// The effective user, from the user database the module reads.
pub fn current_user() -> TestUser {
    let uid = nix::unistd::geteuid().as_raw();
    let account = pam_otp_core::userdb::lookup_uid(uid)
        .expect("user database")
        .unwrap_or_else(|| panic!("uid {uid} has no passwd entry; run the tests as a real user"));
    TestUser {
        name: account.name,
        uid,
    }
}

/// A name no passwd entry has.
pub const NO_SUCH_USER: &str = "pam-otp-test-nobody-here";

/// A second account (not the one running the tests), from the user database: one that has
/// no secret and no state file in a test's directories until the test gives it one.
pub fn other_user() -> String {
    let me = current_user().name;
    ["nobody", "daemon", "bin"]
        .into_iter()
        .find(|u| *u != me && pam_otp_core::userdb::lookup(u).ok().flatten().is_some())
        .expect("a second account in the user database")
        .to_string()
}
