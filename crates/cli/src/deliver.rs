//! `pam-otp deliver test` and the test code `pam-otp enroll --deliver` sends: a code made
//! from the OS random source and handed to the delivery helper exactly as a login does
//! (`pam_otp_core::oob::spawn`, with the module's `deliver_*` settings), and what to tell
//! the administrator when that fails. The code is printed to the one who asked (for
//! `deliver test`) and never written anywhere else; it logs nobody in.

use std::path::Path;
use std::process::ExitCode;

use pam_otp_core::args::Config;
use pam_otp_core::oob::code::{CodeHash, OneTimeCode, OsRandom};
use pam_otp_core::oob::contact::Contact;
use pam_otp_core::oob::spawn::{
    self, CheckRequest, Checked, Delivered, Helper, Request, SpawnError,
};
use pam_otp_core::userdb::{self, Account};

use crate::caller::is_root;
use crate::cli_args::{DeliverTestArgs, EnrollArgs, ModuleOpts};
use crate::clock;
use crate::error::{fail, CliError, Result};
use crate::input::ask;
use crate::target::{Added, Target};

/// The service name the helper is given for a code the command sends.
const SERVICE: &str = "pam-otp";
/// Wrong codes allowed at the enrolment check before giving up.
const CONFIRM_TRIES: usize = 3;

/// A code that went out.
pub struct Sent {
    /// The code (wiped on drop).
    pub code: OneTimeCode,
    /// When it expires.
    pub expires_at: u64,
    /// What the helper reported.
    pub delivered: Delivered,
}

/// Parses a `CHANNEL:CONTACT` value as the secret file's `deliver` key does, a phone
/// number as people write it (normalised to E.164).
pub fn parse_contact(option: &str, value: &str) -> Result<Contact> {
    Contact::parse_written(value).map_err(|e| CliError(format!("{option} {value:?}: {e}.")))
}

/// The system user the helper runs as (`deliver_user=`), which must exist and not be root.
fn helper_account(config: &Config) -> Result<Account> {
    let name = &config.deliver.user;
    match userdb::lookup(name) {
        Ok(Some(a)) if a.uid != 0 && a.gid != 0 => Ok(a),
        Ok(Some(_)) => fail!("deliver_user={name} is root; the helper must run unprivileged."),
        Ok(None) => fail!(
            "the delivery user '{name}' does not exist; create it (the packages do: adduser --system --group --no-create-home --home /nonexistent {name}) or set deliver_user= in pam_otp.conf."
        ),
        Err(e) => fail!("could not read the user database: {}.", e.0.desc()),
    }
}

/// What to do about a failed delivery, after the helper's own (scrubbed) words.
fn hint(e: &SpawnError, config: &Config, conf: Option<&Path>) -> String {
    let creds = conf.map_or_else(
        || "/etc/security/pam_otp.d/deliver.conf".to_string(),
        |p| p.display().to_string(),
    );
    let helper = config.deliver.helper.display();
    match e.word() {
        "unsafe_helper" => format!(
            " {helper} (deliver_helper=) and every directory above it must be owned by root and not writable by group or others."
        ),
        "start_failed" => format!(" Is {helper} installed (deliver_helper=)?"),
        "timeout" => " The helper took longer than deliver_timeout= allows; is the mail relay or HTTPS endpoint reachable from here?".to_string(),
        "bad_config" => format!(
            " Check {creds}: owned by {} (or root), mode 0600, the channel's settings complete (pam-otp-deliver(8)).",
            config.deliver.user
        ),
        "bad_contact" => " The contact is not valid for its channel.".to_string(),
        "refused" => " The provider (MTA, webhook, ntfy server, SMS or push provider) refused the message.".to_string(),
        "rate_limited" => " The provider is rate limiting this account; wait, or raise its limits.".to_string(),
        "unreachable" => " The provider could not be reached (connection, TLS or timeout).".to_string(),
        _ => String::new(),
    }
}

/// Makes a code and hands it to the helper for `user` at `contact`, as a login would.
/// Only root can start the helper as its user.
pub fn send_code(
    config: &Config,
    user: &str,
    contact: &Contact,
    conf: Option<&Path>,
) -> Result<Sent> {
    if !is_root() {
        fail!(
            "sending a code starts the delivery helper as the {} user, which only root can do; run this as root.",
            config.deliver.user
        );
    }
    let settings = &config.deliver;
    let account = helper_account(config)?;
    let code = OneTimeCode::generate(settings.digits, &mut OsRandom)
        .map_err(|_| CliError("the OS random source failed; no code was sent.".into()))?;
    let expires_at = clock::now().saturating_add(settings.ttl_secs);
    let helper = Helper {
        path: &settings.helper,
        uid: account.uid,
        gid: account.gid,
        timeout: settings.timeout,
        conf,
    };
    let request = Request {
        user,
        contact,
        service: SERVICE,
        expires_at,
        code: &code,
    };
    match spawn::deliver(&helper, &request) {
        Ok(delivered) => Ok(Sent {
            code,
            expires_at,
            delivered,
        }),
        Err(e) => fail!(
            "the code could not be sent to {} ({}): {e}.{}",
            contact.to_value(),
            e.word(),
            hint(&e, config, conf)
        ),
    }
}

/// Asks the provider that made its own code (`handle`, from the send) whether `typed` is
/// it, through the helper in check mode, as a login would.
fn check_code(
    config: &Config,
    user: &str,
    contact: &Contact,
    conf: Option<&Path>,
    handle: &str,
    expires_at: u64,
    typed: &[u8],
) -> Result<Checked> {
    let account = helper_account(config)?;
    let helper = Helper {
        path: &config.deliver.helper,
        uid: account.uid,
        gid: account.gid,
        timeout: config.deliver.timeout,
        conf,
    };
    let request = CheckRequest {
        user,
        contact,
        service: SERVICE,
        expires_at,
        handle,
        typed,
    };
    spawn::check(&helper, &request).map_err(|e| {
        CliError(format!(
            "the provider could not check the code ({}): {e}.{}",
            e.word(),
            hint(&e, config, conf)
        ))
    })
}

/// `pam-otp deliver test USER`.
pub fn test(opts: &ModuleOpts, a: &DeliverTestArgs) -> Result<ExitCode> {
    if !is_root() {
        fail!("'pam-otp deliver test' starts the delivery helper as its own user, which only root can do.");
    }
    let target = Target::new(opts, Some(&a.user))?;
    let contacts: Vec<Contact> = match &a.contact {
        Some(v) => vec![parse_contact("--contact", v)?],
        None => {
            let file = target.read_user_file()?;
            let contacts: Vec<Contact> = file
                .map(|f| f.deliveries.contacts().to_vec())
                .unwrap_or_default();
            if contacts.is_empty() {
                fail!(
                    "{} has no deliver line in {}; give --contact CHANNEL:CONTACT, or add one with 'pam-otp enroll --user {} --deliver CHANNEL:CONTACT'.",
                    target.account.name,
                    target.shown(),
                    target.account.name
                );
            }
            contacts
        }
    };
    let mut failed = 0;
    for contact in &contacts {
        match send_code(
            &target.config,
            &target.account.name,
            contact,
            a.deliver_conf.as_deref(),
        ) {
            Ok(sent) if sent.delivered.verify.is_some() => println!(
                "Sent to {} in {} ms: the provider made the code itself (verification {}); it stays pending at the provider until it lapses (Vonage refuses another to the same number until then).",
                contact.to_value(),
                sent.delivered.elapsed.as_millis(),
                sent.delivered.verify.as_deref().unwrap_or_default()
            ),
            Ok(sent) => {
                let code = std::str::from_utf8(sent.code.as_bytes()).unwrap_or("");
                println!(
                    "Sent to {} in {} ms: the code is {code}, valid until {}.",
                    contact.to_value(),
                    sent.delivered.elapsed.as_millis(),
                    clock::utc(sent.expires_at)
                );
                if !sent.delivered.stdout.is_empty() {
                    println!("  The helper said: {}", sent.delivered.stdout);
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("pam-otp: {e}");
            }
        }
    }
    println!(
        "Compare with what arrived. A test code logs nobody in, is recorded nowhere and counts toward no send limit."
    );
    if failed > 0 {
        fail!("{failed} of {} deliveries failed.", contacts.len());
    }
    Ok(ExitCode::SUCCESS)
}

/// `pam-otp enroll --deliver CHANNEL:CONTACT`: sends a code there and saves the `deliver`
/// line only once it has been typed back (or, with `--no-confirm`, without sending).
pub fn enroll(opts: &ModuleOpts, a: &EnrollArgs, value: &str) -> Result<ExitCode> {
    let contact = parse_contact("--deliver", value)?;
    let target = Target::new(opts, a.user.as_deref())?;
    // Before anything is sent: the file must be one the line can go into.
    let before = target.read_user_file()?;
    if before
        .as_ref()
        .is_some_and(|f| f.deliveries.contacts().contains(&contact))
    {
        fail!(
            "{} already has 'deliver = {}'; nothing was changed.",
            target.shown(),
            contact.to_value()
        );
    }
    target.usable_state()?;
    if a.no_confirm {
        eprintln!(
            "Not sending a code (--no-confirm): check with 'pam-otp deliver test {}' before relying on it.",
            target.account.name
        );
    } else {
        if !is_root() {
            fail!(
                "checking a contact sends a code through the delivery helper, which only root can start; ask an administrator to run 'pam-otp enroll --user {} --deliver {}', or add --no-confirm to save it unchecked.",
                target.account.name,
                contact.to_value()
            );
        }
        let sent = send_code(
            &target.config,
            &target.account.name,
            &contact,
            a.deliver_conf.as_deref(),
        )?;
        let expected =
            match &sent.delivered.verify {
                Some(handle) => Expected::Provider(handle),
                None => Expected::Ours(CodeHash::new(&sent.code, &mut OsRandom).map_err(|_| {
                    CliError("the OS random source failed; nothing was saved.".into())
                })?),
            };
        drop(sent.code);
        eprintln!("A code was sent to {}.", contact.masked());
        let provider_check = |handle: &str, typed: &[u8]| {
            check_code(
                &target.config,
                &target.account.name,
                &contact,
                a.deliver_conf.as_deref(),
                handle,
                sent.expires_at,
                typed,
            )
        };
        confirm(&expected, sent.expires_at, &provider_check)?;
    }
    let added = target.add_delivery(&contact)?;
    println!(
        "Saved 'deliver = {}' in {} for {}.",
        contact.to_value(),
        target.shown(),
        target.account.name
    );
    match added {
        Added::NewFile => println!(
            "{} has no authenticator secret: each login sends a code to {}.",
            target.account.name,
            contact.masked()
        ),
        Added::ToExisting if before.as_ref().is_some_and(|f| f.secret.is_some()) => println!(
            "At the code prompt, pressing Enter sends a code to {} instead of using the app.",
            contact.masked()
        ),
        Added::ToExisting => {}
    }
    Ok(ExitCode::SUCCESS)
}

/// The code the enrolment check expects.
enum Expected<'a> {
    /// Ours, sent: its salted hash.
    Ours(CodeHash),
    /// The provider's own: only the provider can say (its handle).
    Provider(&'a str),
}

/// Asks for the code sent until it matches, [`CONFIRM_TRIES`] times at most, before it
/// expires. A provider's own code is checked by the provider (`provider_check`).
fn confirm(
    expected: &Expected<'_>,
    expires_at: u64,
    provider_check: &dyn Fn(&str, &[u8]) -> Result<Checked>,
) -> Result<()> {
    for attempt in 1..=CONFIRM_TRIES {
        let Some(typed) = ask("Type the code you received, to confirm: ")? else {
            fail!("no code was typed (end of input); nothing was saved.");
        };
        let typed: Vec<u8> = typed.bytes().filter(|b| *b != b' ').collect();
        let typed = zeroize::Zeroizing::new(typed);
        if clock::now() >= expires_at {
            fail!("the code expired before it was typed; nothing was saved. Enrol again.");
        }
        let matches = match expected {
            Expected::Ours(hash) => hash.matches(&typed),
            Expected::Provider(handle) => {
                match spawn::checkable(&typed).then(|| provider_check(handle, &typed)).transpose()? {
                    Some(Checked::Approved) => true,
                    Some(Checked::Expired) => fail!(
                        "the provider no longer has the code (expired, or too many tries); nothing was saved. Enrol again."
                    ),
                    Some(Checked::Rejected) | None => false,
                }
            }
        };
        if matches {
            eprintln!("The code matches.");
            return Ok(());
        }
        if attempt < CONFIRM_TRIES {
            eprintln!("That is not the code that was sent; try again.");
        }
    }
    fail!(
        "the code did not match {CONFIRM_TRIES} times; nothing was saved. Check the address, then enrol again."
    )
}
