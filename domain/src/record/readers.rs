//! Who could read a record at a moment: the question compliance asks of the past
//! ("who could read this record on that day?"). The record and the accounts come folded
//! from the ledger up to that moment (replay, never today's tables); the answer is the
//! access rules of `access.rs` asked of each person the record names, so it is the same
//! rule the content route applied then.

use super::access::{Viewer, access};
use super::state::Record;
use crate::Timestamp;
use crate::account::{AccountStatus, Role, UserId};
use crate::emergency::EmergencyId;

/// What the rules need of a person at the moment asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Person {
    pub id: UserId,
    pub role: Role,
    pub status: AccountStatus,
    /// Their emergency access to the record's owner open at that moment, as their
    /// emergency stream folded up to it says.
    pub emergency: Option<EmergencyId>,
    /// Their live proxy grant from the owner covering the record then.
    pub proxy: Option<(uuid::Uuid, crate::proxy::ProxyScope)>,
}

/// Everyone the record names who might have read it: its owner and every doctor it was
/// ever shared with (up to the moment), each once, in that order.
pub fn candidates(record: &Record) -> Vec<UserId> {
    let mut ids: Vec<UserId> = record.owner().into_iter().collect();
    for share in record.shares() {
        if !ids.contains(&share.doctor) {
            ids.push(share.doctor);
        }
    }
    ids
}

/// The people who could read the record's content at `at`: the access rules allowed it
/// and their account was ACTIVE (a pending, suspended or erased account cannot sign in).
/// An erased record, or one not yet uploaded, has no readers.
pub fn readers(record: &Record, people: &[Person], at: Timestamp) -> Vec<Person> {
    let Some(owner) = record.owner() else {
        return Vec::new();
    };
    people
        .iter()
        .filter(|p| p.status == AccountStatus::Active)
        .filter(|p| {
            let viewer = Viewer {
                id: p.id,
                role: p.role,
            };
            let facts = super::access::RecordFacts {
                owner,
                erased: record.is_erased(),
                shares: record.shares(),
                emergency: p.emergency,
                emergency_ended: false,
                proxy: p.proxy,
            };
            access(viewer, facts, at).read_content(facts.erased).is_ok()
        })
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::events::{RecordEvent, ShareExpired, ShareRevoked};
    use crate::record::given::*;

    fn person(id: UserId, role: Role) -> Person {
        Person {
            id,
            role,
            status: AccountStatus::Active,
            emergency: None,
            proxy: None,
        }
    }

    fn cast() -> Vec<Person> {
        vec![
            person(PATIENT, Role::Patient),
            person(DOCTOR, Role::Doctor),
            person(OTHER_DOCTOR, Role::Doctor),
        ]
    }

    fn ids(people: Vec<Person>) -> Vec<UserId> {
        people.into_iter().map(|p| p.id).collect()
    }

    fn fold(history: Vec<RecordEvent>) -> Record {
        let mut record = Record::new(RECORD);
        for event in &history {
            record.apply(event);
        }
        record
    }

    #[test]
    fn before_the_upload_nobody_could_read_it() {
        assert!(readers(&fold(vec![]), &cast(), at(0)).is_empty());
        assert!(candidates(&fold(vec![])).is_empty());
    }

    #[test]
    fn the_owner_and_doctors_with_a_live_share_could_read_it() {
        let record = fold(vec![
            uploaded(),
            shared(SHARE, DOCTOR, Some(60)),
            shared(OTHER_SHARE, OTHER_DOCTOR, None),
        ]);
        assert_eq!(candidates(&record), vec![PATIENT, DOCTOR, OTHER_DOCTOR]);
        assert_eq!(
            ids(readers(&record, &cast(), at(30))),
            vec![PATIENT, DOCTOR, OTHER_DOCTOR]
        );
        // The share's time passed: expiry counts from the moment, recorded or not.
        assert_eq!(
            ids(readers(&record, &cast(), at(60))),
            vec![PATIENT, OTHER_DOCTOR]
        );
    }

    #[test]
    fn revoked_and_expired_shares_let_nobody_read() {
        let record = fold(vec![
            uploaded(),
            shared(SHARE, DOCTOR, None),
            ShareRevoked { share: SHARE }.into(),
            shared(OTHER_SHARE, OTHER_DOCTOR, Some(10)),
            ShareExpired { share: OTHER_SHARE }.into(),
        ]);
        assert_eq!(ids(readers(&record, &cast(), at(5))), vec![PATIENT]);
    }

    #[test]
    fn a_doctor_shared_with_again_could_read_again() {
        let record = fold(vec![
            uploaded(),
            shared(SHARE, DOCTOR, None),
            ShareRevoked { share: SHARE }.into(),
            shared(OTHER_SHARE, DOCTOR, Some(100)),
        ]);
        assert_eq!(candidates(&record), vec![PATIENT, DOCTOR]);
        assert_eq!(
            ids(readers(&record, &cast(), at(50))),
            vec![PATIENT, DOCTOR]
        );
    }

    #[test]
    fn an_erased_record_has_no_readers() {
        let record = fold(vec![uploaded(), shared(SHARE, DOCTOR, None), erased()]);
        assert!(readers(&record, &cast(), at(1)).is_empty());
    }

    #[test]
    fn accounts_that_could_not_sign_in_could_not_read() {
        let record = fold(vec![uploaded(), shared(SHARE, DOCTOR, None)]);
        let mut people = cast();
        people[1].status = AccountStatus::Suspended;
        assert_eq!(ids(readers(&record, &people, at(1))), vec![PATIENT]);
    }

    #[test]
    fn a_doctor_in_an_emergency_could_read_while_it_was_open_and_not_after() {
        let record = fold(vec![uploaded()]);
        let emergency = EmergencyId::from_uuid(uuid::Uuid::from_u128(0xe1));
        let mut people = cast();
        people[2].emergency = Some(emergency);
        assert_eq!(
            ids(readers(&record, &people, at(1))),
            vec![PATIENT, OTHER_DOCTOR]
        );
        people[2].emergency = None;
        assert_eq!(ids(readers(&record, &people, at(2))), vec![PATIENT]);
    }

    #[test]
    fn administrators_and_strangers_never_could() {
        let record = fold(vec![uploaded()]);
        let people = vec![
            person(ADMIN, Role::Admin),
            person(OTHER_PATIENT, Role::Patient),
            person(DOCTOR, Role::Doctor),
        ];
        assert!(readers(&record, &people, at(1)).is_empty());
    }
}
