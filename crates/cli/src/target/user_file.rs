//! The `deliver` lines of the target's file: kept when the secret is rewritten, and added
//! by `pam-otp enroll --deliver` (pam_otp(5)).

use zeroize::Zeroizing;

use pam_otp_core::oob::contact::{Contact, ContactError, Deliveries};
use pam_otp_core::private_file::Replace;
use pam_otp_core::secret_file::UserFile;

use super::Target;
use crate::error::{fail, Result};

/// What [`Target::add_delivery`] did.
pub enum Added {
    /// A new file holding only `deliver` lines (the user has no TOTP/HOTP secret).
    NewFile,
    /// The line was added to the user's existing file.
    ToExisting,
}

/// `secret_bytes` (a [`pam_otp_core::secret_file::SecretFile`]'s encoding) with the
/// `deliver` lines of `deliveries` in front, in the first block where they belong.
pub fn with_deliveries(deliveries: Option<&Deliveries>, secret_bytes: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(secret_bytes.len() + 400));
    for c in deliveries.map_or(&[][..], |d| d.contacts()) {
        out.extend_from_slice(format!("deliver = {}\n", c.to_value()).as_bytes());
    }
    out.extend_from_slice(secret_bytes);
    out
}

/// `text` with a `deliver = VALUE` line before its first `token` line (the end of its first
/// block), or at its end.
fn insert_line(text: &str, value: &str) -> Zeroizing<String> {
    let line = format!("deliver = {value}\n");
    let mut out = Zeroizing::new(String::with_capacity(text.len() + line.len() + 1));
    let mut placed = false;
    for raw in text.split_inclusive('\n') {
        let t = raw.trim();
        let is_token =
            !t.starts_with('#') && t.split_once('=').is_some_and(|(k, _)| k.trim() == "token");
        if is_token && !placed {
            out.push_str(&line);
            placed = true;
        }
        out.push_str(raw);
    }
    if !placed {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&line);
    }
    out
}

impl Target {
    /// Adds `contact` to the user's file (a new delivery-only file when there is none),
    /// written atomically with the module's checks; the result is parsed as the module will
    /// parse it before anything is written.
    pub fn add_delivery(&self, contact: &Contact) -> Result<Added> {
        let value = contact.to_value();
        let existing = self.read_bytes()?;
        let (bytes, added, replace) = match &existing {
            None => {
                let text = format!(
                    "# pam_otp: one-time codes are sent to the contacts below (pam_otp(5)).\ndeliver = {value}\n"
                );
                (Zeroizing::new(text), Added::NewFile, Replace::Refuse)
            }
            Some(old) => {
                let Ok(text) = std::str::from_utf8(old) else {
                    fail!("{} is not text; nothing was changed.", self.shown());
                };
                (
                    insert_line(text, &value),
                    Added::ToExisting,
                    Replace::Overwrite,
                )
            }
        };
        match UserFile::parse(bytes.as_bytes()) {
            Ok(f) if f.deliveries.contacts().contains(contact) => {}
            Ok(_) => fail!("could not place the deliver line in {}; nothing was changed.", self.shown()),
            Err(pam_otp_core::secret_file::DeliverLineError::Contact {
                why: ContactError::Repeated,
                ..
            }) => fail!(
                "{} already has 'deliver = {value}'; nothing was changed.",
                self.shown()
            ),
            Err(pam_otp_core::secret_file::DeliverLineError::Contact {
                why: ContactError::TooMany,
                ..
            }) => fail!(
                "{} already has {} deliver lines, the most pam_otp reads; remove one first. Nothing was changed.",
                self.shown(),
                pam_otp_core::oob::contact::MAX_DELIVERIES
            ),
            Err(e) => fail!(
                "with the new line, {} would not be a valid pam_otp file ({e}); nothing was changed.",
                self.shown()
            ),
        }
        self.ensure_state()?;
        let owner = self.owner();
        self.as_owner(|| {
            pam_otp_core::private_file::write_private_file(
                &self.path,
                owner,
                bytes.as_bytes(),
                replace,
            )
        })?
        .map_err(|e| self.write_error(e))?;
        Ok(added)
    }
}

#[cfg(test)]
mod tests {
    use super::insert_line;

    #[test]
    fn the_line_goes_at_the_end_of_the_first_block() {
        let s = "secret = ABC\n";
        assert_eq!(
            insert_line(s, "email:a@b.example").as_str(),
            "secret = ABC\ndeliver = email:a@b.example\n"
        );
        assert_eq!(
            insert_line("secret = ABC", "ntfy:t").as_str(),
            "secret = ABC\ndeliver = ntfy:t\n"
        );
        let t = "secret = ABC\n# token = not one\ntoken = spare\nsecret = DEF\n";
        assert_eq!(
            insert_line(t, "ntfy:t").as_str(),
            "secret = ABC\n# token = not one\ndeliver = ntfy:t\ntoken = spare\nsecret = DEF\n"
        );
    }
}
