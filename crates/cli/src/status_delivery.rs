//! The lines of `pam-otp status` about codes sent out of band: the contacts (masked, as the
//! login prompt shows them), the send counters against the limits, the pending code's expiry
//! and the deliveries by channel.

use pam_otp_core::args::Config;
use pam_otp_core::oob::contact::Deliveries;
use pam_otp_core::state::{DeliveryCounts, State};

use crate::clock;
use crate::target::StateView;

/// The contacts, one line each.
pub fn print_contacts(deliveries: &Deliveries) {
    for (i, c) in deliveries.contacts().iter().enumerate() {
        let label = if i == 0 { "Delivery:" } else { "" };
        let order = if i == 0 { "" } else { " (if the first fails)" };
        println!("{label:<17}{} {}{order}", c.channel().name(), c.masked());
    }
}

/// What the state says about sent codes (nothing when none was ever sent).
pub fn print_sent(config: &Config, state: &StateView) {
    let StateView::Readable(s) = state else {
        return;
    };
    print_record(config, s);
}

fn print_record(config: &Config, s: &State) {
    let now = clock::now();
    let limits = config.deliver.limits;
    match &s.oob.record {
        None => println!("Codes sent:      none yet"),
        Some(record) => {
            println!(
                "Codes sent:      {} in the last hour (limit {} per hour, {} s apart)",
                record.sends_in_last_hour(now),
                limits.max_per_hour,
                limits.min_interval_secs
            );
            if let Some(&last) = record.sends().first() {
                println!("Last sent:       {}", clock::utc(last));
            }
            if let pam_otp_core::oob::rules::SendDecision::NotBefore(t) =
                record.may_send(&limits, now)
            {
                println!(
                    "Next send:       not before {} (in {} s)",
                    clock::utc(t),
                    t.saturating_sub(now)
                );
            }
            match record.pending() {
                None => {}
                Some(p) if p.used => println!("Pending code:    none (the last one was used)"),
                Some(p) if p.live_at(now) => println!(
                    "Pending code:    expires {} (in {} s)",
                    clock::utc(p.expires_at),
                    p.expires_at.saturating_sub(now)
                ),
                Some(p) => println!(
                    "Pending code:    none (the last one expired {})",
                    clock::utc(p.expires_at)
                ),
            }
        }
    }
    let d = &s.oob.deliveries;
    let parts: Vec<String> = DeliveryCounts::CHANNELS
        .into_iter()
        .filter_map(|ch| {
            let c = d.of(ch)?;
            (c.ok > 0 || c.failed > 0)
                .then(|| format!("{} {} delivered, {} failed", ch.name(), c.ok, c.failed))
        })
        .collect();
    if !parts.is_empty() {
        println!("Deliveries:      {}", parts.join("; "));
    }
}

/// The failure and lock-out lines for a user with no secret (the rest of `status` needs one).
pub fn print_failures(name: &str, state: &StateView, location: &str) {
    match state {
        StateView::None => println!("Failures:        none recorded (no login attempt yet)"),
        StateView::Private => println!(
            "Failures:        not readable as this user ({location} is root's; ask root or use sudo)"
        ),
        StateView::Error(e) => {
            println!("Failures:        cannot read the state: {e}");
            println!(
                "                 pam_otp refuses this user's logins until it is fixed: 'pam-otp repair {name}' (root)"
            );
        }
        StateView::Readable(s) => {
            let now = clock::now();
            println!("Failures:        {} since the last success", s.failures);
            if s.is_locked(now) {
                println!(
                    "Locked out:      yes, for {} more s (until {}); 'pam-otp unlock {name}' clears it",
                    s.locked_until - now,
                    clock::utc(s.locked_until)
                );
            } else {
                println!("Locked out:      no");
            }
        }
    }
}
