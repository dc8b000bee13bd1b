//! The TOTP factor's primitives (DESIGN.md §10): RFC 6238 through `totp-rs` (SHA-1, six
//! digits, 30 s, one step either side), the `otpauth://` URI an authenticator app reads,
//! its QR code as SVG through `qrcode`, and the recovery codes. Which step is spent, and
//! what a wrong code costs, is the domain's (`domain::account::user::factors`).

use rand::{Rng as _, RngCore as _, rngs::OsRng};
use sha2::{Digest as _, Sha256};
use std::fmt;
use totp_rs::{Algorithm, Builder, Totp};

/// What the app shows beside the account.
const ISSUER: &str = "MedChain";
const SECRET_BYTES: usize = 20;
/// Recovery codes: ten letters and digits from an alphabet without look-alikes (no 0/O,
/// 1/I/L), almost 5 bits each: 49 bits, in two groups of five.
const CODE_ALPHABET: &[u8; 31] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
const CODE_CHARS: usize = 10;

/// A TOTP secret: 20 random bytes. `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret([u8; SECRET_BYTES]);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(..)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TotpError {
    #[error("a TOTP secret is {SECRET_BYTES} bytes")]
    Length,
    #[error("the TOTP parameters were refused: {0}")]
    Totp(String),
    #[error("the QR code could not be made: {0}")]
    Qr(String),
}

impl TotpSecret {
    pub fn generate() -> Self {
        let mut bytes = [0; SECRET_BYTES];
        OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TotpError> {
        Ok(Self(bytes.try_into().map_err(|_| TotpError::Length)?))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// From the base32 an app is given (`base32`).
    pub fn from_base32(text: &str) -> Result<Self, TotpError> {
        let secret =
            totp_rs::Secret::try_from_base32(text.trim()).map_err(|_| TotpError::Length)?;
        Self::from_bytes(secret.as_ref())
    }

    fn totp(&self, account: &str) -> Result<Totp, TotpError> {
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(6)
            .with_skew(1)
            .with_step_duration(30)
            .with_secret(self.0.to_vec())
            .with_issuer(Some(ISSUER))
            // The label may not hold ':' (RFC); an e-mail address never does.
            .with_account_name(account.replace(':', ""))
            .build()
            .map_err(|e| TotpError::Totp(e.to_string()))
    }

    /// The secret as an app takes it typed in: base32, no padding.
    pub fn base32(&self) -> Result<String, TotpError> {
        Ok(self.totp("x")?.secret().to_base32())
    }

    /// `otpauth://totp/MedChain:<account>?secret=…&issuer=MedChain`.
    pub fn uri(&self, account: &str) -> Result<String, TotpError> {
        self.totp(account)?
            .to_url()
            .map_err(|e| TotpError::Totp(e.to_string()))
    }

    /// The time step (seconds since the epoch / 30) whose code `code` is, within one
    /// step of `unix_seconds`; `None` when it is none of the three.
    pub fn step_of(&self, code: &str, unix_seconds: u64) -> Option<u64> {
        self.totp("x").ok()?.check(code.trim(), unix_seconds)
    }

    /// The code of the step that holds `unix_seconds` (what an app shows then).
    pub fn code_at(&self, unix_seconds: u64) -> String {
        self.totp("x")
            .map(|t| t.generate(unix_seconds).to_string())
            .unwrap_or_default()
    }
}

/// The QR code of `text` as an SVG document (without the XML prolog, so it can be
/// inlined in a page).
pub fn qr_svg(text: &str) -> Result<String, TotpError> {
    let code = qrcode::QrCode::new(text.as_bytes()).map_err(|e| TotpError::Qr(e.to_string()))?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build();
    Ok(match svg.find("<svg") {
        Some(start) => svg[start..].to_owned(),
        None => svg,
    })
}

/// A list of fresh recovery codes, as shown to the person once ("ABCDE-FGHJK").
pub fn new_recovery_codes(count: usize) -> Vec<String> {
    let mut rng = OsRng;
    (0..count)
        .map(|_| {
            let chars: String = (0..CODE_CHARS)
                .map(|_| char::from(CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())]))
                .collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect()
}

/// What is kept of a recovery code: the SHA-256 of its normalised form, hex. (Fifty
/// random bits a code, and the list is sealed under the person's subject key besides:
/// a slow hash would add nothing but time at sign-in.)
pub fn recovery_code_hash(code: &str) -> String {
    hex::encode(Sha256::digest(normalise(code).as_bytes()))
}

/// Upper case, without spaces or dashes: how a code read aloud or typed comes back.
fn normalise(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Whether `typed` looks like a TOTP code (six digits) rather than a recovery code.
pub fn is_totp_code(typed: &str) -> bool {
    let typed = typed.trim();
    typed.len() == 6 && typed.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1, with the RFC's 20-byte secret ("12345678901234567890"),
    /// the last six digits of each eight-digit value.
    #[test]
    fn codes_are_rfc_6238() {
        let secret = TotpSecret::from_bytes(b"12345678901234567890").unwrap();
        for (time, code) in [
            (59, "287082"),
            (1111111109, "081804"),
            (1111111111, "050471"),
            (1234567890, "005924"),
            (2000000000, "279037"),
        ] {
            assert_eq!(secret.code_at(time), code, "at {time}");
            assert_eq!(secret.step_of(code, time), Some(time / 30));
        }
    }

    #[test]
    fn a_code_holds_one_step_either_side_and_no_more() {
        let secret = TotpSecret::generate();
        let now = 1_800_000_000;
        let code = secret.code_at(now);
        assert_eq!(secret.step_of(&code, now + 30), Some(now / 30));
        assert_eq!(secret.step_of(&code, now - 30), Some(now / 30));
        assert_eq!(secret.step_of(&code, now + 90), None);
        assert_eq!(secret.step_of("12345", now), None);
    }

    #[test]
    fn the_uri_and_the_qr_code_name_the_account() {
        let secret = TotpSecret::from_bytes(&[7; 20]).unwrap();
        let uri = secret.uri("pat@example.org").unwrap();
        assert!(
            uri.starts_with("otpauth://totp/MedChain:pat%40example.org?"),
            "{uri}"
        );
        let base32 = secret.base32().unwrap();
        assert!(uri.contains(&format!("secret={base32}")));
        assert_eq!(TotpSecret::from_base32(&base32).unwrap(), secret);
        let svg = qr_svg(&uri).unwrap();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(!format!("{secret:?}").contains('7'));
    }

    #[test]
    fn recovery_codes_are_distinct_and_compare_loosely() {
        let codes = new_recovery_codes(10);
        assert_eq!(codes.len(), 10);
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 10);
        let code = &codes[0];
        assert_eq!(code.len(), 11);
        let typed = code.to_lowercase().replace('-', " ");
        assert_eq!(recovery_code_hash(&typed), recovery_code_hash(code));
        assert!(!is_totp_code(code));
        assert!(is_totp_code(" 123456 "));
    }
}
