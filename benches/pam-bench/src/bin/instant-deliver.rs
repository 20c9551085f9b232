//! instant-deliver: the delivery helper of `pam-bench delivery`, which delivers at once: it
//! reads the code line from its standard input, as pam-otp-deliver(8) does, writes it to
//! `out/code` beside its own executable (where the benchmark answers the module's second
//! prompt from, as a user reads their mail) and exits 0. No network, no provider: what is
//! left of a delivery is what the module itself pays to start and await a helper.

use std::io::BufRead;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() {
        return ExitCode::from(75);
    }
    let Some(out) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("out").join("code")))
    else {
        return ExitCode::from(75);
    };
    match std::fs::write(out, line.trim_end()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(75),
    }
}
