//! `pam-otp show`: the enrolment of each token again (otpauth URI, secret, QR code), so
//! that a new phone can be set up without a new secret. Printed on the terminal only.

use std::io::IsTerminal;
use std::process::ExitCode;

use pam_otp_core::secret_file::{encode_base32, Kind};
use pam_otp_core::verify;

use crate::cli_args::{ModuleOpts, QrMode, ShowArgs};
use crate::enroll;
use crate::error::{fail, Result};
use crate::otpauth;
use crate::target::{StateView, Target};
use crate::tokens;

/// `pam-otp show`.
pub fn run(opts: &ModuleOpts, a: &ShowArgs) -> Result<ExitCode> {
    let target = Target::new(opts, a.user.as_deref())?;
    let Some(file) = target.read_secret()? else {
        fail!(
            "{} is not enrolled ({} does not exist); run 'pam-otp enroll' first.",
            target.account.name,
            target.shown()
        );
    };
    let all = file.tokens();
    let chosen: Vec<_> = match &a.name {
        None => all,
        Some(name) => match all.into_iter().find(|t| t.name == name) {
            Some(t) => vec![t],
            None => fail!(
                "no token '{name}' in {}; 'pam-otp tokens' lists them.",
                target.shown()
            ),
        },
    };
    let host = enroll::hostname();
    let issuer = a.issuer.clone().unwrap_or_else(|| host.clone());
    if let Err(why) = otpauth::check_name(&issuer) {
        fail!("--issuer {why}.");
    }
    // The state says how far an HOTP token has moved since the file was written.
    let state = match target.peek_state() {
        StateView::Readable(s) => Some(s),
        _ => None,
    };
    eprintln!(
        "Warning: what follows lets anyone who sees it make {}'s codes. Show it only in \
         private (no one watching, no screen sharing or recording), then clear the screen.",
        target.account.name
    );
    for token in chosen {
        let label = a
            .label
            .clone()
            .unwrap_or_else(|| tokens::default_label(&target.account.name, &host, token.name));
        if let Err(why) = otpauth::check_name(&label) {
            fail!("--label {why}.");
        }
        let mut one = tokens::alone(&token);
        let mut counter_note = None;
        if let Kind::Hotp { counter } = one.kind {
            match &state {
                Some(s) => {
                    let next = s.history_of(verify::key_id(token.key), &[]).hotp_next;
                    one.kind = Kind::Hotp {
                        counter: next.unwrap_or(0).max(counter),
                    };
                }
                None => {
                    counter_note = Some(
                        "Note: the state is not readable here, so the counter is the file's; the \
                         token may be further on (set the app's counter, or run this as root).",
                    )
                }
            }
        }
        let uri = otpauth::uri(&one, &issuer, &label);
        println!();
        println!(
            "Token '{}' ({}):",
            token.name,
            crate::describe::describe(&one)
        );
        let drawn = match a.qr {
            None | Some(QrMode::None) => None,
            Some(QrMode::Text) => Some(crate::qr::text(&uri)),
            Some(QrMode::Ansi) => Some(crate::qr::ansi(&uri)),
            Some(QrMode::Auto) if std::io::stdout().is_terminal() => Some(crate::qr::ansi(&uri)),
            Some(QrMode::Auto) => Some(crate::qr::text(&uri)),
        };
        match drawn {
            Some(Some(text)) => print!("{}", text.as_str()),
            Some(None) => println!("(the URI is too long for a QR code; type the secret instead)"),
            None => {}
        }
        println!("  URI:    {}", uri.as_str());
        println!(
            "  Secret: {}",
            enroll::grouped(&encode_base32(&one.key)).as_str()
        );
        if let Some(note) = counter_note {
            println!("  {note}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
