//! Sending mail through `lettre`: SMTP when `MEDCHAIN_SMTP_URL` is set (`smtp://` with
//! STARTTLS where offered by the URL's rules, `smtps://` for TLS from the start),
//! otherwise `.eml` files in an outbox directory that an operator (or a test) can read.
//! Mail never carries medical content; addresses are not logged, and an SMTP error's
//! text is kept without the address in it (`MailError::redacted`).
//!
//! The outbox holds live reset links, so it is private: the directory 0700, each file
//! 0600 from its creation. Files are written here rather than by lettre's file
//! transport, which creates them with the process's umask and names them by message id
//! alone; here each is named `<recipient's id>-<message id>.eml`, so an erasure can purge
//! the person's mail (`purge`).

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, header::ContentType},
};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use uuid::Uuid;

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
    File(#[source] std::io::Error),
}

impl MailError {
    /// The error's text with every mail address in it replaced, for keeping (an SMTP
    /// server's refusal often quotes the recipient).
    pub fn redacted(&self) -> String {
        self.to_string()
            .split_inclusive(|c: char| c.is_whitespace() || "<>()[],;\"'".contains(c))
            .map(|word| {
                let bare =
                    word.trim_end_matches(|c: char| c.is_whitespace() || "<>()[],;\"'".contains(c));
                if bare.contains('@') {
                    word.replacen(bare, "<address>", 1)
                } else {
                    word.to_owned()
                }
            })
            .collect()
    }
}

#[derive(Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Outbox(PathBuf),
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
                let private = |source| MailError::Outbox {
                    path: outbox.to_owned(),
                    source,
                };
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(outbox)
                    .map_err(private)?;
                // An outbox made by an earlier version may be wider.
                std::fs::set_permissions(outbox, std::fs::Permissions::from_mode(0o700))
                    .map_err(private)?;
                (
                    Transport::Outbox(outbox.to_owned()),
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

    /// Sends to `to`, the address of the person `recipient`.
    pub async fn send(
        &self,
        recipient: Uuid,
        to: &str,
        subject: &str,
        body: String,
    ) -> Result<(), MailError> {
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
            Transport::Outbox(dir) => {
                let path = dir.join(format!("{recipient}-{}.eml", Uuid::new_v4()));
                let bytes = message.formatted();
                tokio::task::spawn_blocking(move || {
                    let mut file = std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .mode(0o600)
                        .open(&path)?;
                    file.write_all(&bytes)?;
                    file.sync_all()
                })
                .await
                .map_err(|e| MailError::File(std::io::Error::other(e)))?
                .map_err(MailError::File)?;
            }
        }
        Ok(())
    }

    /// Removes every message to `recipient` still in the outbox (their erasure). Mail
    /// already handed to an SMTP server is beyond reach; that is said where erasure is.
    pub async fn purge(&self, recipient: Uuid) -> Result<usize, MailError> {
        let Transport::Outbox(dir) = &self.transport else {
            return Ok(0);
        };
        let dir = dir.clone();
        let prefix = format!("{recipient}-");
        tokio::task::spawn_blocking(move || {
            let mut removed = 0;
            for entry in std::fs::read_dir(&dir)? {
                let entry = entry?;
                if entry.file_name().to_string_lossy().starts_with(&prefix) {
                    std::fs::remove_file(entry.path())?;
                    removed += 1;
                }
            }
            Ok(removed)
        })
        .await
        .map_err(|e| MailError::File(std::io::Error::other(e)))?
        .map_err(MailError::File)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_in_an_error_is_redacted() {
        let e = MailError::File(std::io::Error::other(
            "550 5.1.1 <pat.lee@example.org>: Recipient address rejected (bo@x.org)",
        ));
        let kept = e.redacted();
        assert!(!kept.contains('@'), "{kept}");
        assert!(
            kept.contains("<<address>>: Recipient address rejected"),
            "{kept}"
        );
    }

    #[tokio::test]
    async fn the_outbox_is_private_and_a_person_s_mail_can_be_purged() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = dir.path().join("outbox");
        let mailer = Mailer::new(None, &outbox, "MedChain <m@localhost>", "http://x").unwrap();
        let (pat, bo) = (Uuid::new_v4(), Uuid::new_v4());
        mailer
            .send(pat, "pat@example.org", "Hi", "one".into())
            .await
            .unwrap();
        mailer
            .send(pat, "pat@example.org", "Hi", "two".into())
            .await
            .unwrap();
        mailer
            .send(bo, "bo@example.org", "Hi", "three".into())
            .await
            .unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&outbox), 0o700);
        for entry in std::fs::read_dir(&outbox).unwrap() {
            assert_eq!(mode(&entry.unwrap().path()), 0o600);
        }
        assert_eq!(mailer.purge(pat).await.unwrap(), 2);
        let left: Vec<_> = std::fs::read_dir(&outbox).unwrap().collect();
        assert_eq!(left.len(), 1);
    }
}
