//! The access rules (DESIGN.md §6), in one place. Every path asks them: the content
//! route, the GraphQL fields, sharing and erasure, on facts from the record's stream or
//! from the records view alike.
//!
//! - The owner (a patient) sees and reads everything of their record, and alone sees its
//!   shares and access log.
//! - A doctor sees and reads a record while they hold a live share of it; once it is
//!   revoked or expired, reading is refused (FORBIDDEN) and the record is out of sight.
//!   A share comes from the owner, from an approved referral, or with a record the
//!   doctor added to the owner's file.
//! - A doctor holding an open emergency access to the owner sees and reads every record
//!   of theirs while it is open; each such read is an EMERGENCY read (a disclosure).
//! - A doctor adds a record to a patient's file while the patient has a live share with
//!   them or they hold an open emergency access to the patient (`may_add_for`).
//! - An administrator may know a record exists (ids, sizes, status) but never reads
//!   medical content: titles, descriptions, file names and the file are refused.
//! - Anybody else learns nothing, not even that the record exists.

use super::state::{Share, ShareEnd};
use super::{DenialReason, ShareId};
use crate::Timestamp;
use crate::account::{AccountStatus, Recipient, Role, UserId};
use crate::emergency::EmergencyId;
use crate::link::LinkId;

/// Who is asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer {
    pub id: UserId,
    pub role: Role,
}

/// What the rules need to know of a record.
#[derive(Debug, Clone, Copy)]
pub struct RecordFacts<'a> {
    pub owner: UserId,
    pub erased: bool,
    /// Every share of the record, or at least every share of the viewer's.
    pub shares: &'a [Share],
    /// The viewer's emergency access to the owner open at the moment asked, as the
    /// viewer's own emergency stream says (`Emergencies::open_for`).
    pub emergency: Option<EmergencyId>,
    /// The viewer held one that has ended (closed or past its time), and none is open:
    /// a read is then refused as such, not as if the record were unknown to them.
    pub emergency_ended: bool,
    /// The viewer's live proxy grant from the owner covering this record, as the
    /// owner's proxies stream says (`Proxies::standing_of`).
    pub proxy: Option<(uuid::Uuid, crate::proxy::ProxyScope)>,
}

/// The viewer's standing towards one record at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Owner,
    /// A doctor with this live share.
    Shared(ShareId),
    /// A doctor with this open emergency access to the owner.
    Emergency(EmergencyId),
    /// Someone acting for the owner under this proxy grant.
    Proxy(uuid::Uuid, crate::proxy::ProxyScope),
    /// An administrator: may know it exists, never read it.
    Oversight,
    /// A doctor whose share ended.
    Lapsed(ShareEnd),
    /// A doctor whose emergency access to the owner ended, with no share.
    EmergencyEnded,
    /// Nothing to do with it.
    Stranger,
}

/// Why a read of content is refused, and how to say so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Denial {
    /// Not the viewer's to see: answered as if it did not exist.
    #[error("there is no such record")]
    NotFound,
    #[error("administrators never read medical content")]
    Admin,
    #[error("the share of this record was revoked")]
    Revoked,
    #[error("the share of this record has expired")]
    Expired,
    /// The viewer had access, but the record was erased.
    #[error("the record was erased")]
    Erased,
    #[error("your emergency access to this patient has ended")]
    EmergencyEnded,
    #[error("this link has ended, or your access through it has: open the link again")]
    LinkEnded,
}

impl Denial {
    /// How the owner's access log names it.
    pub fn reason(self) -> DenialReason {
        match self {
            Denial::NotFound => DenialReason::NoShare,
            Denial::Admin => DenialReason::Admin,
            Denial::Revoked => DenialReason::ShareRevoked,
            Denial::Expired => DenialReason::ShareExpired,
            Denial::Erased => DenialReason::Erased,
            Denial::EmergencyEnded => DenialReason::EmergencyEnded,
            Denial::LinkEnded => DenialReason::LinkEnded,
        }
    }
}

/// The viewer's standing at `now`.
pub fn access(viewer: Viewer, record: RecordFacts<'_>, now: Timestamp) -> Access {
    if viewer.id == record.owner {
        return Access::Owner;
    }
    if viewer.role == Role::Admin {
        return Access::Oversight;
    }
    // A proxy acts for the owner, whatever their own role.
    if let Some((grant, scope)) = record.proxy {
        return Access::Proxy(grant, scope);
    }
    if viewer.role != Role::Doctor {
        return Access::Stranger;
    }
    let mine = || record.shares.iter().filter(|s| s.doctor == viewer.id);
    if let Some(live) = mine().find(|s| s.is_live(now)) {
        return Access::Shared(live.id);
    }
    // A share, where there is one, is the grant: only what nothing else allows is read
    // in an emergency.
    if let Some(emergency) = record.emergency {
        return Access::Emergency(emergency);
    }
    // The latest grant decides how it ended.
    match mine().next_back().and_then(|s| s.lapse(now)) {
        Some(end) => Access::Lapsed(end),
        None if record.emergency_ended => Access::EmergencyEnded,
        None => Access::Stranger,
    }
}

/// What a read of content is made under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    Owner,
    Share(ShareId),
    Emergency(EmergencyId),
    /// A share link's grant, read by someone with no account.
    Link(LinkId),
    /// A proxy's grant: read by the proxy, on behalf of the owner.
    Proxy(uuid::Uuid),
}

impl Grant {
    pub fn share(self) -> Option<ShareId> {
        match self {
            Grant::Share(share) => Some(share),
            _ => None,
        }
    }

    pub fn emergency(self) -> Option<EmergencyId> {
        match self {
            Grant::Emergency(e) => Some(e),
            _ => None,
        }
    }

    pub fn link(self) -> Option<LinkId> {
        match self {
            Grant::Link(l) => Some(l),
            _ => None,
        }
    }

    pub fn proxy(self) -> Option<uuid::Uuid> {
        match self {
            Grant::Proxy(g) => Some(g),
            _ => None,
        }
    }
}

/// A read through a share link, by someone with no account: the link's grant stands and
/// names the record (`ShareLink::reads`, which gives the link's owner), the link's owner
/// owns the record, and it is not erased. Anything else is as if the record did not
/// exist, except a grant that ended, which says so.
pub fn read_through_link(
    record: &super::Record,
    link: LinkId,
    reads: Result<UserId, crate::link::LinkDenial>,
) -> Result<Grant, Denial> {
    use crate::link::LinkDenial;
    match reads {
        Ok(owner) if record.owner() == Some(owner) => {
            if record.is_erased() {
                Err(Denial::Erased)
            } else {
                Ok(Grant::Link(link))
            }
        }
        Err(LinkDenial::GrantEnded | LinkDenial::Gone) => Err(Denial::LinkEnded),
        Ok(_) | Err(_) => Err(Denial::NotFound),
    }
}

impl Access {
    /// May read the file, under the grant it names.
    pub fn read_content(self, erased: bool) -> Result<Grant, Denial> {
        let granted = match self {
            Access::Owner => Ok(Grant::Owner),
            Access::Shared(share) => Ok(Grant::Share(share)),
            Access::Emergency(emergency) => Ok(Grant::Emergency(emergency)),
            Access::Proxy(grant, _) => Ok(Grant::Proxy(grant)),
            Access::Oversight => Err(Denial::Admin),
            Access::Lapsed(ShareEnd::Revoked) => Err(Denial::Revoked),
            Access::Lapsed(ShareEnd::Expired) => Err(Denial::Expired),
            Access::EmergencyEnded => Err(Denial::EmergencyEnded),
            Access::Stranger => return Err(Denial::NotFound),
        };
        if erased { Err(Denial::Erased) } else { granted }
    }

    /// May know the record exists (its id, size, status).
    pub fn sees_record(self) -> bool {
        matches!(
            self,
            Access::Owner
                | Access::Shared(_)
                | Access::Emergency(_)
                | Access::Proxy(..)
                | Access::Oversight
        )
    }

    /// May see its title, description and file name.
    pub fn sees_medical_content(self) -> bool {
        matches!(
            self,
            Access::Owner | Access::Shared(_) | Access::Emergency(_) | Access::Proxy(..)
        )
    }

    /// May act as the owner does on the record: share, revoke, decide its referrals (the
    /// owner, and a MANAGE proxy for them).
    pub fn manages(self) -> bool {
        matches!(
            self,
            Access::Owner | Access::Proxy(_, crate::proxy::ProxyScope::Manage)
        )
    }

    /// May see its shares and access log, share it and revoke shares.
    pub fn is_owner(self) -> bool {
        self == Access::Owner
    }
}

/// The viewer's standing towards a record folded from its stream; `None` when the stream
/// holds no record. `emergency`: the viewer's open emergency access to its owner.
pub fn standing(
    record: &super::Record,
    viewer: Viewer,
    now: Timestamp,
    emergency: Option<EmergencyId>,
) -> Option<Access> {
    standing_in(record, viewer, now, emergency, false, None)
}

/// `standing`, knowing also whether the viewer's emergency access to the owner ended and
/// their proxy grant from the owner.
pub fn standing_in(
    record: &super::Record,
    viewer: Viewer,
    now: Timestamp,
    emergency: Option<EmergencyId>,
    emergency_ended: bool,
    proxy: Option<(uuid::Uuid, crate::proxy::ProxyScope)>,
) -> Option<Access> {
    let owner = record.owner()?;
    let facts = RecordFacts {
        owner,
        erased: record.is_erased(),
        shares: record.shares(),
        emergency,
        emergency_ended,
        proxy,
    };
    Some(access(viewer, facts, now))
}

/// Only patients keep records of their own: asked before an upload streams a byte.
pub fn may_upload(viewer: Viewer) -> bool {
    viewer.role == Role::Patient
}

/// May begin an upload at all: a patient into their own file, or a doctor into a
/// patient's, which `may_add_for` decides once the patient is named (before a byte of
/// the file streams).
pub fn may_begin_upload(viewer: Viewer) -> bool {
    may_upload(viewer) || viewer.role == Role::Doctor
}

/// What adding a record to a patient's file asks of the doctor's standing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CareFacts {
    /// The patient, as their own stream says they are.
    pub patient: Recipient,
    /// One of the patient's records is shared with the doctor, live, now.
    pub live_share: bool,
    /// The doctor's emergency access to the patient open now.
    pub emergency: Option<EmergencyId>,
}

/// A doctor adds to an active patient's file while the patient shares a record with them
/// or they hold an open emergency access to the patient: asked before a byte streams,
/// and again by the decision.
pub fn may_add_for(viewer: Viewer, facts: &CareFacts) -> bool {
    viewer.role == Role::Doctor
        && viewer.id != facts.patient.id
        && facts.patient.role == Some(Role::Patient)
        && facts.patient.status == Some(AccountStatus::Active)
        && (facts.live_share || facts.emergency.is_some())
}

#[cfg(test)]
mod tests {
    use super::super::given::{ADMIN, DOCTOR, OTHER_DOCTOR, OTHER_PATIENT, PATIENT, at};
    use super::*;
    use uuid::Uuid;

    fn viewer(id: UserId, role: Role) -> Viewer {
        Viewer { id, role }
    }

    fn share(n: u128, expires: Option<i64>, ended: Option<ShareEnd>) -> Share {
        Share {
            id: ShareId::from_uuid(Uuid::from_u128(n)),
            doctor: DOCTOR,
            expires_at: expires.map(at),
            ended,
        }
    }

    fn facts(shares: &[Share]) -> RecordFacts<'_> {
        RecordFacts {
            owner: PATIENT,
            erased: false,
            shares,
            emergency: None,
            emergency_ended: false,
            proxy: None,
        }
    }

    const EMERGENCY: EmergencyId = EmergencyId::from_uuid(Uuid::from_u128(0xe1));

    #[test]
    fn the_owner_reads_and_sees_everything() {
        let a = access(viewer(PATIENT, Role::Patient), facts(&[]), at(0));
        assert_eq!(a, Access::Owner);
        assert_eq!(a.read_content(false), Ok(Grant::Owner));
        assert!(a.sees_medical_content() && a.is_owner());
    }

    #[test]
    fn a_doctor_reads_while_the_share_is_live_and_not_from_its_expiry_on() {
        let shares = [share(1, Some(60), None)];
        let doctor = viewer(DOCTOR, Role::Doctor);
        let live = access(doctor, facts(&shares), at(59));
        assert_eq!(live.read_content(false), Ok(Grant::Share(shares[0].id)));
        assert!(live.sees_medical_content() && !live.is_owner());
        let expired = access(doctor, facts(&shares), at(60));
        assert_eq!(expired.read_content(false), Err(Denial::Expired));
        assert!(!expired.sees_record());
    }

    #[test]
    fn a_revoked_share_is_refused_and_a_new_grant_reads_again() {
        let doctor = viewer(DOCTOR, Role::Doctor);
        let revoked = [share(1, None, Some(ShareEnd::Revoked))];
        assert_eq!(
            access(doctor, facts(&revoked), at(0)).read_content(false),
            Err(Denial::Revoked)
        );
        let again = [revoked[0], share(2, None, None)];
        assert_eq!(
            access(doctor, facts(&again), at(0)).read_content(false),
            Ok(Grant::Share(again[1].id))
        );
    }

    #[test]
    fn admins_see_that_it_exists_but_never_read_it() {
        let shares = [share(1, None, None)];
        let a = access(viewer(ADMIN, Role::Admin), facts(&shares), at(0));
        assert_eq!(a, Access::Oversight);
        assert_eq!(a.read_content(false), Err(Denial::Admin));
        assert!(a.sees_record() && !a.sees_medical_content());
    }

    #[test]
    fn strangers_learn_nothing() {
        let shares = [share(1, None, None)];
        for stranger in [
            viewer(OTHER_PATIENT, Role::Patient),
            viewer(OTHER_DOCTOR, Role::Doctor),
        ] {
            let a = access(stranger, facts(&shares), at(0));
            assert_eq!(a, Access::Stranger);
            assert_eq!(a.read_content(false), Err(Denial::NotFound));
            assert!(!a.sees_record());
        }
    }

    #[test]
    fn an_erased_record_is_gone_for_those_who_had_it_and_unknown_to_others() {
        let owner = access(viewer(PATIENT, Role::Patient), facts(&[]), at(0));
        assert_eq!(owner.read_content(true), Err(Denial::Erased));
        let stranger = access(viewer(OTHER_PATIENT, Role::Patient), facts(&[]), at(0));
        assert_eq!(stranger.read_content(true), Err(Denial::NotFound));
    }

    #[test]
    fn only_patients_upload() {
        assert!(may_upload(viewer(PATIENT, Role::Patient)));
        assert!(!may_upload(viewer(DOCTOR, Role::Doctor)));
        assert!(!may_upload(viewer(ADMIN, Role::Admin)));
    }

    #[test]
    fn an_open_emergency_access_reads_every_record_of_the_patient_but_a_share_comes_first() {
        let doctor = viewer(DOCTOR, Role::Doctor);
        let in_emergency = RecordFacts {
            emergency: Some(EMERGENCY),
            ..facts(&[])
        };
        let a = access(doctor, in_emergency, at(0));
        assert_eq!(a, Access::Emergency(EMERGENCY));
        assert_eq!(a.read_content(false), Ok(Grant::Emergency(EMERGENCY)));
        assert!(a.sees_medical_content() && !a.is_owner());
        assert_eq!(a.read_content(true), Err(Denial::Erased));
        // A revoked share does not stand in the way of an emergency.
        let revoked = [share(1, None, Some(ShareEnd::Revoked))];
        let after_revoke = RecordFacts {
            emergency: Some(EMERGENCY),
            ..facts(&revoked)
        };
        assert_eq!(
            access(doctor, after_revoke, at(0)),
            Access::Emergency(EMERGENCY)
        );
        let live = [share(2, None, None)];
        let shared = RecordFacts {
            emergency: Some(EMERGENCY),
            ..facts(&live)
        };
        assert_eq!(access(doctor, shared, at(0)), Access::Shared(live[0].id));
        // Once it is closed or past, reading is refused as ended; to a doctor who never
        // held one, the record is unknown.
        let ended = RecordFacts {
            emergency_ended: true,
            ..facts(&[])
        };
        let a = access(doctor, ended, at(0));
        assert_eq!(a.read_content(false), Err(Denial::EmergencyEnded));
        assert!(!a.sees_record());
        assert_eq!(access(doctor, facts(&[]), at(0)), Access::Stranger);
    }

    #[test]
    fn a_proxy_reads_for_the_owner_and_only_a_manage_proxy_acts_as_them() {
        use crate::proxy::ProxyScope;
        let grant = Uuid::from_u128(0x9a);
        let parent = viewer(OTHER_PATIENT, Role::Patient);
        let reading = RecordFacts {
            proxy: Some((grant, ProxyScope::Read)),
            ..facts(&[])
        };
        let a = access(parent, reading, at(0));
        assert_eq!(a.read_content(false), Ok(Grant::Proxy(grant)));
        assert!(a.sees_medical_content() && !a.is_owner() && !a.manages());
        let managing = RecordFacts {
            proxy: Some((grant, ProxyScope::Manage)),
            ..facts(&[])
        };
        assert!(access(parent, managing, at(0)).manages());
        // Without a grant, the same person is a stranger; an administrator never reads.
        assert_eq!(access(parent, facts(&[]), at(0)), Access::Stranger);
        let admin = access(viewer(ADMIN, Role::Admin), managing, at(0));
        assert_eq!(admin.read_content(false), Err(Denial::Admin));
    }

    #[test]
    fn a_doctor_adds_to_a_file_while_shared_with_or_in_an_emergency() {
        let patient = Recipient {
            id: PATIENT,
            role: Some(Role::Patient),
            status: Some(AccountStatus::Active),
        };
        let care = |live_share, emergency| CareFacts {
            patient,
            live_share,
            emergency,
        };
        let doctor = viewer(DOCTOR, Role::Doctor);
        assert!(may_add_for(doctor, &care(true, None)));
        assert!(may_add_for(doctor, &care(false, Some(EMERGENCY))));
        assert!(!may_add_for(doctor, &care(false, None)));
        assert!(!may_add_for(viewer(ADMIN, Role::Admin), &care(true, None)));
        assert!(!may_add_for(
            viewer(OTHER_PATIENT, Role::Patient),
            &care(true, None)
        ));
        let suspended = CareFacts {
            patient: Recipient {
                status: Some(AccountStatus::Suspended),
                ..patient
            },
            ..care(true, None)
        };
        assert!(!may_add_for(doctor, &suspended));
    }
}
