//! Sending mail through `lettre`: SMTP when `MEDCHAIN_SMTP_URL` is set (`smtp://` with
//! STARTTLS where offered by the URL's rules, `smtps://` for TLS from the start),
//! otherwise `.eml` files in an outbox directory that an operator (or a test) can read.
//! Mail never carries medical content; addresses are not logged.

use lettre::{
    AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, header::ContentType},
};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("MEDCHAIN_SMTP_URL is not a usable SMTP URL: {0}")]
    BadUrl(#[source] lettre::transport::smtp::Error),
    #[error("MEDCHAIN_MAIL_FROM is not a mail address: {0}")]
    BadFrom(#[source] lettre::address::AddressError),
    #[error("cannot create the outbox {path}: {source}")]
    Outbox {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the message cannot be built: {0}")]
    Build(#[from] lettre::error::Error),
    #[error("the address is not a mail address")]
    BadRecipient(#[from] lettre::address::AddressError),
    #[error("SMTP: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error("outbox: {0}")]
    File(#[from] lettre::transport::file::Error),
}

#[derive(Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Outbox(AsyncFileTransport<Tokio1Executor>),
}

/// Where mail goes, who it is from, and the app's public URL for links.
#[derive(Clone)]
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    public_url: String,
    /// Where mail goes, for the operator: the SMTP host or the outbox path (no
    /// credentials).
    pub destination: String,
}

impl Mailer {
    /// `smtp_url`: `None` writes `.eml` files into `outbox`.
    pub fn new(
        smtp_url: Option<&str>,
        outbox: &Path,
        from: &str,
        public_url: &str,
    ) -> Result<Self, MailError> {
        let from: Mailbox = from.parse().map_err(MailError::BadFrom)?;
        let (transport, destination) = match smtp_url {
            Some(url) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(MailError::BadUrl)?
                    .build();
                let host = url
                    .split_once("://")
                    .map(|(_, rest)| rest.rsplit('@').next().unwrap_or(rest))
                    .unwrap_or(url);
                (Transport::Smtp(transport), format!("SMTP server {host}"))
            }
            None => {
                std::fs::create_dir_all(outbox).map_err(|source| MailError::Outbox {
                    path: outbox.to_owned(),
                    source,
                })?;
                (
                    Transport::Outbox(AsyncFileTransport::new(outbox)),
                    format!(".eml files in {}", outbox.display()),
                )
            }
        };
        Ok(Self {
            transport,
            from,
            public_url: public_url.trim_end_matches('/').to_owned(),
            destination,
        })
    }

    /// A link into the app: `<public-url><path>`.
    pub fn link(&self, path: &str) -> String {
        format!("{}{path}", self.public_url)
    }

    pub async fn send(&self, to: &str, subject: &str, body: String) -> Result<(), MailError> {
        let message = Message::builder()
            .from(self.from.clone())
            .to(to.parse::<Mailbox>()?)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)?;
        match &self.transport {
            Transport::Smtp(t) => {
                t.send(message).await?;
            }
            Transport::Outbox(t) => {
                t.send(message).await?;
            }
        }
        Ok(())
    }
}
