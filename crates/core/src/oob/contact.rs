//! The `deliver = CHANNEL:CONTACT` value: where a code sent out of band goes.
//!
//! Parsed as strictly as the rest of the secret file: a known channel, a contact whose syntax
//! is sane for it and bounded, nothing else (no spaces, no control characters, no quoting).
//! The helper parses the contact it is handed again with the same function.

use std::fmt;

/// At most this many `deliver` lines per user.
pub const MAX_DELIVERIES: usize = 4;
/// Longest `deliver` value, channel and colon included.
pub const MAX_VALUE_LEN: usize = 300;
/// Longest e-mail address (RFC 5321's path limit, less the angle brackets).
pub const MAX_EMAIL_LEN: usize = 254;
/// Longest local part of an e-mail address (RFC 5321).
pub const MAX_LOCAL_LEN: usize = 64;
/// Longest ntfy topic (ntfy's own limit).
pub const MAX_TOPIC_LEN: usize = 64;
/// Longest webhook recipient id.
pub const MAX_RECIPIENT_LEN: usize = 128;
/// Fewest digits of an E.164 number we accept (country code included; the shortest numbers
/// in use, e.g. Niue's, have 7).
pub const MIN_PHONE_DIGITS: usize = 7;
/// Most digits of an E.164 number (ITU-T E.164: 15, country code included).
pub const MAX_PHONE_DIGITS: usize = 15;
/// Shortest FCM registration token we accept (real ones are 140-200 characters).
pub const MIN_FCM_TOKEN_LEN: usize = 32;
/// Longest FCM registration token we accept.
pub const MAX_FCM_TOKEN_LEN: usize = 256;

/// A delivery channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// E-mail, by SMTP or the local MTA.
    Email,
    /// An HTTPS POST to a site's own gateway.
    Webhook,
    /// A push notification through an ntfy server.
    Ntfy,
    /// A text message to a phone number, through the SMS provider the helper is set up for.
    Sms,
    /// A phone call that reads the code out, through the helper's voice provider.
    Voice,
    /// A push notification to an app, through Firebase Cloud Messaging.
    Fcm,
}

impl Channel {
    /// The channel's name, as written before the colon.
    pub fn name(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Webhook => "webhook",
            Channel::Ntfy => "ntfy",
            Channel::Sms => "sms",
            Channel::Voice => "voice",
            Channel::Fcm => "fcm",
        }
    }

    /// Every channel, in the order `pam-otp metrics` and `status` list them.
    pub const ALL: [Channel; 6] = [
        Channel::Email,
        Channel::Webhook,
        Channel::Ntfy,
        Channel::Sms,
        Channel::Voice,
        Channel::Fcm,
    ];

    /// How the user gets a code on this channel, after "get one" in a prompt.
    pub fn by(self) -> &'static str {
        match self {
            Channel::Email => "by e-mail",
            Channel::Ntfy => "by push notification",
            Channel::Webhook => "by message",
            Channel::Sms => "by text message",
            Channel::Voice => "by phone call",
            Channel::Fcm => "in your app",
        }
    }

    /// The channel named `name` (exactly, lower case).
    pub fn from_name(name: &str) -> Option<Channel> {
        match name {
            "email" => Some(Channel::Email),
            "webhook" => Some(Channel::Webhook),
            "ntfy" => Some(Channel::Ntfy),
            "sms" => Some(Channel::Sms),
            "voice" => Some(Channel::Voice),
            "fcm" => Some(Channel::Fcm),
            _ => None,
        }
    }
}

/// Why a `deliver` value was refused. Never quotes the value (it may be someone's address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactError {
    /// Longer than [`MAX_VALUE_LEN`] or the channel's own limit.
    TooLong,
    /// No `CHANNEL:` prefix.
    NoChannel,
    /// A channel name that is not `email`, `webhook`, `ntfy`, `sms`, `voice` or `fcm`.
    UnknownChannel,
    /// Nothing after the colon.
    Empty,
    /// Not an e-mail address we accept (dot-atom local part, host name domain).
    BadEmail,
    /// Not an ntfy topic (letters, digits, `_` and `-`, at most 64).
    BadTopic,
    /// Not a webhook recipient id (letters, digits and `._~+@:-`, at most 128).
    BadRecipient,
    /// Not an E.164 phone number: `+`, a first digit 1-9, 7 to 15 digits in all.
    BadPhone,
    /// A phone number written without its country code (`pam-otp enroll` cannot guess it).
    NoCountryCode,
    /// Not an FCM registration token (letters, digits and `_:-`, 32 to 256 characters).
    BadToken,
    /// More than [`MAX_DELIVERIES`] `deliver` lines.
    TooMany,
    /// The same channel and contact twice.
    Repeated,
}

impl fmt::Display for ContactError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ContactError::TooLong => "the deliver value is too long",
            ContactError::NoChannel => "the deliver value has no CHANNEL: prefix",
            ContactError::UnknownChannel => {
                "unknown delivery channel (email, webhook, ntfy, sms, voice or fcm)"
            }
            ContactError::Empty => "the deliver value names no contact",
            ContactError::BadEmail => "not an e-mail address",
            ContactError::BadTopic => {
                "not an ntfy topic (letters, digits, _ and -, at most 64 characters)"
            }
            ContactError::BadRecipient => {
                "not a webhook recipient (letters, digits and ._~+@:-, at most 128 characters)"
            }
            ContactError::BadPhone => {
                "not a phone number in E.164 form (+, country code, number: 7 to 15 digits)"
            }
            ContactError::NoCountryCode => {
                "the phone number has no country code (write it as +<country code><number>)"
            }
            ContactError::BadToken => {
                "not an FCM registration token (letters, digits and _:-, 32 to 256 characters)"
            }
            ContactError::TooMany => "too many deliver lines",
            ContactError::Repeated => "the same deliver value twice",
        })
    }
}

/// One place a code can be sent.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Contact {
    channel: Channel,
    address: String,
}

// The address is personal data: debug output shows it masked.
impl fmt::Debug for Contact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Contact({}:{})", self.channel.name(), self.masked())
    }
}

impl Contact {
    /// Parses `CHANNEL:CONTACT` (the value of one `deliver` line, already trimmed).
    pub fn parse(value: &str) -> Result<Contact, ContactError> {
        if value.len() > MAX_VALUE_LEN {
            return Err(ContactError::TooLong);
        }
        let (name, address) = value.split_once(':').ok_or(ContactError::NoChannel)?;
        let channel = Channel::from_name(name).ok_or(ContactError::UnknownChannel)?;
        Contact::new(channel, address)
    }

    /// Parses a `CHANNEL:CONTACT` as a person types it to `pam-otp enroll --deliver`: a
    /// phone number may be written with spaces, dashes and the like or with `00` for `+`
    /// ([`normalize_phone`]); everything else as [`Contact::parse`].
    pub fn parse_written(value: &str) -> Result<Contact, ContactError> {
        let value = value.trim();
        match value.split_once(':') {
            Some((name @ ("sms" | "voice"), number)) => {
                let number = normalize_phone(number)?;
                Contact::parse(&format!("{name}:{number}"))
            }
            _ => Contact::parse(value),
        }
    }

    /// A contact on `channel`, checked as [`Contact::parse`] checks it.
    pub fn new(channel: Channel, address: &str) -> Result<Contact, ContactError> {
        if address.is_empty() {
            return Err(ContactError::Empty);
        }
        match channel {
            Channel::Email => check_email(address)?,
            Channel::Ntfy => check_topic(address)?,
            Channel::Webhook => check_recipient(address)?,
            Channel::Sms | Channel::Voice => check_phone(address)?,
            Channel::Fcm => check_fcm_token(address)?,
        }
        Ok(Contact {
            channel,
            address: address.to_owned(),
        })
    }

    /// The channel.
    pub fn channel(&self) -> Channel {
        self.channel
    }

    /// The contact itself (address, topic or recipient id), for the helper only: prompts
    /// and logs show [`Contact::masked`]. A phone number is in strict E.164 form (`+` and
    /// digits).
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The `CHANNEL:CONTACT` spelling, the inverse of [`Contact::parse`].
    pub fn to_value(&self) -> String {
        format!("{}:{}", self.channel.name(), self.address)
    }

    /// The contact as a prompt shows it: enough for its owner to recognise it, too little for
    /// anyone looking over a shoulder or reading a log. `a•••@example.org`,
    /// `ntfy topic al•••`, `webhook al•••`, `SMS to •••67`, `call to •••67`, `app •••`. The
    /// ntfy topic is a password of sorts (whoever knows it can subscribe), so at most its
    /// first three characters are shown; of a phone number, the last two digits (as banks
    /// do); of an app's token, nothing.
    pub fn masked(&self) -> String {
        match self.channel {
            Channel::Email => match self.address.rsplit_once('@') {
                Some((local, domain)) => format!("{}•••@{domain}", first_chars(local, 1)),
                None => "•••".to_owned(),
            },
            Channel::Ntfy => format!("ntfy topic {}•••", visible_prefix(&self.address)),
            Channel::Webhook => format!("webhook {}•••", visible_prefix(&self.address)),
            Channel::Sms => format!("SMS to •••{}", last_two(&self.address)),
            Channel::Voice => format!("call to •••{}", last_two(&self.address)),
            Channel::Fcm => "app •••".to_owned(),
        }
    }
}

/// The last two characters (checked phone numbers are ASCII and longer than two).
fn last_two(text: &str) -> &str {
    text.get(text.len().saturating_sub(2)..).unwrap_or_default()
}

/// A quarter of the text, at least one and at most three characters.
fn visible_prefix(text: &str) -> &str {
    first_chars(text, (text.len() / 4).clamp(1, 3))
}

/// The first `n` characters (all checked contacts are ASCII, but stay on char boundaries).
fn first_chars(text: &str, n: usize) -> &str {
    match text.char_indices().nth(n) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// A dot-atom local part (RFC 5322 atext, no quoted strings), `@`, a host name: labels of
/// letters, digits and inner hyphens, at most 63 each, 253 in all; no address literals.
fn check_email(address: &str) -> Result<(), ContactError> {
    if address.len() > MAX_EMAIL_LEN {
        return Err(ContactError::TooLong);
    }
    let (local, domain) = address.split_once('@').ok_or(ContactError::BadEmail)?;
    let atext = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b);
    let local_ok = !local.is_empty()
        && local.len() <= MAX_LOCAL_LEN
        && local
            .split('.')
            .all(|atom| !atom.is_empty() && atom.bytes().all(atext));
    if !local_ok || !host_name(domain) {
        return Err(ContactError::BadEmail);
    }
    Ok(())
}

fn host_name(domain: &str) -> bool {
    !domain.is_empty()
        && domain.len() <= 253
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn check_topic(topic: &str) -> Result<(), ContactError> {
    let ok = topic.len() <= MAX_TOPIC_LEN
        && topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    ok.then_some(()).ok_or(ContactError::BadTopic)
}

fn check_recipient(id: &str) -> Result<(), ContactError> {
    let ok = id.len() <= MAX_RECIPIENT_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._~+@:-".contains(&b));
    ok.then_some(()).ok_or(ContactError::BadRecipient)
}

/// Strict E.164: `+`, then 7 to 15 digits, the first not 0 (no country code starts with 0).
fn check_phone(number: &str) -> Result<(), ContactError> {
    let digits = number.strip_prefix('+').ok_or(ContactError::BadPhone)?;
    let ok = (MIN_PHONE_DIGITS..=MAX_PHONE_DIGITS).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    ok.then_some(()).ok_or(ContactError::BadPhone)
}

fn check_fcm_token(token: &str) -> Result<(), ContactError> {
    let ok = (MIN_FCM_TOKEN_LEN..=MAX_FCM_TOKEN_LEN).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_:-".contains(&b));
    ok.then_some(()).ok_or(ContactError::BadToken)
}

/// A phone number as people write it, in E.164: spaces, dots, dashes, slashes and
/// parentheses dropped, a leading international prefix `00` read as `+`, then checked
/// strictly. A number without its country code (no `+` or `00`) is refused rather than
/// guessed. For `pam-otp enroll`; the secret file itself holds only the strict form.
pub fn normalize_phone(written: &str) -> Result<String, ContactError> {
    if written.len() > MAX_VALUE_LEN {
        return Err(ContactError::TooLong);
    }
    let mut kept = String::with_capacity(written.len());
    for c in written.trim().chars() {
        match c {
            ' ' | '.' | '-' | '/' | '(' | ')' | '\u{a0}' => {}
            c => kept.push(c),
        }
    }
    let number = if let Some(rest) = kept.strip_prefix("00") {
        format!("+{rest}")
    } else if kept.starts_with('+') {
        kept
    } else if !kept.is_empty() && kept.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ContactError::NoCountryCode);
    } else {
        return Err(ContactError::BadPhone);
    };
    check_phone(&number)?;
    Ok(number)
}

/// The `deliver` lines of one user, in the order written: at most [`MAX_DELIVERIES`], none
/// repeated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deliveries(Vec<Contact>);

impl Deliveries {
    /// No contact.
    pub fn new() -> Deliveries {
        Deliveries(Vec::new())
    }

    /// Adds the value of one more `deliver` line.
    pub fn push_value(&mut self, value: &str) -> Result<(), ContactError> {
        let contact = Contact::parse(value)?;
        self.push(contact)
    }

    /// Adds one more contact.
    pub fn push(&mut self, contact: Contact) -> Result<(), ContactError> {
        if self.0.contains(&contact) {
            return Err(ContactError::Repeated);
        }
        if self.0.len() >= MAX_DELIVERIES {
            return Err(ContactError::TooMany);
        }
        self.0.push(contact);
        Ok(())
    }

    /// The contacts, in the order written (the first is the one a code goes to by default).
    pub fn contacts(&self) -> &[Contact] {
        &self.0
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests;
