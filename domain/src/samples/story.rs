//! The samples' story, in ledger order: an administrator, two patients and two doctors
//! register; one doctor is approved, the other turned away; a patient signs in, sets a
//! photo, asks for a profile change, uploads a record and shares it with the doctor, who
//! reads it; the share is revoked, a second one runs out; the doctor tries a second
//! factor (TOTP) and turns it off again; a specialist opens emergency access and reads
//! the record, the doctor refers it to them and the patient approves, an emergency
//! access expires and one is reviewed; the record is erased, the
//! other patient suspended and erased. Every event type of every aggregate happens at
//! least once; some more than once, where the story needs it (five people register; a
//! share cannot be both revoked and expired, so there are two).

use super::cast::{
    ADMIN, DOCTOR, OTHER_ADMIN, OTHER_DOCTOR, OTHER_PATIENT, OTHER_SHARE, PATIENT, RECORD, SHARE,
    SPECIALIST, at, erased, registered, sealed, shared, uploaded,
};
use super::{Event, Sample};
use crate::account::user::{
    DataExported, FactorUsed, LoggedOut, LoginFailed, LoginFailure, LoginSucceeded, MfaReset,
    NotificationPreferencesSet, NotificationsRead, PasskeyRegistered, PasskeyRemoved,
    PasswordChanged, PasswordReset, PasswordResetRequested, ProfileChangeDecided,
    ProfileChangeRequested, ProfilePhotoChanged, ReadTokenCreated, ReadTokenRevoked,
    Reauthenticated, RecoveryCodesRegenerated, SecondFactorFailed, SessionRevoked, TotpDisabled,
    TotpEnrolled, UserApproved, UserErased, UserEvent, UserRegistered, UserRejected, UserSuspended,
};
use crate::account::{Role, UserId};
use crate::emergency::{
    EmergencyAccessClosed, EmergencyAccessExpired, EmergencyAccessOpened, EmergencyAccessReviewed,
    EmergencyEvent, EmergencyId,
};
use crate::erasure::{
    ErasureCompleted, ErasureSubject, KeyEpochRetired, LegalHoldLifted, LegalHoldPlaced,
};
use crate::link::{
    LinkId, ShareLinkCreated, ShareLinkOpened, ShareLinkPasscodeRefused, ShareLinkRevoked,
};
use crate::notification::{NotificationKind, Preference};
use crate::record::{
    DenialReason, ReadAction, RecordAccessDenied, RecordAccessed, RecordEvent, RecordShared,
    ReferralDecided, ReferralId, ReferralRequested, ShareExpired, ShareExpiring, ShareId,
    ShareRevoked,
};
use uuid::Uuid;

/// The profile change the patient asks for.
pub const CHANGE: uuid::Uuid = uuid::Uuid::from_u128(0xc4a9);
/// The patient's session, and the doctor's.
pub const PATIENT_SESSION: uuid::Uuid = uuid::Uuid::from_u128(1);
pub const DOCTOR_SESSION: uuid::Uuid = uuid::Uuid::from_u128(2);
/// The doctor's session while they try a second factor.
pub const DOCTOR_TOTP_SESSION: uuid::Uuid = uuid::Uuid::from_u128(3);
/// The second share runs until this minute.
pub const OTHER_SHARE_ENDS: i64 = 100;
/// The specialist's emergency access to the patient, and to the other patient.
pub const EMERGENCY: EmergencyId = EmergencyId::from_uuid(uuid::Uuid::from_u128(0xe1));
pub const OTHER_EMERGENCY: EmergencyId = EmergencyId::from_uuid(uuid::Uuid::from_u128(0xe2));
/// The doctor's referral of the record to the specialist, and the share it made.
pub const REFERRAL: ReferralId = ReferralId::from_uuid(uuid::Uuid::from_u128(0x4ef));
pub const REFERRED_SHARE: ShareId = ShareId::from_uuid(uuid::Uuid::from_u128(0x5a3));
/// The patient's read token for an app.
pub const READ_TOKEN: uuid::Uuid = uuid::Uuid::from_u128(0x70c);
/// The patient's share link, and the grant its one open made.
pub const LINK: LinkId = LinkId::from_uuid(uuid::Uuid::from_u128(0x111c));
pub const LINK_GRANT: uuid::Uuid = uuid::Uuid::from_u128(0x6a);
/// The patient's proxy grant to the specialist.
pub const PROXY_GRANT: uuid::Uuid = uuid::Uuid::from_u128(0x9a);

fn reason(text: &str) -> crate::Sealed {
    super::cast::sealed(text)
}

/// Writes the story down a step at a time: `minute`, who acted, what happened.
#[derive(Default)]
struct Story(Vec<Sample>);

impl Story {
    fn user(&mut self, minute: i64, actor: Option<UserId>, who: UserId, e: impl Into<UserEvent>) {
        self.push(minute, actor, Event::User(who, e.into()));
    }

    fn record(&mut self, minute: i64, actor: Option<UserId>, e: impl Into<RecordEvent>) {
        self.push(minute, actor, Event::Record(RECORD, e.into()));
    }

    fn emergency(&mut self, minute: i64, actor: Option<UserId>, e: impl Into<EmergencyEvent>) {
        self.push(minute, actor, Event::Emergency(SPECIALIST, e.into()));
    }

    fn push(&mut self, minute: i64, actor: Option<UserId>, event: Event) {
        self.0.push(Sample {
            at: at(minute),
            actor,
            event,
        });
    }

    /// The seq the last step would have on a ledger that began with the story.
    fn last_seq(&self) -> i64 {
        self.0.len() as i64
    }
}

pub fn story() -> Vec<Sample> {
    let mut s = Story::default();
    let (patient, doctor) = (PATIENT_SESSION, DOCTOR_SESSION);

    // Accounts: an operator creates the administrator at the machine; the others sign up.
    s.user(0, None, ADMIN, registered(Role::Admin));
    let with_phone = match registered(Role::Patient) {
        UserEvent::UserRegistered(e) => UserRegistered {
            phone: Some(sealed("phone")),
            ..e
        },
        _ => unreachable!("`registered` makes a registration"),
    };
    s.user(1, Some(PATIENT), PATIENT, with_phone);
    s.user(2, Some(DOCTOR), DOCTOR, registered(Role::Doctor));
    s.user(
        3,
        Some(OTHER_DOCTOR),
        OTHER_DOCTOR,
        registered(Role::Doctor),
    );
    s.user(
        4,
        Some(OTHER_PATIENT),
        OTHER_PATIENT,
        registered(Role::Patient),
    );
    s.user(5, Some(SPECIALIST), SPECIALIST, registered(Role::Doctor));
    s.user(10, Some(ADMIN), DOCTOR, UserApproved {});
    s.user(10, Some(ADMIN), SPECIALIST, UserApproved {});
    let no_licence = UserRejected {
        reason: reason("no licence"),
    };
    s.user(11, Some(ADMIN), OTHER_DOCTOR, no_licence);

    // The patient signs in (at the second try) and looks after their profile.
    let wrong = LoginFailed {
        reason: LoginFailure::WrongPassword,
        at: at(20),
    };
    s.user(20, None, PATIENT, wrong);
    let signed_in = LoginSucceeded {
        session: patient,
        expires_at: at(21 + 720),
        factor: None,
    };
    s.user(21, Some(PATIENT), PATIENT, signed_in);
    let photo = ProfilePhotoChanged {
        sha256: "ab".repeat(32),
        size: 1234,
    };
    s.user(22, Some(PATIENT), PATIENT, photo);
    let by_mail = NotificationPreferencesSet {
        preferences: vec![Preference {
            kind: NotificationKind::RecordAccessed,
            in_app: false,
            email: true,
        }],
    };
    s.user(23, Some(PATIENT), PATIENT, by_mail);
    let asked = ProfileChangeRequested {
        change: CHANGE,
        name: Some(sealed("newname")),
        phone: None,
    };
    s.user(24, Some(PATIENT), PATIENT, asked);
    let decided = ProfileChangeDecided {
        change: CHANGE,
        approved: false,
        reason: Some(reason("looks wrong")),
    };
    s.user(25, Some(ADMIN), PATIENT, decided);

    // The record: stored, shared, read, revoked, refused; shared again until it runs out.
    s.record(30, Some(PATIENT), uploaded());
    s.record(31, Some(PATIENT), shared(SHARE, DOCTOR, None));
    let doctor_in = LoginSucceeded {
        session: doctor,
        expires_at: at(32 + 720),
        factor: None,
    };
    s.user(32, Some(DOCTOR), DOCTOR, doctor_in);
    let read = RecordAccessed {
        action: ReadAction::Downloaded,
        share: Some(SHARE),
        emergency: None,
        link: None,
        proxy: None,
    };
    s.record(33, Some(DOCTOR), read);
    s.record(34, Some(PATIENT), ShareRevoked { share: SHARE });
    let refused = RecordAccessDenied {
        action: ReadAction::Viewed,
        reason: DenialReason::ShareRevoked,
    };
    s.record(35, Some(DOCTOR), refused);
    s.user(36, Some(DOCTOR), DOCTOR, LoggedOut { session: doctor });

    // The doctor turns on a second factor, is asked for it, proves themself again, and
    // turns it off.
    let doctor_again = LoginSucceeded {
        session: DOCTOR_TOTP_SESSION,
        expires_at: at(37 + 720),
        factor: None,
    };
    s.user(37, Some(DOCTOR), DOCTOR, doctor_again);
    let totp = TotpEnrolled {
        secret: sealed("totp-secret"),
        recovery_codes: sealed("recovery-codes"),
        step: 76,
    };
    s.user(38, Some(DOCTOR), DOCTOR, totp);
    let wrong_code = SecondFactorFailed {
        at: at(39),
        locked: false,
    };
    s.user(39, None, DOCTOR, wrong_code);
    let again = shared(OTHER_SHARE, DOCTOR, Some(OTHER_SHARE_ENDS));
    s.record(40, Some(PATIENT), again);
    s.record(41, None, ShareExpiring { share: OTHER_SHARE });
    let proved = Reauthenticated {
        session: DOCTOR_TOTP_SESSION,
        factor: Some(FactorUsed::TotpStep(84)),
    };
    s.user(42, Some(DOCTOR), DOCTOR, proved);
    let new_codes = RecoveryCodesRegenerated {
        recovery_codes: sealed("recovery-codes-2"),
        factor: FactorUsed::RecoveryCode(2),
    };
    s.user(43, Some(DOCTOR), DOCTOR, new_codes);
    let off = TotpDisabled {
        factor: FactorUsed::TotpStep(88),
        kept_session: DOCTOR_TOTP_SESSION,
    };
    s.user(44, Some(DOCTOR), DOCTOR, off);
    let done = LoggedOut {
        session: DOCTOR_TOTP_SESSION,
    };
    s.user(45, Some(DOCTOR), DOCTOR, done);
    // They turn it on again and lose their phone: an administrator takes it away.
    let again = TotpEnrolled {
        secret: sealed("totp-secret-2"),
        recovery_codes: sealed("recovery-codes-3"),
        step: 92,
    };
    s.user(46, Some(DOCTOR), DOCTOR, again);
    // And a passkey, which they remove again; then the phone is lost.
    let passkey = PasskeyRegistered {
        passkey: uuid::Uuid::from_u128(0x9a55),
        name: sealed("phone"),
        credential: sealed("passkey-credential"),
        credential_hash: "ab".repeat(32),
        at: at(46),
    };
    s.user(46, Some(DOCTOR), DOCTOR, passkey);
    let removed = PasskeyRemoved {
        passkey: uuid::Uuid::from_u128(0x9a55),
        kept_session: DOCTOR_TOTP_SESSION,
    };
    s.user(46, Some(DOCTOR), DOCTOR, removed);
    // The patient lets a health app read their records, then takes it back.
    let app = ReadTokenCreated {
        token: READ_TOKEN,
        name: sealed("health app"),
        expires_at: at(46 + 60 * 24),
        at: at(46),
    };
    s.user(46, Some(PATIENT), PATIENT, app);
    s.user(
        46,
        Some(PATIENT),
        PATIENT,
        ReadTokenRevoked { token: READ_TOKEN },
    );
    // And takes their data out, with its proofs.
    let exported = DataExported {
        by: PATIENT,
        proxy: None,
        records: vec![RECORD],
    };
    s.user(46, Some(PATIENT), PATIENT, exported);
    let lost = MfaReset {
        reason: reason("lost phone"),
    };
    s.user(47, Some(ADMIN), DOCTOR, lost);

    // The specialist, in an emergency, opens the patient's file, reads the record and
    // closes it again; then the doctor refers the record to them and the patient agrees.
    // An emergency access to the other patient runs out, and an administrator reviews
    // the first.
    let opened = EmergencyAccessOpened {
        access: EMERGENCY,
        patient: PATIENT,
        reason: sealed("unconscious"),
        opened_at: at(48),
        expires_at: at(108),
    };
    s.emergency(48, Some(SPECIALIST), opened);
    let emergency_read = RecordAccessed {
        action: ReadAction::Viewed,
        share: None,
        emergency: Some(EMERGENCY),
        link: None,
        proxy: None,
    };
    s.record(49, Some(SPECIALIST), emergency_read);
    let closed = EmergencyAccessClosed { access: EMERGENCY };
    s.emergency(49, Some(SPECIALIST), closed);
    let asked = ReferralRequested {
        referral: REFERRAL,
        from: DOCTOR,
        to: SPECIALIST,
        note: Some(sealed("cardiology")),
    };
    s.record(50, Some(DOCTOR), asked);
    let approved = ReferralDecided {
        referral: REFERRAL,
        from: DOCTOR,
        to: SPECIALIST,
        approved: true,
    };
    s.record(51, Some(PATIENT), approved);
    let referred = RecordShared {
        share: REFERRED_SHARE,
        doctor: SPECIALIST,
        expires_at: Some(at(OTHER_SHARE_ENDS)),
        referral: Some(REFERRAL),
    };
    s.record(51, Some(PATIENT), referred);
    let other = EmergencyAccessOpened {
        access: OTHER_EMERGENCY,
        patient: OTHER_PATIENT,
        reason: sealed("found on the street"),
        opened_at: at(55),
        expires_at: at(65),
    };
    s.emergency(55, Some(SPECIALIST), other);
    let ran_out = EmergencyAccessExpired {
        access: OTHER_EMERGENCY,
    };
    s.emergency(65, None, ran_out);
    let reviewed = EmergencyAccessReviewed {
        access: EMERGENCY,
        patient: PATIENT,
        justified: true,
        note: Some(sealed("seen the ambulance report")),
    };
    s.emergency(66, Some(ADMIN), reviewed);

    // The patient shares the record by link; a wrong passcode, then the right one, and a
    // download through it by someone with no account; then the patient revokes it.
    let link = |s: &mut Story, minute, actor, e: crate::link::ShareLinkEvent| {
        s.push(minute, actor, Event::Link(LINK, e));
    };
    let created = ShareLinkCreated {
        owner: PATIENT,
        records: vec![RECORD],
        expires_at: at(90),
        max_opens: Some(3),
        passcode_hash: sealed("passcode-hash"),
    };
    link(&mut s, 67, Some(PATIENT), created.into());
    let wrong = ShareLinkPasscodeRefused {
        owner: PATIENT,
        from: sealed("address"),
        locked: false,
    };
    link(&mut s, 68, None, wrong.into());
    let opened = ShareLinkOpened {
        grant: LINK_GRANT,
        owner: PATIENT,
        records: vec![RECORD],
        from: sealed("address"),
        grant_expires_at: at(83),
    };
    link(&mut s, 68, None, opened.into());
    let through_link = RecordAccessed {
        action: ReadAction::Downloaded,
        share: None,
        emergency: None,
        link: Some(LINK),
        proxy: None,
    };
    s.record(69, None, through_link);
    link(&mut s, 70, Some(PATIENT), ShareLinkRevoked {}.into());

    // The patient asks the specialist to look after their records; the specialist
    // redeems the invitation and reads the record for them; the patient revokes it.
    let proxy = |s: &mut Story, minute, actor, e: crate::proxy::ProxyEvent| {
        s.push(minute, actor, Event::Proxy(PATIENT, e));
    };
    let invited = crate::proxy::ProxyInvited {
        grant: PROXY_GRANT,
        email: sealed("sam@example.org"),
        scope: crate::proxy::ProxyScope::Read,
        records: None,
        expires_at: None,
        invitation_expires_at: at(71 + 7 * 24 * 60),
    };
    proxy(&mut s, 71, Some(PATIENT), invited.into());
    let accepted = crate::proxy::ProxyAccepted {
        grant: PROXY_GRANT,
        proxy: SPECIALIST,
    };
    proxy(&mut s, 72, Some(SPECIALIST), accepted.into());
    let on_behalf = RecordAccessed {
        action: ReadAction::Viewed,
        share: None,
        emergency: None,
        link: None,
        proxy: Some(PROXY_GRANT),
    };
    s.record(73, Some(SPECIALIST), on_behalf);
    let ended = crate::proxy::ProxyRevoked { grant: PROXY_GRANT };
    proxy(&mut s, 74, Some(PATIENT), ended.into());
    let ran_out = ShareExpired { share: OTHER_SHARE };
    s.record(OTHER_SHARE_ENDS, None, ran_out);
    s.record(101, Some(PATIENT), erased());

    // The patient's password, from their session; their notifications, read up to now.
    let changed = PasswordChanged {
        password_hash: sealed("hash2"),
        kept_session: Some(patient),
    };
    s.user(102, Some(PATIENT), PATIENT, changed);
    let read_all = NotificationsRead {
        ids: None,
        up_to_seq: Some(s.last_seq()),
    };
    s.user(103, Some(PATIENT), PATIENT, read_all);

    // The other patient is shut out, then forgotten.
    let abuse = UserSuspended {
        reason: reason("abuse"),
    };
    s.user(104, Some(ADMIN), OTHER_PATIENT, abuse);
    let forgotten = UserErased {
        basis: crate::ErasureBasis::PatientRequest,
        reason: reason("asked to be forgotten"),
    };
    s.user(105, Some(ADMIN), OTHER_PATIENT, forgotten);

    // An administrator closes the patient's session; the patient resets their password.
    s.user(
        106,
        Some(ADMIN),
        PATIENT,
        SessionRevoked { session: patient },
    );
    s.user(107, None, PATIENT, PasswordResetRequested {});
    let reset = PasswordReset {
        password_hash: sealed("hash3"),
    };
    s.user(108, None, PATIENT, reset);

    // An administrator holds the patient's records for a court; another, made at the
    // machine, lifts it.
    s.user(108, None, OTHER_ADMIN, registered(Role::Admin));
    let hold = Uuid::from_u128(0x401d);
    let held = LegalHoldPlaced {
        subject: ErasureSubject::User(PATIENT),
        by: ADMIN,
        reason: sealed("court order"),
    };
    s.push(108, Some(ADMIN), Event::LegalHold(hold, held.into()));
    s.push(
        108,
        Some(OTHER_ADMIN),
        Event::LegalHold(hold, LegalHoldLifted { by: OTHER_ADMIN }.into()),
    );

    // A rotation retires the key epoch that wrapped both erased keys: both erasures are
    // complete, and the record's owner is told.
    s.push(
        109,
        None,
        Event::KeyEpoch(1, KeyEpochRetired { epoch: 1 }.into()),
    );
    let record_gone = ErasureCompleted {
        subject: ErasureSubject::Record(RECORD),
        owner: PATIENT,
        epochs: vec![1],
    };
    s.push(
        110,
        None,
        Event::Erasure(ErasureSubject::Record(RECORD), record_gone.into()),
    );
    let person_gone = ErasureCompleted {
        subject: ErasureSubject::User(OTHER_PATIENT),
        owner: OTHER_PATIENT,
        epochs: vec![1],
    };
    s.push(
        110,
        None,
        Event::Erasure(ErasureSubject::User(OTHER_PATIENT), person_gone.into()),
    );
    s.0
}
