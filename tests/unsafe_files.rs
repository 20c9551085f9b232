//! Files and directories the module will not trust are refused, and the user with them: a
//! secret file readable by others, a symbolic link, a hard link, a secret in a directory
//! others may write (`bad_secret_file`, even with `nullok`), and a state directory others
//! may write (`state_error`).
//!
//! Through the built module under real libpam (the test client under pam_wrapper, the test
//! kit's `whole_process`).

use std::fs;
use std::os::unix::fs::PermissionsExt;

use pam_otp_testkit::client::Client;
use pam_otp_testkit::codes::Totp;
use pam_otp_testkit::pam_ffi::PAM_AUTH_ERR;
use pam_otp_testkit::whole_process::enrolled;

#[test]
fn secret_file_readable_by_others_is_refused() {
    let (env, key) = enrolled("nullok");
    fs::set_permissions(env.secret_path(), fs::Permissions::from_mode(0o644)).unwrap();
    env.run("otp", &Client::answer(Totp::default().now(&key)))
        .expect(PAM_AUTH_ERR, "bad_secret_file")
        .expect_prompts(1)
        .expect_line_contains("group or others");
}

#[test]
fn symlinked_secret_file_is_refused() {
    let (env, key) = enrolled("nullok");
    let real = env.secrets_dir().join("real.otp");
    fs::rename(env.secret_path(), &real).unwrap();
    std::os::unix::fs::symlink(&real, env.secret_path()).unwrap();
    env.run("otp", &Client::answer(Totp::default().now(&key)))
        .expect(PAM_AUTH_ERR, "bad_secret_file")
        .expect_line_contains("symbolic link");
}

#[test]
fn hard_linked_secret_file_is_refused() {
    let (env, key) = enrolled("");
    fs::hard_link(env.secret_path(), env.secrets_dir().join("second-name")).unwrap();
    env.run("otp", &Client::answer(Totp::default().now(&key)))
        .expect(PAM_AUTH_ERR, "bad_secret_file")
        .expect_line_contains("hard link");
}

#[test]
fn secret_in_a_group_writable_directory_is_refused() {
    let (env, key) = enrolled("");
    fs::set_permissions(env.secrets_dir(), fs::Permissions::from_mode(0o770)).unwrap();
    env.run("otp", &Client::answer(Totp::default().now(&key)))
        .expect(PAM_AUTH_ERR, "bad_secret_file")
        .expect_line_contains("directory is writable by group or others");
}

#[test]
fn unsafe_state_directory_denies() {
    let (env, key) = enrolled("");
    fs::create_dir(env.state_dir()).unwrap();
    fs::set_permissions(env.state_dir(), fs::Permissions::from_mode(0o777)).unwrap();
    env.run("otp", &Client::answer(Totp::default().now(&key)))
        .expect(PAM_AUTH_ERR, "state_error")
        .expect_line_contains("writable by group or others");
}
