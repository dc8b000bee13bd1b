//! Strong sign-in's types (API.graphql's authentication block): an account's factors and
//! a TOTP enrolment's secret, shown once.

use async_graphql::SimpleObject;

#[derive(SimpleObject)]
pub struct MfaStatus {
    pub totp: bool,
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
