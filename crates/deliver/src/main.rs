//! `pam-otp-deliver`: sends one one-time code to one contact, then exits
//! (pam-otp-deliver(8), ARCHITECTURE.md "Out-of-band codes"). Everything is in the library
//! (src/lib.rs, `pam_otp_deliver`); this binary only runs it.

fn main() -> std::process::ExitCode {
    pam_otp_deliver::main()
}
