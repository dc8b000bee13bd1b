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
