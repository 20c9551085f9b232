//! What version 4 of the state adds: the delivery counters and the out-of-band code record
//! ([`OobState`], with its own encoding), so that a code sent out of band, its expiry, its
//! single use and the send limits hold on every backend (the file store and Redis keep the
//! same bytes).

use super::{CorruptState, Reader, State};
use crate::oob::contact::Channel;
use crate::oob::rules::{OobState, MAX_ENCODED_LEN as OOB_MAX_LEN};

/// Deliveries handed to the helper, for one channel. Saturating, like every counter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelCounts {
    /// The helper said it delivered the code.
    pub ok: u32,
    /// The helper failed, timed out, or could not be started.
    pub failed: u32,
}

/// Deliveries by channel and result (`pam-otp metrics`' `pam_otp_deliveries_total`), for
/// the channels of version 4: e-mail, webhook and ntfy. Attempts on `sms`, `voice` and
/// `fcm` are not counted here: the file store's 4,096-byte slot is exactly full, and
/// growing it is a change of file format; their attempts are in the verdict lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryCounts {
    /// `email`.
    pub email: ChannelCounts,
    /// `webhook`.
    pub webhook: ChannelCounts,
    /// `ntfy`.
    pub ntfy: ChannelCounts,
}

impl DeliveryCounts {
    /// The channels counted.
    pub const CHANNELS: [Channel; 3] = [Channel::Email, Channel::Webhook, Channel::Ntfy];

    /// The counts of `channel` (`None`: a channel that is not counted).
    pub fn of(&self, channel: Channel) -> Option<ChannelCounts> {
        match channel {
            Channel::Email => Some(self.email),
            Channel::Webhook => Some(self.webhook),
            Channel::Ntfy => Some(self.ntfy),
            Channel::Sms | Channel::Voice | Channel::Fcm => None,
        }
    }

    /// Counts one delivery attempt on `channel` (nothing, for a channel not counted).
    pub fn count(&mut self, channel: Channel, delivered: bool) {
        let c = match channel {
            Channel::Email => &mut self.email,
            Channel::Webhook => &mut self.webhook,
            Channel::Ntfy => &mut self.ntfy,
            Channel::Sms | Channel::Voice | Channel::Fcm => return,
        };
        let n = if delivered { &mut c.ok } else { &mut c.failed };
        *n = n.saturating_add(1);
    }

    fn as_array(&self) -> [u32; 6] {
        [
            self.email.ok,
            self.email.failed,
            self.webhook.ok,
            self.webhook.failed,
            self.ntfy.ok,
            self.ntfy.failed,
        ]
    }

    fn from_array(a: [u32; 6]) -> DeliveryCounts {
        let [eo, ef, wo, wf, no, nf] = a;
        let pair = |ok, failed| ChannelCounts { ok, failed };
        DeliveryCounts {
            email: pair(eo, ef),
            webhook: pair(wo, wf),
            ntfy: pair(no, nf),
        }
    }
}

/// Longest version 4 tail: six counters, the record's length, the record.
pub(super) const TAIL_V4_MAX_LEN: usize = 4 * 6 + 1 + OOB_MAX_LEN;

const _: () = assert!(OOB_MAX_LEN < 256);

/// Appends the version 4 tail: the six delivery counters (email ok, failed; webhook ok,
/// failed; ntfy ok, failed; little-endian u32), then the length of the [`OobState`]
/// record (0: no code was ever sent) and the record.
pub(super) fn encode(out: &mut Vec<u8>, state: &State) {
    for n in state.oob.deliveries.as_array() {
        out.extend_from_slice(&n.to_le_bytes());
    }
    match &state.oob.record {
        Some(oob) => {
            let bytes = oob.encode();
            // At most OOB_MAX_LEN (< 256, asserted above).
            out.push(bytes.len() as u8);
            out.extend_from_slice(&bytes);
        }
        None => out.push(0),
    }
}

/// Reads the version 4 tail (the rest of the bytes), strictly.
pub(super) fn decode(r: &mut Reader<'_>, state: &mut State) -> Result<(), CorruptState> {
    let mut counts = [0u32; 6];
    for n in &mut counts {
        *n = u32::from_le_bytes(r.take()?);
    }
    state.oob.deliveries = DeliveryCounts::from_array(counts);
    let [len] = r.take::<1>()?;
    let len = usize::from(len);
    // An empty record is not a valid encoding, so 0 means "none" and nothing else does.
    state.oob.record = if len == 0 {
        None
    } else {
        let (bytes, rest) = r.0.split_at_checked(len).ok_or(CorruptState)?;
        r.0 = rest;
        Some(OobState::decode(bytes).map_err(|_| CorruptState)?)
    };
    Ok(())
}
