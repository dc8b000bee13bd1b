//! The people, ids, times and fields the samples and the domain's own stories share: who
//! acts (a patient, a doctor, an administrator, and one more of the first two), the record
//! and its shares, the stories' clock, and the events most stories begin with.

use crate::account::user::{Registration, UserEvent, UserRegistered};
use crate::account::{AccountStatus, Role, UserId};
use crate::record::{RecordErased, RecordEvent, RecordId, RecordShared, RecordUploaded, ShareId};
use crate::sealed::SEALED_PREFIX;
use crate::{Sealed, Timestamp};
use uuid::Uuid;

pub const PATIENT: UserId = UserId::from_uuid(Uuid::from_u128(0xa1));
pub const OTHER_PATIENT: UserId = UserId::from_uuid(Uuid::from_u128(0xa2));
pub const DOCTOR: UserId = UserId::from_uuid(Uuid::from_u128(0xd1));
pub const OTHER_DOCTOR: UserId = UserId::from_uuid(Uuid::from_u128(0xd2));
/// A second active doctor: the one a record is referred to, who also opens emergency
/// access.
pub const SPECIALIST: UserId = UserId::from_uuid(Uuid::from_u128(0xd3));
pub const ADMIN: UserId = UserId::from_uuid(Uuid::from_u128(0xad));
pub const OTHER_ADMIN: UserId = UserId::from_uuid(Uuid::from_u128(0xae));
pub const RECORD: RecordId = RecordId::from_uuid(Uuid::from_u128(0x5ec0_0001));
pub const SHARE: ShareId = ShareId::from_uuid(Uuid::from_u128(0x5a1));
pub const OTHER_SHARE: ShareId = ShareId::from_uuid(Uuid::from_u128(0x5a2));

/// 2026-11-24T10:00:00Z: the stories' time zero.
const ZERO_MICROS: i64 = 1_795_514_400_000_000;

/// `minutes` after the stories' time zero.
pub fn at(minutes: i64) -> Timestamp {
    Timestamp::from_micros(ZERO_MICROS + minutes * 60_000_000)
}

/// A well-formed sealed field standing for `label`'s ciphertext.
pub fn sealed(label: &str) -> Sealed {
    // Any label will do: what base64url cannot spell becomes '-'.
    let body: String = format!("{label:A<40}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    Sealed::parse(&format!("{SEALED_PREFIX}{body}")).expect("a base64url label")
}

/// The session (or profile change) numbered `n`.
pub fn session(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

/// The registration `register` makes for `role` through the API (admins: the CLI).
pub fn registered(role: Role) -> UserEvent {
    UserRegistered {
        role,
        status: match role {
            Role::Doctor => AccountStatus::Pending,
            Role::Patient | Role::Admin => AccountStatus::Active,
        },
        name: sealed("name"),
        email: sealed("email"),
        phone: None,
        password_hash: sealed("hash"),
        via: match role {
            Role::Admin => Registration::Cli,
            Role::Patient | Role::Doctor => Registration::Api,
        },
    }
    .into()
}

/// `registered` with its status replaced, for accounts an administrator has acted on.
pub fn registered_with(role: Role, status: AccountStatus) -> UserEvent {
    match registered(role) {
        UserEvent::UserRegistered(e) => UserRegistered { status, ..e }.into(),
        _ => unreachable!("`registered` makes a registration"),
    }
}

/// `PATIENT` stores a PDF as `RECORD`.
pub fn uploaded() -> RecordEvent {
    RecordUploaded {
        owner: PATIENT,
        author: None,
        sha256: "cd".repeat(32),
        size: 1_000,
        stored_size: 1_048,
        content_type: "application/pdf".into(),
        title: sealed("title"),
        description: None,
        file_name: sealed("file"),
    }
    .into()
}

/// `doctor` given `share`, until `expires` minutes (or until revoked).
pub fn shared(share: ShareId, doctor: UserId, expires: Option<i64>) -> RecordEvent {
    RecordShared {
        share,
        doctor,
        expires_at: expires.map(at),
        referral: None,
    }
    .into()
}

pub fn erased() -> RecordEvent {
    RecordErased {
        basis: crate::ErasureBasis::Duplicate,
        reason: sealed("uploaded by mistake"),
    }
    .into()
}
