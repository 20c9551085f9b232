//! `pam-otp metrics`: the Prometheus text exposition of what the module recorded, for
//! node_exporter's textfile collector (contrib/systemd/pam-otp-metrics.*).
//!
//! Every number comes from the per-user states, summed when asked: the module writes
//! nothing extra for them (the counters live in the state record a login saves anyway).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::ExitCode;

use pam_otp_core::oob::contact::Channel;
use pam_otp_core::secret_file::Kind;
use pam_otp_core::state::{DeliveryCounts, State};
use pam_otp_core::store::Inspection;

use crate::cli_args::ModuleOpts;
use crate::clock;
use crate::error::Result;
use crate::locked::{all_states, failing};
use crate::target::Target;

/// Channels of out-of-band delivery the module knows, in the order of the samples.
const DELIVERY_CHANNELS: [Channel; 3] = DeliveryCounts::CHANNELS;

/// What the exposition is made of, gathered from the states and secret files.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Attempts by outcome word.
    pub outcomes: BTreeMap<&'static str, u64>,
    /// Lock-outs started.
    pub lockouts: u64,
    /// Users locked out now.
    pub locked_now: u64,
    /// Users with failures since their last success (locked or not).
    pub failing: u64,
    /// Enrolled users by token type.
    pub enrolled: BTreeMap<&'static str, u64>,
    /// States the module refuses.
    pub unusable: u64,
    /// User states read.
    pub users: u64,
    /// Deliveries by channel name and result (`ok`, `failed`).
    pub deliveries: BTreeMap<(&'static str, &'static str), u64>,
}

impl Totals {
    /// Adds one user's state.
    pub fn add(&mut self, s: &State, now: u64) {
        let c = &s.counters;
        for (word, n) in [
            ("ok", c.ok),
            ("bad_code", c.bad_code),
            ("replay", c.replay),
            ("locked", c.locked),
            ("state_error", c.state_error),
        ] {
            *self.outcomes.entry(word).or_default() += u64::from(n);
        }
        self.lockouts += u64::from(c.lockouts);
        for channel in DELIVERY_CHANNELS {
            let n = s.oob.deliveries.of(channel).unwrap_or_default();
            for (result, count) in [("ok", n.ok), ("failed", n.failed)] {
                *self.deliveries.entry((channel.name(), result)).or_default() += u64::from(count);
            }
        }
        self.locked_now += u64::from(s.is_locked(now));
        self.failing += u64::from(failing(s, now));
        self.users += 1;
    }
}

/// The exposition text (Prometheus text format 0.0.4).
pub fn exposition(t: &Totals) -> String {
    let mut o = String::new();
    let head = |o: &mut String, name: &str, kind: &str, help: &str| {
        let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
    };
    head(
        &mut o,
        "pam_otp_logins_total",
        "counter",
        "Attempts decided by pam_otp, by the outcome word of their log line.",
    );
    for (word, count) in &t.outcomes {
        let _ = writeln!(o, "pam_otp_logins_total{{outcome=\"{word}\"}} {count}");
    }
    for (name, kind, help, value) in [
        (
            "pam_otp_lockouts_total",
            "counter",
            "Lock-outs started.",
            t.lockouts,
        ),
        (
            "pam_otp_users_locked",
            "gauge",
            "Users locked out now.",
            t.locked_now,
        ),
        (
            "pam_otp_users_failing",
            "gauge",
            "Users with failed attempts since their last success.",
            t.failing,
        ),
        (
            "pam_otp_states_unusable",
            "gauge",
            "User states pam_otp refuses (their logins fail until pam-otp repair).",
            t.unusable,
        ),
        (
            "pam_otp_users",
            "gauge",
            "User states in the store.",
            t.users,
        ),
    ] {
        head(&mut o, name, kind, help);
        let _ = writeln!(o, "{name} {value}");
    }
    head(
        &mut o,
        "pam_otp_enrolled_users",
        "gauge",
        "Users with a state and a usable secret file, by token type.",
    );
    for kind in ["hotp", "totp"] {
        let count = t.enrolled.get(kind).copied().unwrap_or(0);
        let _ = writeln!(o, "pam_otp_enrolled_users{{type=\"{kind}\"}} {count}");
    }
    head(
        &mut o,
        "pam_otp_deliveries_total",
        "counter",
        "Out-of-band codes handed to a delivery helper, by channel and result.",
    );
    for channel in DELIVERY_CHANNELS {
        for result in ["ok", "failed"] {
            let count = t
                .deliveries
                .get(&(channel.name(), result))
                .copied()
                .unwrap_or(0);
            let _ = writeln!(
                o,
                "pam_otp_deliveries_total{{channel=\"{}\",result=\"{result}\"}} {count}",
                channel.name()
            );
        }
    }
    o
}

/// The token type of `name`'s secret file, read as the module would, if usable.
fn token_type(opts: &ModuleOpts, name: &str) -> Option<&'static str> {
    let target = Target::new(opts, Some(name)).ok()?;
    let secret = target.read_secret().ok().flatten()?;
    Some(match secret.kind {
        Kind::Totp { .. } => "totp",
        Kind::Hotp { .. } => "hotp",
    })
}

/// `pam-otp metrics`.
pub fn run(opts: &ModuleOpts) -> Result<ExitCode> {
    let now = clock::now();
    let mut totals = Totals::default();
    for (who, inspection) in all_states(opts)? {
        match inspection {
            Inspection::Usable(s) => {
                totals.add(&s, now);
                if let Some(kind) = who.name.as_deref().and_then(|n| token_type(opts, n)) {
                    *totals.enrolled.entry(kind).or_default() += 1;
                }
            }
            Inspection::Unusable(_) => totals.unusable += 1,
            Inspection::Missing => {}
        }
    }
    print!("{}", exposition(&totals));
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pam_otp_core::state::Counters;

    #[test]
    fn sums_over_users() {
        let mut t = Totals::default();
        let a = State {
            counters: Counters {
                ok: u32::MAX,
                bad_code: 2,
                lockouts: 1,
                ..Counters::default()
            },
            locked_until: 200,
            ..State::default()
        };
        t.add(&a, 100);
        t.add(&a, 100);
        assert_eq!(
            t.outcomes["ok"],
            2 * u64::from(u32::MAX),
            "no overflow in the sum"
        );
        assert_eq!((t.lockouts, t.locked_now, t.failing, t.users), (2, 2, 2, 2));
        let text = exposition(&t);
        assert!(
            text.contains("pam_otp_logins_total{outcome=\"bad_code\"} 4\n"),
            "{text}"
        );
        assert!(text.contains("pam_otp_users_locked 2\n"), "{text}");
        assert!(
            text.contains("pam_otp_deliveries_total{channel=\"ntfy\",result=\"failed\"} 0\n"),
            "{text}"
        );
    }

    #[test]
    fn deliveries_are_summed_by_channel_and_result() {
        let mut t = Totals::default();
        let mut s = State::default();
        s.oob.deliveries.count(Channel::Email, true);
        s.oob.deliveries.count(Channel::Email, true);
        s.oob.deliveries.count(Channel::Webhook, false);
        t.add(&s, 0);
        t.add(&s, 0);
        let text = exposition(&t);
        for line in [
            "pam_otp_deliveries_total{channel=\"email\",result=\"ok\"} 4\n",
            "pam_otp_deliveries_total{channel=\"email\",result=\"failed\"} 0\n",
            "pam_otp_deliveries_total{channel=\"webhook\",result=\"failed\"} 2\n",
            "pam_otp_deliveries_total{channel=\"ntfy\",result=\"ok\"} 0\n",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }
}
