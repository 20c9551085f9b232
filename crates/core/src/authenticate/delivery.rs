//! The login with a code sent out of band (pam_otp(8), "CODES SENT OUT OF BAND").
//!
//! 1. Under the user's lock: refuse if locked out; else [`OobState::issue`] (the send
//!    limits, then the new code's salted hash, expiry and send time replace the previous
//!    code; a used previous code is kept as the last used one, a replay if typed again),
//!    saved before anything is sent. Past the limit: refused (`send_limit`), the user
//!    told when to try again.
//! 2. With no lock held: the helper is started ([`spawn::deliver`]) with the code on stdin,
//!    for the first contact, then the next ones while it fails. Each attempt is named in the
//!    log line (masked contact, the helper's result word), never the code.
//! 3. Every contact failed: the failures are counted in the state, and the login is refused
//!    (`deliver_failed`) with a message to the user.
//! 4. Delivered: `Code sent to a•••@example.org: `; the answer is checked under the lock
//!    ([`OobState::check`]) and recorded as any attempt is ([`Attempt::settle`]): a wrong
//!    code, a replay or an expired code count toward the same lock-out as a wrong TOTP code.
//! 5. Sent by a provider that makes its own code (the helper said `verify HANDLE`: Twilio
//!    Verify, Vonage Verify, Arkesel OTP): ours was never shown, so it is retired, and the
//!    answer is accepted only if the provider approves it ([`spawn::check`], with no lock
//!    held) before our code's own expiry (`deliver_ttl`); the provider's verdict is then
//!    recorded under the lock like any attempt (wrong or expired count toward the
//!    lock-out; single use is the provider's). A check that never reached the provider, or
//!    that it would not answer, refuses (`deliver_failed`) and counts nothing; one that may
//!    have been judged (killed mid-check, refused, unreadable) counts as a wrong code.

use crate::log_text;
use crate::oob::code::{CodeHash, OneTimeCode, OsRandom};
use crate::oob::contact::{Channel, Contact, Deliveries};
use crate::oob::rules::{CodeCheck, OobState, PendingCode, SendDecision};
use crate::oob::spawn::{self, CheckRequest, Checked, Helper, Request, SpawnError};
use crate::state::{DeliveryCounts, State};
use crate::store::StateKey;
use crate::userdb::{self, Account};
use crate::verify::{count_attempt, Decision, Denial, Method};

use super::{Attempt, Host, Level, Reason, Verdict};

/// The prompt of a user with both a secret and contacts, naming the first contact's channel.
pub(super) fn offer_prompt(channel: Channel) -> String {
    format!(
        "One-time code (or press Enter to get one {}): ",
        channel.by()
    )
}

/// What the user is told when the send limit is reached.
pub(crate) fn send_limit_text(wait_secs: u64) -> String {
    format!("Too many codes sent; try again in {} s", wait_secs.max(1))
}

/// Sends a code to the user's contacts and checks the answer (see the module documentation).
pub(super) fn send_and_check(
    attempt: &Attempt<'_>,
    host: &mut dyn Host,
    account: &Account,
    deliveries: &Deliveries,
    now: u64,
) -> Verdict {
    let settings = &attempt.config.deliver;
    let refuse = |host: &mut dyn Host, reason: Reason, detail: &str| {
        // Nothing of the user's was saved: pay for a save all the same, as every refusal does.
        let fell_back = attempt.save_decoy();
        attempt.report_fallback(host, fell_back.as_deref());
        attempt.log(host, Level::Warning, reason, detail);
        Verdict::Deny(reason)
    };
    let Some(first) = deliveries.contacts().first() else {
        return refuse(host, Reason::DeliverFailed, "no delivery contact");
    };
    let helper_user = match userdb::lookup(&settings.user) {
        Ok(Some(a)) if a.uid != 0 && a.gid != 0 => a,
        _ => {
            host.inform("The one-time code could not be sent.");
            let detail = format!(
                "delivery user {} does not exist or is root; no code sent",
                log_text::escape(settings.user.as_bytes())
            );
            return refuse(host, Reason::DeliverFailed, &detail);
        }
    };
    let Ok(code) = OneTimeCode::generate(settings.digits, &mut OsRandom) else {
        return refuse(host, Reason::DeliverFailed, "the OS random source failed");
    };
    let pending = CodeHash::new(&code, &mut OsRandom)
        .ok()
        .and_then(|hash| PendingCode::new(hash, settings.digits, now, settings.ttl_secs).ok());
    let Some(pending) = pending else {
        return refuse(host, Reason::DeliverFailed, "no code could be made");
    };
    let expires_at = pending.expires_at;

    // 1. Issue under the lock, saved before anything is sent.
    let key = StateKey {
        uid: account.uid,
        name: &account.name,
    };
    let mut issued = None;
    let mut locked = false;
    let saved = attempt.stores.transact(key, &mut |state| {
        let mut next = state.clone();
        if state.is_locked(now) {
            locked = true;
            return next;
        }
        let mut record = next.oob.record.take().unwrap_or_default();
        issued = Some(record.issue(&settings.limits, pending.clone(), now));
        next.oob.record = Some(record);
        next
    });
    attempt.report_fallback(host, saved.fell_back.as_deref());
    if let Err(e) = saved.result {
        let detail = format!(
            "{}: {e}",
            log_text::escape(attempt.stores.location().as_bytes())
        );
        attempt.log(host, Level::Error, Reason::StateError, &detail);
        return Verdict::Deny(Reason::StateError);
    }
    if locked {
        // Refused without sending, recorded as any attempt while locked out is.
        return attempt.settle(host, account, b"", now, false, "; no code sent", &mut |s| {
            judge(
                s,
                b"",
                now,
                &attempt.config.policy,
                &DeliveryCounts::default(),
            )
        });
    }
    match issued {
        Some(SendDecision::Now) => {}
        Some(SendDecision::NotBefore(t)) => {
            let wait = t.saturating_sub(now);
            host.inform(&send_limit_text(wait));
            let detail = format!(
                "no code sent to {}: send limit ({} s apart, {} per hour); next send in {wait} s",
                first.masked(),
                settings.limits.min_interval_secs,
                settings.limits.max_per_hour
            );
            return refuse(host, Reason::SendLimit, &detail);
        }
        None => {
            attempt.log(
                host,
                Level::Error,
                Reason::StateError,
                "no send decision was taken",
            );
            return Verdict::Deny(Reason::StateError);
        }
    }

    // 2. Deliver, with no lock held: the first contact, then the next while it fails.
    let service = host
        .service()
        .and_then(|s| String::from_utf8(s).ok())
        .unwrap_or_else(|| "pam".to_string());
    let helper = Helper {
        path: &settings.helper,
        uid: helper_user.uid,
        gid: helper_user.gid,
        timeout: settings.timeout,
        conf: None,
    };
    let mut counts = DeliveryCounts::default();
    let mut tried = Vec::new();
    let mut delivered_to: Option<&Contact> = None;
    let mut verify: Option<String> = None;
    let mut wait_hint: Option<u64> = None;
    for contact in deliveries.contacts() {
        let request = Request {
            user: &account.name,
            contact,
            service: &service,
            expires_at,
            code: &code,
        };
        match spawn::deliver(&helper, &request) {
            Ok(done) => {
                counts.count(contact.channel(), true);
                let by = if done.verify.is_some() {
                    " (the provider's own code)"
                } else {
                    ""
                };
                tried.push(format!(
                    "{} delivered in {} ms{by}",
                    contact.masked(),
                    done.elapsed.as_millis()
                ));
                delivered_to = Some(contact);
                verify = done.verify;
                break;
            }
            Err(e) => {
                if let SpawnError::RateLimited {
                    retry_after: Some(secs),
                    ..
                } = e
                {
                    wait_hint = Some(wait_hint.unwrap_or(0).max(secs));
                }
                counts.count(contact.channel(), false);
                // The helper's own words are scrubbed of the code by `spawn`.
                tried.push(format!(
                    "{} failed: {}",
                    contact.masked(),
                    log_text::escape(e.to_string().as_bytes())
                ));
            }
        }
    }
    drop(code);
    let note = format!("; delivery: {}", tried.join(", "));

    // 3. Every contact failed: counted, and refused.
    let Some(contact) = delivered_to else {
        let saved = attempt.stores.transact(key, &mut |state| {
            let mut next = state.clone();
            add_counts(&mut next.oob.deliveries, &counts);
            next
        });
        attempt.report_fallback(host, saved.fell_back.as_deref());
        match wait_hint {
            Some(secs) => host.inform(&format!(
                "The one-time code could not be sent; try again in {} s.",
                secs.max(1)
            )),
            None => host.inform("The one-time code could not be sent; try again later."),
        }
        let detail = format!("no code delivered{note}");
        attempt.log(host, Level::Warning, Reason::DeliverFailed, &detail);
        return Verdict::Deny(Reason::DeliverFailed);
    };

    // 4. Ask, then check under the lock as any attempt is recorded.
    let prompt = format!("Code sent to {}: ", contact.masked());
    let typed = match attempt.ask(host, &prompt) {
        Ok(t) => t,
        Err(reason) => {
            // The delivery counts are kept all the same (and a provider's send retires ours).
            let _ = attempt.stores.transact(key, &mut |state| {
                let mut next = state.clone();
                add_counts(&mut next.oob.deliveries, &counts);
                if let (Some(record), true) = (next.oob.record.as_mut(), verify.is_some()) {
                    record.retire(&pending);
                }
                next
            });
            return Verdict::Deny(reason);
        }
    };
    let typed: Vec<u8> = typed.iter().copied().filter(|b| *b != b' ').collect();
    let typed = zeroize::Zeroizing::new(typed);
    let policy = attempt.config.policy;
    if let Some(handle) = verify {
        let ask = ProviderCheck {
            helper: &helper,
            user: &account.name,
            contact,
            service: &service,
            ours: &pending,
            handle: &handle,
        };
        return check_with_provider(attempt, host, account, &ask, &typed, now, &counts, &note);
    }
    let checked_at = now_after(host, now);
    attempt.settle(host, account, &typed, checked_at, false, &note, &mut |s| {
        judge(s, &typed, checked_at, &policy, &counts)
    })
}

/// Where to ask the provider that sent its own code.
struct ProviderCheck<'a> {
    helper: &'a Helper<'a>,
    user: &'a str,
    contact: &'a Contact,
    service: &'a str,
    /// The code this login issued (never sent): its expiry bounds the provider's code's
    /// life too (`deliver_ttl`), and it is retired once the provider has answered.
    ours: &'a PendingCode,
    handle: &'a str,
}

/// Whether a failed check decided nothing about the code: the provider was never asked,
/// or could not or would not answer. Any other failure (a refusal, a helper killed
/// mid-check, an answer we cannot read) may have spent one of the provider's attempts and
/// counts as a wrong code.
fn undecided(e: &SpawnError) -> bool {
    use crate::oob::exit::HelperExit;
    match e {
        SpawnError::BadSettings
        | SpawnError::UnsafeHelper(_)
        | SpawnError::BadRequest
        | SpawnError::Start(_)
        | SpawnError::RateLimited { .. } => true,
        SpawnError::Failed { exit, .. } => {
            matches!(
                exit,
                HelperExit::Unreachable | HelperExit::BadConfig | HelperExit::Usage
            )
        }
        SpawnError::TimedOut(_) | SpawnError::Signalled(_) | SpawnError::BadAnswer => false,
    }
}

/// Step 5: the provider made the code; only its answer accepts `typed`.
#[allow(clippy::too_many_arguments)]
fn check_with_provider(
    attempt: &Attempt<'_>,
    host: &mut dyn Host,
    account: &Account,
    ask: &ProviderCheck<'_>,
    typed: &[u8],
    now: u64,
    counts: &DeliveryCounts,
    note: &str,
) -> Verdict {
    let policy = attempt.config.policy;
    let checked_at = now_after(host, now);
    let key = StateKey {
        uid: account.uid,
        name: &account.name,
    };
    // Past our own code's life (deliver_ttl), or what no provider could accept: decided
    // here without asking (and without spending one of the provider's attempts).
    let answer = if checked_at >= ask.ours.expires_at {
        Ok(Checked::Expired)
    } else if !spawn::checkable(typed) {
        Ok(Checked::Rejected)
    } else {
        spawn::check(
            ask.helper,
            &CheckRequest {
                user: ask.user,
                contact: ask.contact,
                service: ask.service,
                expires_at: ask.ours.expires_at,
                handle: ask.handle,
                typed,
            },
        )
    };
    let (verdict, failed_check) = match answer {
        Ok(v) => (v, None),
        Err(e) if undecided(&e) => {
            // Nothing was decided about the code: count the deliveries, retire ours, refuse.
            let saved = attempt.stores.transact(key, &mut |state| {
                let mut next = state.clone();
                add_counts(&mut next.oob.deliveries, counts);
                if let Some(record) = next.oob.record.as_mut() {
                    record.retire(ask.ours);
                }
                next
            });
            attempt.report_fallback(host, saved.fell_back.as_deref());
            host.inform("The code could not be checked; try again later.");
            let detail = format!(
                "the provider's check failed: {}{note}",
                log_text::escape(e.to_string().as_bytes())
            );
            attempt.log(host, Level::Warning, Reason::DeliverFailed, &detail);
            return Verdict::Deny(Reason::DeliverFailed);
        }
        // The provider may have judged the code (and spent an attempt): a wrong code.
        Err(e) => (Checked::Rejected, Some(e)),
    };
    let note = match failed_check {
        None => format!("{note}; checked by the provider"),
        Some(e) => format!(
            "{note}; the provider's check failed ({}), counted as a wrong code",
            log_text::escape(e.to_string().as_bytes())
        ),
    };
    attempt.settle(host, account, typed, checked_at, false, &note, &mut |s| {
        judge_by_provider(s, verdict, ask.ours, checked_at, &policy, counts)
    })
}

/// The decision on a code the provider checked (pure): locked out → refused whatever the
/// provider said; approved → accepted; rejected → a wrong code; no pending verification →
/// expired. Our own code `ours`, never sent, is retired. `counts` are added to the state.
fn judge_by_provider(
    stored: &State,
    verdict: Checked,
    ours: &PendingCode,
    now: u64,
    policy: &crate::verify::Policy,
    counts: &DeliveryCounts,
) -> Decision {
    let mut retired = stored.clone();
    if let Some(record) = retired.oob.record.as_mut() {
        record.retire(ours);
    }
    decide(&retired, now, policy, counts, |_| match verdict {
        Checked::Approved => Ok(Method::Delivered),
        Checked::Rejected => Err(Denial::BadCode),
        Checked::Expired => Err(Denial::Expired),
    })
}

/// What both judges share (pure): `counts` added to the state; locked out → refused with
/// `outcome` never asked; else `outcome` (which may change the state) counted toward the
/// lock-out like any attempt.
fn decide(
    stored: &State,
    now: u64,
    policy: &crate::verify::Policy,
    counts: &DeliveryCounts,
    outcome: impl FnOnce(&mut State) -> Result<Method, Denial>,
) -> Decision {
    let mut state = stored.clone();
    add_counts(&mut state.oob.deliveries, counts);
    if stored.is_locked(now) {
        return Decision {
            outcome: Err(Denial::Locked {
                until: stored.locked_until,
            }),
            state,
            locked_now: None,
            token: None,
        };
    }
    let outcome = outcome(&mut state);
    let locked_now = count_attempt(&mut state, outcome.is_ok(), now, policy);
    Decision {
        outcome,
        state,
        locked_now,
        token: None,
    }
}

/// The time of the check: the host's clock read again (the answer may come long after
/// the send, and the code's life is counted to it), never before the send.
fn now_after(host: &dyn Host, issued: u64) -> u64 {
    host.now()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(issued, |d| d.as_secs())
        .max(issued)
}

fn add_counts(into: &mut DeliveryCounts, add: &DeliveryCounts) {
    for channel in DeliveryCounts::CHANNELS {
        let c = add.of(channel).unwrap_or_default();
        for _ in 0..c.ok {
            into.count(channel, true);
        }
        for _ in 0..c.failed {
            into.count(channel, false);
        }
    }
}

/// The decision on a typed out-of-band code (pure): locked out → refused unread; the
/// pending code, in time, first use → accepted (and used); anything else → a failure
/// counted toward the lock-out like a wrong TOTP code. `counts` (this login's deliveries)
/// are added to the state.
fn judge(
    stored: &State,
    typed: &[u8],
    now: u64,
    policy: &crate::verify::Policy,
    counts: &DeliveryCounts,
) -> Decision {
    decide(stored, now, policy, counts, |state| {
        let mut record: OobState = state.oob.record.take().unwrap_or_default();
        let outcome = match record.check(typed, now) {
            CodeCheck::Accepted => Ok(Method::Delivered),
            CodeCheck::Replay => Err(Denial::Replay),
            CodeCheck::Expired => Err(Denial::Expired),
            CodeCheck::Wrong | CodeCheck::NoCode => Err(Denial::BadCode),
        };
        state.oob.record = Some(record);
        outcome
    })
}

#[cfg(test)]
mod tests;
