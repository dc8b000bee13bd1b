//! The decisions about a share link. Only a patient links, and only records of their own
//! that are not erased, at most `MAX_LINK_RECORDS`, for at most 90 days. Opening asks
//! whether the passcode matched (the command layer compared it with the Argon2id hash):
//! the right one makes a grant of 15 minutes; each wrong one is recorded, and the fifth
//! locks the link for good. A spent link (revoked, expired, opened `maxOpens` times)
//! opens no more; a grant reads the link's records while it lasts and the link stands.

use super::events::{
    ShareLinkCreated, ShareLinkEvent, ShareLinkOpened, ShareLinkPasscodeRefused, ShareLinkRevoked,
};
use super::state::ShareLink;
use crate::account::{Role, UserId};
use crate::record::{RecordId, Viewer};
use crate::{Sealed, Timestamp};
use uuid::Uuid;

pub const MAX_WRONG_PASSCODES: u32 = 5;
pub const GRANT_MICROS: i64 = 15 * 60 * 1_000_000;
pub const MAX_LINK_RECORDS: usize = 20;
pub const MAX_LIFETIME_MICROS: i64 = 90 * 24 * 3_600_000_000;
const MAX_OPENS_ALLOWED: u32 = 1000;

/// A record a link would name, as its own stream says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkedRecord {
    pub id: RecordId,
    pub owner: Option<UserId>,
    pub erased: bool,
}

pub struct CreateLink {
    pub by: Viewer,
    pub records: Vec<LinkedRecord>,
    pub expires_at: Timestamp,
    pub max_opens: Option<u32>,
    pub passcode_hash: Sealed,
    pub now: Timestamp,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum LinkError {
    #[error("only patients share their records by link")]
    NotAPatient,
    #[error("a link shares one record or more")]
    NoRecords,
    #[error("a link shares at most {MAX_LINK_RECORDS} records")]
    TooManyRecords,
    #[error("there is no such record")]
    NoSuchRecord,
    #[error("the expiry must be in the future")]
    ExpiryPassed,
    #[error("a link lasts at most 90 days")]
    TooLong,
    #[error("maxOpens is between 1 and {MAX_OPENS_ALLOWED}")]
    MaxOpens,
    #[error("this link exists already")]
    Exists,
    #[error("there is no such link")]
    NotFound,
}

pub fn create(state: &ShareLink, cmd: CreateLink) -> Result<Vec<ShareLinkEvent>, LinkError> {
    if cmd.by.role != Role::Patient {
        return Err(LinkError::NotAPatient);
    }
    if state.created().is_some() {
        return Err(LinkError::Exists);
    }
    if cmd.records.is_empty() {
        return Err(LinkError::NoRecords);
    }
    if cmd.records.len() > MAX_LINK_RECORDS {
        return Err(LinkError::TooManyRecords);
    }
    // Someone else's record, or an erased one, is not known to the patient.
    if cmd
        .records
        .iter()
        .any(|r| r.owner != Some(cmd.by.id) || r.erased)
    {
        return Err(LinkError::NoSuchRecord);
    }
    if cmd.expires_at <= cmd.now {
        return Err(LinkError::ExpiryPassed);
    }
    if cmd.expires_at > cmd.now.plus_micros(MAX_LIFETIME_MICROS) {
        return Err(LinkError::TooLong);
    }
    if cmd
        .max_opens
        .is_some_and(|m| m == 0 || m > MAX_OPENS_ALLOWED)
    {
        return Err(LinkError::MaxOpens);
    }
    let mut records: Vec<RecordId> = cmd.records.iter().map(|r| r.id).collect();
    records.dedup();
    Ok(vec![
        ShareLinkCreated {
            owner: cmd.by.id,
            records,
            expires_at: cmd.expires_at,
            max_opens: cmd.max_opens,
            passcode_hash: cmd.passcode_hash,
        }
        .into(),
    ])
}

/// Why a link does not open, or a grant does not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkDenial {
    #[error("there is no such link")]
    NotFound,
    #[error("this link has expired, was revoked or has been opened as often as allowed")]
    Gone,
    #[error("too many wrong passcodes: this link is locked; ask the patient for a new one")]
    Locked,
    #[error("the passcode is wrong")]
    WrongPasscode,
    #[error("this access has ended: open the link again with its passcode")]
    GrantEnded,
    #[error("this link does not share that record")]
    NotInLink,
}

pub struct OpenLink {
    pub passcode_matches: bool,
    /// The address it came from, sealed under the owner's key.
    pub from: Sealed,
    pub grant: Uuid,
    pub now: Timestamp,
}

/// What to record, and the answer: the grant's end, or why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkOutcome {
    pub events: Vec<ShareLinkEvent>,
    pub outcome: Result<Timestamp, LinkDenial>,
}

pub fn open(state: &ShareLink, cmd: OpenLink) -> LinkOutcome {
    let refused = |denial| LinkOutcome {
        events: Vec::new(),
        outcome: Err(denial),
    };
    let Some(created) = state.created() else {
        return refused(LinkDenial::NotFound);
    };
    if state.is_locked() {
        return refused(LinkDenial::Locked);
    }
    if state.is_spent(cmd.now) {
        return refused(LinkDenial::Gone);
    }
    if !cmd.passcode_matches {
        let locked = state.wrong_passcodes() + 1 >= MAX_WRONG_PASSCODES;
        return LinkOutcome {
            events: vec![
                ShareLinkPasscodeRefused {
                    owner: created.owner,
                    from: cmd.from,
                    locked,
                }
                .into(),
            ],
            outcome: Err(if locked {
                LinkDenial::Locked
            } else {
                LinkDenial::WrongPasscode
            }),
        };
    }
    // A grant never outlasts the link.
    let grant_expires_at = cmd.now.plus_micros(GRANT_MICROS).min(created.expires_at);
    LinkOutcome {
        events: vec![
            ShareLinkOpened {
                grant: cmd.grant,
                owner: created.owner,
                records: created.records.clone(),
                from: cmd.from,
                grant_expires_at,
            }
            .into(),
        ],
        outcome: Ok(grant_expires_at),
    }
}

/// The owner ends the link at once (and with it every grant); a second time decides
/// nothing.
pub fn revoke(state: &ShareLink, by: UserId) -> Result<Vec<ShareLinkEvent>, LinkError> {
    if state.owner() != Some(by) {
        return Err(LinkError::NotFound);
    }
    if state.is_revoked() {
        return Ok(Vec::new());
    }
    Ok(vec![ShareLinkRevoked {}.into()])
}

impl ShareLink {
    /// Whether `grant` reads `record` at `now`: the link stands (not revoked, not past
    /// its time), the grant lasts, and the link names the record. The owner whose record
    /// it must be is returned for the access rules.
    pub fn reads(
        &self,
        grant: Uuid,
        record: RecordId,
        now: Timestamp,
    ) -> Result<UserId, LinkDenial> {
        let Some(created) = self.created() else {
            return Err(LinkDenial::NotFound);
        };
        if self.is_revoked() || now >= created.expires_at {
            return Err(LinkDenial::Gone);
        }
        if self.live_grant(grant, now).is_none() {
            return Err(LinkDenial::GrantEnded);
        }
        if !self.names(record) {
            return Err(LinkDenial::NotInLink);
        }
        Ok(created.owner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Aggregate as _;
    use crate::link::LinkId;
    use crate::samples::{DOCTOR, OTHER_PATIENT, PATIENT, RECORD, at, sealed};

    const LINK: LinkId = LinkId::from_uuid(Uuid::from_u128(0x11));
    const GRANT: Uuid = Uuid::from_u128(0x6a);

    fn patient() -> Viewer {
        Viewer {
            id: PATIENT,
            role: Role::Patient,
        }
    }
    fn mine() -> LinkedRecord {
        LinkedRecord {
            id: RECORD,
            owner: Some(PATIENT),
            erased: false,
        }
    }
    fn asks(records: Vec<LinkedRecord>, expires: i64, max_opens: Option<u32>) -> CreateLink {
        CreateLink {
            by: patient(),
            records,
            expires_at: at(expires),
            max_opens,
            passcode_hash: sealed("hash"),
            now: at(0),
        }
    }
    fn given(history: Vec<ShareLinkEvent>) -> ShareLink {
        let mut state = ShareLink::new(LINK);
        for e in &history {
            state.apply(e);
        }
        state
    }
    fn made(max_opens: Option<u32>) -> Vec<ShareLinkEvent> {
        create(&given(vec![]), asks(vec![mine()], 600, max_opens)).unwrap()
    }
    fn try_open(state: &ShareLink, right: bool, minute: i64) -> LinkOutcome {
        open(
            state,
            OpenLink {
                passcode_matches: right,
                from: sealed("address"),
                grant: GRANT,
                now: at(minute),
            },
        )
    }

    #[test]
    fn a_patient_links_their_own_live_records_for_a_while() {
        let events = made(Some(3));
        assert_eq!(events.len(), 1);
        let state = given(events);
        assert_eq!(state.owner(), Some(PATIENT));
        assert!(state.names(RECORD));
        let doctor = CreateLink {
            by: Viewer {
                id: DOCTOR,
                role: Role::Doctor,
            },
            ..asks(vec![mine()], 600, None)
        };
        assert_eq!(create(&given(vec![]), doctor), Err(LinkError::NotAPatient));
        for (cmd, error) in [
            (asks(vec![], 600, None), LinkError::NoRecords),
            (
                asks(
                    vec![LinkedRecord {
                        owner: Some(OTHER_PATIENT),
                        ..mine()
                    }],
                    600,
                    None,
                ),
                LinkError::NoSuchRecord,
            ),
            (
                asks(
                    vec![LinkedRecord {
                        erased: true,
                        ..mine()
                    }],
                    600,
                    None,
                ),
                LinkError::NoSuchRecord,
            ),
            (asks(vec![mine()], 0, None), LinkError::ExpiryPassed),
            (asks(vec![mine()], 91 * 24 * 60, None), LinkError::TooLong),
            (asks(vec![mine()], 600, Some(0)), LinkError::MaxOpens),
            (asks(vec![mine(); 21], 600, None), LinkError::TooManyRecords),
        ] {
            assert_eq!(create(&given(vec![]), cmd), Err(error));
        }
    }

    #[test]
    fn the_right_passcode_grants_fifteen_minutes_and_max_opens_holds() {
        let mut history = made(Some(1));
        let opened = try_open(&given(history.clone()), true, 1);
        assert_eq!(opened.outcome, Ok(at(16)));
        history.extend(opened.events);
        let state = given(history);
        assert_eq!(state.reads(GRANT, RECORD, at(15)), Ok(PATIENT));
        assert_eq!(
            state.reads(GRANT, RECORD, at(16)),
            Err(LinkDenial::GrantEnded)
        );
        let other = crate::record::RecordId::from_uuid(Uuid::from_u128(9));
        assert_eq!(state.reads(GRANT, other, at(2)), Err(LinkDenial::NotInLink));
        // Opened once, as allowed: it opens no more.
        assert_eq!(try_open(&state, true, 2).outcome, Err(LinkDenial::Gone));
        assert!(try_open(&state, true, 2).events.is_empty());
    }

    #[test]
    fn five_wrong_passcodes_lock_it_for_good() {
        let mut history = made(None);
        for n in 1..=5 {
            let tried = try_open(&given(history.clone()), false, n);
            let expected = if n == 5 {
                LinkDenial::Locked
            } else {
                LinkDenial::WrongPasscode
            };
            assert_eq!(tried.outcome, Err(expected));
            history.extend(tried.events);
        }
        let locked = given(history);
        assert!(locked.is_locked());
        let right = try_open(&locked, true, 6);
        assert_eq!(right.outcome, Err(LinkDenial::Locked));
        assert!(
            right.events.is_empty(),
            "a locked link records nothing more"
        );
    }

    #[test]
    fn expiry_and_revocation_end_the_link_and_its_live_grants() {
        let mut history = made(None);
        history.extend(try_open(&given(history.clone()), true, 590).events);
        let state = given(history.clone());
        // The grant is cut at the link's own end.
        assert_eq!(
            state.live_grant(GRANT, at(599)).unwrap().expires_at,
            at(600)
        );
        assert_eq!(state.reads(GRANT, RECORD, at(600)), Err(LinkDenial::Gone));
        assert_eq!(try_open(&state, true, 600).outcome, Err(LinkDenial::Gone));

        let revoked = revoke(&state, PATIENT).unwrap();
        history.extend(revoked);
        let state = given(history);
        assert_eq!(state.reads(GRANT, RECORD, at(591)), Err(LinkDenial::Gone));
        assert_eq!(revoke(&state, PATIENT), Ok(vec![]));
        assert_eq!(revoke(&state, OTHER_PATIENT), Err(LinkError::NotFound));
    }
}
