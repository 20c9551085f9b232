//! The e-mail channel, through lettre: SMTP with STARTTLS (required, never opportunistic)
//! or implicit TLS and optional AUTH, over rustls (ring); or the local MTA's sendmail
//! interface (the message on its stdin, never the code in its arguments).

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{Message, SendmailTransport, SmtpTransport, Transport};

use crate::config::{Config, EmailTransport};
use crate::{message, Failure, Job};

fn build(config: &Config, job: &Job) -> Result<Message, Failure> {
    let from: Mailbox = config
        .email_from
        .as_deref()
        .unwrap_or_default()
        .parse()
        .map_err(|_| Failure::config("email_from is not an address"))?;
    let to: Mailbox = job
        .contact
        .address()
        .parse()
        .map_err(|_| Failure::new(pam_otp_core::oob::exit::BAD_CONTACT, "not an address"))?;
    Message::builder()
        .from(from)
        .to(to)
        .subject(message::title(job))
        .header(ContentType::TEXT_PLAIN)
        .body(message::text(job))
        .map_err(|_| {
            Failure::new(
                pam_otp_core::oob::exit::SOFTWARE,
                "cannot build the message",
            )
        })
}

fn tls(config: &Config, host: &str) -> Result<TlsParameters, Failure> {
    let mut builder = TlsParameters::builder(host.to_owned());
    if let Some(path) = &config.ca_file {
        let pem =
            std::fs::read(path).map_err(|e| Failure::config(format!("ca_file: {}", e.kind())))?;
        let cert =
            Certificate::from_pem(&pem).map_err(|_| Failure::config("ca_file is not PEM"))?;
        builder = builder
            .certificate_store(CertificateStore::None)
            .add_root_certificate(cert);
    } else {
        builder = builder.certificate_store(CertificateStore::WebpkiRoots);
    }
    builder
        .build_rustls()
        .map_err(|_| Failure::config("cannot set up TLS"))
}

pub fn send(config: &Config, job: &Job) -> Result<(), Failure> {
    let Some(transport) = &config.email else {
        return Err(Failure::config("no email_transport in the configuration"));
    };
    let message = build(config, job)?;
    match transport {
        EmailTransport::Smtp {
            host,
            port,
            implicit_tls,
            user,
            password,
        } => {
            let params = tls(config, host)?;
            let mode = if *implicit_tls {
                Tls::Wrapper(params)
            } else {
                Tls::Required(params)
            };
            let mut builder = SmtpTransport::builder_dangerous(host.as_str())
                .port(*port)
                .tls(mode)
                .timeout(Some(config.timeout));
            if let (Some(u), Some(p)) = (user, password) {
                builder = builder.credentials(Credentials::new(u.clone(), p.as_str().to_owned()));
            }
            builder.build().send(&message).map(|_| ()).map_err(|e| {
                if e.is_permanent() || e.is_transient() {
                    Failure::refused(format!(
                        "the mail server refused the message{}",
                        e.status().map(|c| format!(" ({c})")).unwrap_or_default()
                    ))
                } else if e.is_timeout() {
                    Failure::unreachable("the mail server timed out")
                } else if e.is_tls() {
                    Failure::unreachable("TLS with the mail server failed")
                } else {
                    Failure::unreachable("cannot reach the mail server")
                }
            })
        }
        EmailTransport::Sendmail { path } => {
            // lettre reports a sendmail it cannot start and one that exits non-zero alike;
            // a missing or non-executable program is a configuration error, said apart here.
            use std::os::unix::fs::PermissionsExt;
            let runnable = std::fs::metadata(path)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
            if !runnable {
                return Err(Failure::config("sendmail_path is not an executable file"));
            }
            SendmailTransport::new_with_command(path)
                .send(&message)
                .map_err(|_| Failure::refused("sendmail refused the message"))
        }
    }
}
