//! What happens to an account, as the ledger records it: the `user` stream's event types
//! and their payloads.
//!
//! The payload is each event struct's serde JSON (lower camelCase, no floats, times as
//! `Timestamp` text); the type name is kept beside it in the ledger row, not in the
//! payload, so the enum is mapped by hand (`event_type`, `payload`, `from_stored`)
//! rather than by a serde tag. Personal fields are `Sealed` (DESIGN.md §4). Reading
//! tolerates fields it does not know, so an older binary can still fold a newer stream.

use crate::ErasureBasis;
use crate::account::{AccountStatus, Role};
use crate::{Sealed, Timestamp};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// How the account was created: through the API (anyone) or by `medchain admin create`
/// (an operator at the machine).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Registration {
    Api,
    Cli,
}

/// Why a sign-in failed in a way worth recording. Only wrong passwords are: refusals
/// while rate-limited are not, so an attacker cannot flood the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LoginFailure {
    WrongPassword,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRegistered {
    pub role: Role,
    pub status: AccountStatus,
    pub name: Sealed,
    pub email: Sealed,
    pub phone: Option<Sealed>,
    /// The Argon2id PHC string, sealed too, so erasing the person erases it.
    pub password_hash: Sealed,
    pub via: Registration,
}

/// The second factor a sign-in (or a step-up) was made with, as the ledger records it:
/// what the state needs to refuse the same code again. Nothing secret: a TOTP time step
/// and the position of a recovery code in its list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FactorUsed {
    /// A TOTP code of this time step (RFC 6238: seconds since the epoch / 30).
    TotpStep(u64),
    /// The recovery code at this position of the list issued last.
    RecoveryCode(u8),
    /// A passkey, with the signature counter its authenticator reported (0 when it
    /// keeps none) and when.
    Passkey {
        passkey: Uuid,
        counter: u32,
        #[serde(with = "crate::timestamp::text")]
        at: Timestamp,
    },
}

/// How a session was made (API.graphql `SessionInfo.method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignInMethod {
    Password,
    PasswordTotp,
    PasswordRecoveryCode,
    Passkey,
}

impl SignInMethod {
    pub fn of(factor: Option<FactorUsed>) -> Self {
        match factor {
            None => SignInMethod::Password,
            Some(FactorUsed::TotpStep(_)) => SignInMethod::PasswordTotp,
            Some(FactorUsed::RecoveryCode(_)) => SignInMethod::PasswordRecoveryCode,
            Some(FactorUsed::Passkey { .. }) => SignInMethod::Passkey,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SignInMethod::Password => "password",
            SignInMethod::PasswordTotp => "password+totp",
            SignInMethod::PasswordRecoveryCode => "password+recovery-code",
            SignInMethod::Passkey => "passkey",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginSucceeded {
    pub session: Uuid,
    #[serde(with = "crate::timestamp::text")]
    pub expires_at: Timestamp,
    /// Absent for a password alone (and in every sign-in recorded before factors were).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor: Option<FactorUsed>,
}

/// A second factor made for the person: a TOTP secret (20 random bytes) and ten
/// recovery codes, each kept as a keyed hash, sealed under the person's subject key so
/// that erasing them erases these too. `step` is that of the code that confirmed it, so
/// the same code cannot sign in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TotpEnrolled {
    pub secret: Sealed,
    pub recovery_codes: Sealed,
    pub step: u64,
}

/// The person turned TOTP off (with a code); their recovery codes go with it, and so do
/// their sessions but the one they did it from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TotpDisabled {
    pub factor: FactorUsed,
    pub kept_session: Uuid,
}

/// A new list of recovery codes replaces the old (with a code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryCodesRegenerated {
    pub recovery_codes: Sealed,
    pub factor: FactorUsed,
}

/// A wrong or reused second-factor code, after the right password (so someone knows
/// it). `locked` when this one reached the limit: the person is told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecondFactorFailed {
    #[serde(with = "crate::timestamp::text")]
    pub at: Timestamp,
    pub locked: bool,
}

/// A passkey made for the person (WebAuthn, user verification required): its name and
/// its credential (the authenticator's credential id and public key, as `webauthn-rs`
/// keeps them) sealed under the person's key; `credential_hash`, the SHA-256 of the
/// credential id, finds it at sign-in without opening the others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyRegistered {
    pub passkey: Uuid,
    pub name: Sealed,
    pub credential: Sealed,
    pub credential_hash: String,
    #[serde(with = "crate::timestamp::text")]
    pub at: Timestamp,
}

/// A passkey removed; the person's other sessions end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyRemoved {
    pub passkey: Uuid,
    pub kept_session: Uuid,
}

/// A patient's data left in an export (DESIGN.md §12): who took it (the patient, or a
/// proxy under `proxy`, their grant), and the records whose content it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataExported {
    pub by: crate::account::UserId,
    pub proxy: Option<Uuid>,
    pub records: Vec<crate::record::RecordId>,
}

/// A read token minted for an app (DESIGN.md §12): its name sealed under the person's
/// key; the secret is not on the ledger, nor its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadTokenCreated {
    pub token: Uuid,
    pub name: Sealed,
    #[serde(with = "crate::timestamp::text")]
    pub expires_at: Timestamp,
    #[serde(with = "crate::timestamp::text")]
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadTokenRevoked {
    pub token: Uuid,
}

/// An administrator took away the person's second factors (they lost them all), with a
/// reason sealed under the person's key; their sessions end and they are told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MfaReset {
    pub reason: Sealed,
}

/// A session proved its person again (password, and a code when they have TOTP): it may
/// change factors for the next few minutes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reauthenticated {
    pub session: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor: Option<FactorUsed>,
}

/// `at` is the `now` the decision was made with: the rate limit is a fold over payloads,
/// so it must not depend on the appender's clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginFailed {
    pub reason: LoginFailure,
    #[serde(with = "crate::timestamp::text")]
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoggedOut {
    pub session: Uuid,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRevoked {
    pub session: Uuid,
}

/// Closes every session but `kept_session` (the one that made the change, if any).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasswordChanged {
    pub password_hash: Sealed,
    pub kept_session: Option<Uuid>,
}

/// An administrator let a pending account in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserApproved {}

/// An administrator turned a pending account away. The reason is about the person, so it
/// is sealed under their key (field `rejectionReason`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRejected {
    pub reason: Sealed,
}

/// An administrator shut an account: every session of it ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserSuspended {
    /// Sealed under the person's key (field `suspensionReason`).
    pub reason: Sealed,
}

/// The user asks for a new name and/or phone; it waits for an administrator. Sealed
/// under the user's key with the field names of the profile (`name`, `phone`), so an
/// approved value is the profile's value as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileChangeRequested {
    pub change: Uuid,
    pub name: Option<Sealed>,
    pub phone: Option<Sealed>,
}

/// An administrator's answer to a profile change; a rejection says why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileChangeDecided {
    pub change: Uuid,
    pub approved: bool,
    /// Sealed under the person's key (field `profileChangeReason`).
    pub reason: Option<Sealed>,
}

/// An administrator erased the person (crypto-shredding): their subject key is
/// destroyed, so every field sealed under it becomes unreadable; the event records who
/// (the actor) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserErased {
    /// Why, in a word that names no one; kept in clear.
    pub basis: ErasureBasis,
    /// The free text, sealed under the person's key (field `erasureReason`): it dies
    /// with them.
    pub reason: Sealed,
}

/// Someone asked for a reset link for this account (the token itself is never on the
/// ledger).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasswordResetRequested {}

/// The password was set again through a reset link: every session ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasswordReset {
    pub password_hash: Sealed,
}

/// A new profile photo: the blob holds it sealed under the user's key; the ledger commits
/// to that ciphertext by its SHA-256 (hex) and size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfilePhotoChanged {
    pub sha256: String,
    pub size: i64,
}

/// The person changed how they are notified, for the kinds named (the others keep their
/// setting or the default).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationPreferencesSet {
    pub preferences: Vec<crate::notification::Preference>,
}

/// The person marked notifications read: those named, or every one up to a seq.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationsRead {
    pub ids: Option<Vec<uuid::Uuid>>,
    pub up_to_seq: Option<i64>,
}

crate::domain_events! {
    pub enum UserEvent {
        UserRegistered,
        LoginSucceeded,
        LoginFailed,
        LoggedOut,
        SessionRevoked,
        PasswordChanged,
        UserApproved,
        UserRejected,
        UserSuspended,
        ProfileChangeRequested,
        ProfileChangeDecided,
        UserErased,
        PasswordResetRequested,
        PasswordReset,
        ProfilePhotoChanged,
        NotificationPreferencesSet,
        NotificationsRead,
        TotpEnrolled,
        TotpDisabled,
        RecoveryCodesRegenerated,
        SecondFactorFailed,
        Reauthenticated,
        MfaReset,
        PasskeyRegistered,
        PasskeyRemoved,
        ReadTokenCreated,
        ReadTokenRevoked,
        DataExported,
    }
}

pub use crate::domain_event::UnknownEvent;

#[cfg(test)]
mod tests {
    use super::super::given::{at, registered, sealed, session};
    use super::*;
    use crate::ledger::CanonicalPayload;
    use crate::samples;
    use serde_json::Value;
    use serde_json::json;

    /// The samples' user events (every type), with the shapes their story has no place for.
    fn every_shape() -> Vec<UserEvent> {
        let mut all = samples::user_events();
        all.push(
            PasswordChanged {
                password_hash: sealed("hash3"),
                kept_session: None,
            }
            .into(),
        );
        all
    }

    fn doctor_registered() -> UserRegistered {
        match registered(Role::Doctor) {
            UserEvent::UserRegistered(e) => e,
            _ => unreachable!("`registered` makes a registration"),
        }
    }

    #[test]
    fn every_event_round_trips_through_its_payload() {
        let events = every_shape();
        let mut types: Vec<_> = events.iter().map(UserEvent::event_type).collect();
        types.sort_unstable();
        types.dedup();
        let mut declared = UserEvent::TYPES.to_vec();
        declared.sort_unstable();
        assert_eq!(types, declared);
        for event in events {
            let payload = event.payload();
            assert!(CanonicalPayload::from_value(&payload).is_ok(), "{payload}");
            assert_eq!(
                UserEvent::from_stored(event.event_type(), &payload),
                Ok(event)
            );
        }
    }

    #[test]
    fn payloads_are_camel_case_with_times_as_text() {
        let registered = UserEvent::from(UserRegistered {
            phone: Some(sealed("phone")),
            ..doctor_registered()
        });
        assert_eq!(
            registered.payload(),
            json!({
                "role": "DOCTOR",
                "status": "PENDING",
                "name": sealed("name").as_str(),
                "email": sealed("email").as_str(),
                "phone": sealed("phone").as_str(),
                "passwordHash": sealed("hash").as_str(),
                "via": "API",
            })
        );
        let failed = UserEvent::from(LoginFailed {
            reason: LoginFailure::WrongPassword,
            at: crate::Timestamp::parse("2026-11-24T10:15:30.123456Z").unwrap(),
        });
        assert_eq!(
            failed.payload(),
            json!({"reason": "WRONG_PASSWORD", "at": "2026-11-24T10:15:30.123456Z"})
        );
        let changed = UserEvent::from(PasswordChanged {
            password_hash: sealed("hash"),
            kept_session: None,
        });
        assert_eq!(changed.payload()["keptSession"], Value::Null);
        let opened = UserEvent::from(LoginSucceeded {
            session: session(1),
            expires_at: at(720),
            factor: None,
        });
        assert_eq!(
            opened.payload()["session"],
            json!(session(1).hyphenated().to_string())
        );
    }

    #[test]
    fn refuses_unknown_types_and_wrong_shapes() {
        assert_eq!(
            UserEvent::from_stored("RecordShared", &json!({})),
            Err(UnknownEvent::Type("RecordShared".into()))
        );
        let bad_session = json!({"session": "not a uuid"});
        assert!(matches!(
            UserEvent::from_stored("LoggedOut", &bad_session),
            Err(UnknownEvent::Payload {
                event_type: "LoggedOut",
                ..
            })
        ));
        let numeric_time = json!({"reason": "WRONG_PASSWORD", "at": 1_795_000_000});
        assert!(UserEvent::from_stored("LoginFailed", &numeric_time).is_err());
        let clear_name = registered(Role::Doctor).payload();
        let mut clear_name = clear_name.as_object().unwrap().clone();
        clear_name.insert("name".into(), json!("Alice Example"));
        assert!(UserEvent::from_stored("UserRegistered", &Value::Object(clear_name)).is_err());
    }

    #[test]
    fn a_missing_phone_reads_as_none() {
        let mut payload = registered(Role::Admin).payload();
        payload.as_object_mut().unwrap().remove("phone");
        let UserEvent::UserRegistered(e) =
            UserEvent::from_stored("UserRegistered", &payload).unwrap()
        else {
            panic!("not a registration");
        };
        assert_eq!(e.phone, None);
    }
}
