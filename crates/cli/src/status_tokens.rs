//! `pam-otp status` for a file of several tokens: one line per token (name, type,
//! parameters, as `pam-otp tokens` lists them), with what the state says of each when it
//! is readable: the next HOTP counter, or the last TOTP code used.

use pam_otp_core::secret_file::{Kind, SecretFile, TokenView};
use pam_otp_core::state::State;
use pam_otp_core::verify;

use crate::clock;
use crate::describe::describe;
use crate::tokens::alone;

/// The `Tokens:` lines; nothing for a file of one token (its `Codes:` line says it all).
/// `state`: the user's state when it is readable (else the lines say nothing of it).
pub fn print_tokens(secret: &SecretFile, state: Option<&State>, user: &str) {
    let tokens = secret.tokens();
    if tokens.len() < 2 {
        return;
    }
    println!(
        "Tokens:          {} (a code from any of them is accepted)",
        tokens.len()
    );
    let width = tokens.iter().map(|t| t.name.len()).max().unwrap_or(0);
    for t in &tokens {
        let used = state
            .map(|s| format!("; {}", used(t, s, user)))
            .unwrap_or_default();
        println!("  {:<width$}  {}{used}", t.name, describe(&alone(t)));
    }
}

/// What the state records of token `t`.
fn used(t: &TokenView<'_>, s: &State, user: &str) -> String {
    let h = s.history_of(verify::key_id(t.key), &[]);
    match (t.kind, h.last_step, h.hotp_next) {
        (Kind::Hotp { .. }, _, _) if h.hotp_unknown => format!(
            "next counter unknown: its codes are refused until root runs 'pam-otp repair {user} --hotp-counter N --name {}'",
            t.name
        ),
        (Kind::Hotp { .. }, _, Some(next)) => format!("next counter {next}"),
        (Kind::Hotp { counter }, _, None) => format!("next counter {counter} (none used yet)"),
        (Kind::Totp { period }, Some(step), _) => {
            format!("last code used {}", clock::utc(step.saturating_mul(period)))
        }
        (Kind::Totp { .. }, None, _) => "no code used yet".to_string(),
    }
}
