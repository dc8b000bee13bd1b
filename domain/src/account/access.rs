//! The rules about people, beside the record access rules (`record::access`), said once
//! for every path: who is an administrator, who sees a person's contact details and
//! photo, whose disclosures a caller may ask for, and who may be given a record.
//!
//! Like the record rules they ask only about facts passed in: the viewer, and what a
//! person's own stream says they are (`Recipient::of` folds from `User`), never a read
//! model.

use super::{AccountStatus, Role, User, UserId};
use crate::record::Viewer;

#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
#[error("only administrators may do this")]
pub struct NotAnAdministrator;

/// The one check that a viewer is an administrator, for every administrative action.
pub fn require_admin(viewer: Viewer) -> Result<(), NotAnAdministrator> {
    if viewer.role == Role::Admin {
        Ok(())
    } else {
        Err(NotAnAdministrator)
    }
}

/// A person's e-mail address, phone and pending profile change: for themself and
/// administrators (API.graphql's `User`).
pub fn sees_contact_details(viewer: Viewer, person: UserId) -> bool {
    viewer.id == person || viewer.role == Role::Admin
}

/// A person's photo: for themself, administrators, and whoever shares a record with them
/// now (`share_a_record`: the doctor of a live share of one of the person's records, or
/// the patient whose record the person may read).
pub fn sees_photo(viewer: Viewer, person: UserId, share_a_record: bool) -> bool {
    viewer.id == person || viewer.role == Role::Admin || share_a_record
}

/// Who stands in a patient's care now, as the caller's facts say (the FHIR routes'
/// `Patient` and `Consent` ask).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CareCircle {
    /// A live proxy grant of the patient's.
    pub proxy: bool,
    /// A doctor with a live share of one of the patient's records.
    pub shared: bool,
    /// A doctor with an open emergency access to the patient.
    pub emergency: bool,
}

/// A patient's demographic resource (FHIR `Patient`): for themself, administrators, and
/// whoever stands in their care now.
pub fn sees_patient(viewer: Viewer, patient: UserId, circle: CareCircle) -> bool {
    viewer.id == patient
        || viewer.role == Role::Admin
        || circle.proxy
        || circle.shared
        || circle.emergency
}

/// A patient's consents (their shares, proxy grants and share links, FHIR `Consent`):
/// for themself and their proxies, who act for them. Not for administrators: a consent
/// names the records it covers, and an administrator never sees what records are about.
pub fn sees_consents(viewer: Viewer, patient: UserId, circle: CareCircle) -> bool {
    viewer.id == patient || circle.proxy
}

#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
pub enum DisclosuresRefused {
    #[error("name the patient whose disclosures you want (patientId)")]
    NameThePatient,
    #[error("patients see their own disclosures; administrators anyone's")]
    NotYours,
}

/// Whose disclosures the viewer gets when asking for `asked` (none: their own): a patient
/// their own, an administrator any patient's they name.
pub fn disclosures_subject(
    viewer: Viewer,
    asked: Option<UserId>,
) -> Result<UserId, DisclosuresRefused> {
    match (viewer.role, asked) {
        (Role::Patient, None) => Ok(viewer.id),
        (Role::Patient, Some(p)) if p == viewer.id => Ok(viewer.id),
        (Role::Admin, Some(p)) => Ok(p),
        (Role::Admin, None) => Err(DisclosuresRefused::NameThePatient),
        _ => Err(DisclosuresRefused::NotYours),
    }
}

/// Who takes a patient's data out (their export, DESIGN.md §12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exporter {
    Patient,
    /// A proxy of the patient's under this MANAGE grant.
    Proxy(uuid::Uuid),
}

#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
#[error("only the patient, or a proxy of theirs with MANAGE, may export the patient's data")]
pub struct ExportRefused;

/// A patient's export: for themself, and for a proxy whose live grant lets them act for
/// the patient (MANAGE); never an administrator or a doctor, who have other ways to what
/// is theirs to see. `proxy`: the viewer's live grant of the patient's.
pub fn exporter(
    viewer: Viewer,
    patient: UserId,
    proxy: Option<(uuid::Uuid, crate::proxy::ProxyScope)>,
) -> Result<Exporter, ExportRefused> {
    if viewer.id == patient && viewer.role == Role::Patient {
        return Ok(Exporter::Patient);
    }
    match proxy {
        Some((grant, crate::proxy::ProxyScope::Manage)) => Ok(Exporter::Proxy(grant)),
        _ => Err(ExportRefused),
    }
}

#[cfg(test)]
mod circle_tests {
    use super::*;

    fn viewer(n: u128, role: Role) -> Viewer {
        Viewer {
            id: UserId::from_uuid(uuid::Uuid::from_u128(n)),
            role,
        }
    }

    #[test]
    fn a_patient_is_seen_by_themself_admins_and_their_care_circle_only() {
        let patient = viewer(1, Role::Patient);
        let none = CareCircle::default();
        assert!(sees_patient(patient, patient.id, none));
        assert!(sees_patient(viewer(2, Role::Admin), patient.id, none));
        assert!(!sees_patient(viewer(3, Role::Doctor), patient.id, none));
        let shared = CareCircle {
            shared: true,
            ..none
        };
        assert!(sees_patient(viewer(3, Role::Doctor), patient.id, shared));
        // Consents are the patient's and their proxies': a doctor or an admin, never.
        assert!(sees_consents(patient, patient.id, none));
        assert!(!sees_consents(viewer(3, Role::Doctor), patient.id, shared));
        assert!(!sees_consents(viewer(2, Role::Admin), patient.id, none));
        let proxy = CareCircle {
            proxy: true,
            ..none
        };
        assert!(sees_consents(viewer(4, Role::Patient), patient.id, proxy));
    }

    #[test]
    fn the_patient_and_a_managing_proxy_export_nobody_else() {
        use crate::proxy::ProxyScope;
        let patient = viewer(1, Role::Patient);
        let grant = uuid::Uuid::from_u128(7);
        assert_eq!(exporter(patient, patient.id, None), Ok(Exporter::Patient));
        let kin = viewer(4, Role::Patient);
        assert_eq!(
            exporter(kin, patient.id, Some((grant, ProxyScope::Manage))),
            Ok(Exporter::Proxy(grant))
        );
        assert_eq!(
            exporter(kin, patient.id, Some((grant, ProxyScope::Read))),
            Err(ExportRefused)
        );
        assert_eq!(exporter(kin, patient.id, None), Err(ExportRefused));
        assert_eq!(
            exporter(viewer(2, Role::Admin), patient.id, None),
            Err(ExportRefused)
        );
        assert_eq!(
            exporter(viewer(3, Role::Doctor), patient.id, None),
            Err(ExportRefused)
        );
    }
}

/// The person a record would be shared with, as their own stream says they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recipient {
    pub id: UserId,
    pub role: Option<Role>,
    pub status: Option<AccountStatus>,
}

impl Recipient {
    pub fn of(person: &User) -> Self {
        Self {
            id: person.id(),
            role: person.role(),
            status: person.status(),
        }
    }

    /// Records are shared with doctors whose account is ACTIVE, and with nobody else.
    pub fn may_receive_shares(&self) -> bool {
        self.role == Some(Role::Doctor) && self.status == Some(AccountStatus::Active)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::user::given::{USER, registered};
    use uuid::Uuid;

    const OTHER: UserId = UserId::from_uuid(Uuid::from_u128(0xbeef));

    fn as_(role: Role, id: UserId) -> Viewer {
        Viewer { id, role }
    }

    #[test]
    fn administrators_only_pass_the_admin_check() {
        assert_eq!(require_admin(as_(Role::Admin, USER)), Ok(()));
        for role in [Role::Patient, Role::Doctor] {
            assert_eq!(require_admin(as_(role, USER)), Err(NotAnAdministrator));
        }
    }

    #[test]
    fn contact_details_are_for_the_person_and_administrators() {
        assert!(sees_contact_details(as_(Role::Doctor, USER), USER));
        assert!(sees_contact_details(as_(Role::Admin, OTHER), USER));
        assert!(!sees_contact_details(as_(Role::Patient, OTHER), USER));
        assert!(!sees_contact_details(as_(Role::Doctor, OTHER), USER));
    }

    #[test]
    fn a_photo_is_also_for_those_who_share_a_record() {
        assert!(!sees_photo(as_(Role::Doctor, OTHER), USER, false));
        assert!(sees_photo(as_(Role::Doctor, OTHER), USER, true));
        assert!(sees_photo(as_(Role::Patient, USER), USER, false));
    }

    #[test]
    fn patients_ask_for_their_own_disclosures_and_administrators_name_one() {
        assert_eq!(
            disclosures_subject(as_(Role::Patient, USER), None),
            Ok(USER)
        );
        assert_eq!(
            disclosures_subject(as_(Role::Patient, USER), Some(USER)),
            Ok(USER)
        );
        assert_eq!(
            disclosures_subject(as_(Role::Patient, USER), Some(OTHER)),
            Err(DisclosuresRefused::NotYours)
        );
        assert_eq!(
            disclosures_subject(as_(Role::Doctor, USER), None),
            Err(DisclosuresRefused::NotYours)
        );
        assert_eq!(
            disclosures_subject(as_(Role::Admin, USER), Some(OTHER)),
            Ok(OTHER)
        );
        assert_eq!(
            disclosures_subject(as_(Role::Admin, USER), None),
            Err(DisclosuresRefused::NameThePatient)
        );
    }

    #[test]
    fn only_an_active_doctor_receives_shares_as_their_stream_says() {
        let doctor = User::from_history(USER, &[registered(Role::Doctor)]);
        assert!(!Recipient::of(&doctor).may_receive_shares(), "pending");
        let mut approved = doctor.clone();
        approved.apply(&crate::account::user::UserApproved {}.into());
        assert!(Recipient::of(&approved).may_receive_shares());
        let patient = User::from_history(USER, &[registered(Role::Patient)]);
        assert!(!Recipient::of(&patient).may_receive_shares());
        assert!(
            !Recipient::of(&User::new(OTHER)).may_receive_shares(),
            "no account"
        );
    }
}
