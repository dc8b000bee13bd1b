//! Strong sign-in's types (API.graphql's authentication block): an account's factors and
//! a TOTP enrolment's secret, shown once.

use crate::scalars::DateTime;
use async_graphql::SimpleObject;
use uuid::Uuid;

#[derive(SimpleObject)]
pub struct MfaStatus {
    pub totp: bool,
    pub passkeys: Vec<Passkey>,
    pub recovery_codes_left: i32,
    /// This account's role must have a second factor (`MEDCHAIN_MFA_REQUIRED`).
    pub required: bool,
}

#[derive(SimpleObject)]
pub struct TotpEnrollment {
    /// Base32, for typing into an app.
    pub secret: String,
    pub otpauth_uri: String,
    /// The URI's QR code, an SVG document.
    pub qr_svg: String,
}

#[derive(SimpleObject)]
pub struct Passkey {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime,
    pub last_used_at: Option<DateTime>,
}

impl From<commands::accounts::passkeys::PasskeyInfo> for Passkey {
    fn from(p: commands::accounts::passkeys::PasskeyInfo) -> Self {
        Self {
            id: p.id,
            name: p.name,
            created_at: DateTime(p.created_at),
            last_used_at: p.last_used_at.map(DateTime),
        }
    }
}

/// A WebAuthn ceremony begun: `options` are the PublicKeyCredential{Creation,Request}
/// Options (Level 3 JSON) for `navigator.credentials`.
#[derive(SimpleObject)]
#[graphql(name = "WebAuthnChallenge")]
pub struct WebAuthnChallenge {
    pub challenge_id: Uuid,
    pub options: crate::scalars::JsonValue,
}

impl From<commands::accounts::passkeys::Challenge> for WebAuthnChallenge {
    fn from(c: commands::accounts::passkeys::Challenge) -> Self {
        Self {
            challenge_id: c.id,
            options: crate::scalars::JsonValue(c.options),
        }
    }
}
