//! The story holds together: each step is what the domain's own decision makes of the
//! stream as it stands (where the decision needs no fact the story lacks, such as a
//! password compared with its hash), and each person ends as the story tells.

use super::*;
use crate::account::user::{
    self, ChangePassword, DecideProfileChange, Erase, Logout, RequestProfileChange, RevokeSession,
    User,
};
use crate::account::{AccountStatus, Recipient, Role};
use crate::emergency::{self, Emergencies, EmergencyEvent, EmergencyLimits, OpenEmergency};
use crate::record::{self, Record, ShareRecord, Viewer};
use std::collections::BTreeMap;
use std::fmt::Debug;

fn shown<E: Debug>(decided: Result<Vec<E>, impl Debug>) -> Result<Vec<E>, String> {
    decided.map_err(|e| format!("{e:?}"))
}

/// What the user decision behind `event` decides on `state`; `None` where it needs a fact
/// the story does not hold (registration, sign-in) or there is no decision (read marks).
fn user_decision(
    state: &User,
    by: Option<UserId>,
    event: &UserEvent,
) -> Option<Result<Vec<UserEvent>, String>> {
    let admin = || by.expect("an administrator acts");
    Some(match event {
        UserEvent::UserApproved(_) => shown(user::approve(state)),
        UserEvent::UserRejected(e) => shown(user::reject(state, e.reason.clone())),
        UserEvent::UserSuspended(e) => shown(user::suspend(state, admin(), e.reason.clone())),
        UserEvent::UserErased(e) => shown(user::erase(
            state,
            Erase {
                by: admin(),
                basis: e.basis,
                reason: e.reason.clone(),
                active_admins: 1,
            },
        )),
        UserEvent::LoggedOut(e) => shown(user::logout(state, Logout { session: e.session })),
        UserEvent::SessionRevoked(e) => shown(user::revoke_session(
            state,
            RevokeSession { session: e.session },
        )),
        UserEvent::PasswordChanged(e) => shown(user::change_password(
            state,
            ChangePassword {
                current_password_matches: true,
                password_hash: e.password_hash.clone(),
                kept_session: e.kept_session,
            },
        )),
        UserEvent::PasswordResetRequested(_) => shown(user::request_password_reset(state)),
        UserEvent::PasswordReset(e) => shown(user::reset_password(state, e.password_hash.clone())),
        UserEvent::ProfilePhotoChanged(e) => {
            shown(user::change_photo(state, e.sha256.clone(), e.size))
        }
        UserEvent::NotificationPreferencesSet(e) => {
            shown(user::set_preferences(state, e.preferences.clone()))
        }
        UserEvent::ProfileChangeRequested(e) => shown(user::request_profile_change(
            state,
            RequestProfileChange {
                change: e.change,
                name: e.name.clone(),
                phone: e.phone.clone(),
            },
        )),
        UserEvent::ProfileChangeDecided(e) => shown(user::decide_profile_change(
            state,
            DecideProfileChange {
                // Someone other than the person: the story's administrator decides.
                by: crate::account::UserId::from_uuid(uuid::Uuid::max()),
                change: e.change,
                approve: e.approved,
                reason: e.reason.clone(),
            },
        )),
        // Each of these needs what the command layer found: a password or a code compared,
        // when the session last signed in.
        UserEvent::UserRegistered(_)
        | UserEvent::LoginSucceeded(_)
        | UserEvent::LoginFailed(_)
        | UserEvent::NotificationsRead(_)
        | UserEvent::TotpEnrolled(_)
        | UserEvent::TotpDisabled(_)
        | UserEvent::RecoveryCodesRegenerated(_)
        | UserEvent::SecondFactorFailed(_)
        | UserEvent::Reauthenticated(_)
        | UserEvent::PasskeyRegistered(_)
        | UserEvent::PasskeyRemoved(_)
        | UserEvent::ReadTokenCreated(_) => return None,
        UserEvent::ReadTokenRevoked(e) => shown(user::revoke_read_token(state, e.token)),
        UserEvent::DataExported(e) => {
            let exporter = match e.proxy {
                None => crate::account::Exporter::Patient,
                Some(grant) => crate::account::Exporter::Proxy(grant),
            };
            shown(user::export_data(state, e.by, exporter, e.records.clone()))
        }
        UserEvent::MfaReset(e) => shown(user::reset_mfa(
            state,
            user::ResetMfa {
                by: admin(),
                reason: e.reason.clone(),
            },
        )),
    })
}

/// What the record decision behind `event` decides on `state`, asked by `by` at `sample.at`;
/// `people` is everyone's state so far (a share asks after its doctor).
fn record_decision(
    state: &Record,
    sample: &Sample,
    event: &RecordEvent,
    people: &BTreeMap<UserId, User>,
    emergencies: &BTreeMap<UserId, Emergencies>,
    links: &BTreeMap<crate::link::LinkId, crate::link::ShareLink>,
    proxies: &BTreeMap<UserId, crate::proxy::Proxies>,
) -> Result<Vec<RecordEvent>, String> {
    let now = sample.at;
    let by = || viewer(sample, people);
    let emergency = || {
        let owner = state.owner().expect("read after the upload");
        emergencies
            .get(&by().id)
            .map_or(crate::emergency::EmergencyStanding::Never, |e| {
                e.standing(owner, now)
            })
    };
    let reader = || record::ReaderFacts {
        emergency: emergency(),
        proxy: state
            .owner()
            .and_then(|owner| proxies.get(&owner))
            .and_then(|p| p.standing_of(by().id, Some(state.id()), now)),
    };
    match event {
        RecordEvent::RecordUploaded(e) => shown(record::upload(
            state,
            record::UploadRecord {
                by: by(),
                stored: e.clone(),
                care: None,
                proxy: None,
            },
        )),
        RecordEvent::ReferralRequested(e) => shown(record::refer(
            state,
            record::Refer {
                by: by(),
                referral: e.referral,
                to: Recipient::of(&people[&e.to]),
                note: e.note.clone(),
                now,
            },
        )),
        RecordEvent::ReferralDecided(e) => {
            let to = state.referral(e.referral).expect("asked before").to;
            shown(record::decide_referral(
                state,
                record::DecideReferral {
                    by: by(),
                    referral: e.referral,
                    approve: e.approved,
                    share: super::REFERRED_SHARE,
                    to: Recipient::of(&people[&to]),
                    now,
                    proxy: None,
                },
            ))
        }
        RecordEvent::RecordShared(e) => shown(record::share(
            state,
            ShareRecord {
                by: by(),
                share: e.share,
                doctor: Recipient::of(&people[&e.doctor]),
                expires_at: e.expires_at,
                now,
                proxy: None,
            },
        )),
        RecordEvent::ShareRevoked(e) => shown(record::revoke(state, by(), e.share, now, None)),
        RecordEvent::ShareExpiring(e) => Ok(record::notice_expiry(state, e.share, now)),
        RecordEvent::ShareExpired(e) => Ok(record::expire(state, e.share, now)),
        RecordEvent::RecordAccessed(e) if e.link.is_some() => {
            let id = e.link.expect("checked");
            let link = &links[&id];
            let grant = link.live_grant(super::LINK_GRANT, now).map(|g| g.id);
            let reads = link.reads(grant.unwrap_or_default(), state.id(), now);
            Ok(record::read_via_link(state, id, reads, e.action).events)
        }
        RecordEvent::RecordAccessed(e) => {
            Ok(record::read_content(state, by(), e.action, now, reader()).events)
        }
        RecordEvent::RecordAccessDenied(e) => {
            Ok(record::read_content(state, by(), e.action, now, reader()).events)
        }
        RecordEvent::RecordErased(e) => shown(record::erase_record(
            state,
            by(),
            e.basis,
            e.reason.clone(),
            now,
            None,
        )),
    }
}

fn viewer(sample: &Sample, people: &BTreeMap<UserId, User>) -> Viewer {
    let id = sample.actor.expect("someone acts");
    let role = people[&id].role().expect("the actor is registered");
    Viewer { id, role }
}

/// What the emergency decision behind `event` decides; the session's second factor is a
/// fact the story does not hold (it signs nobody in with one), so it is given.
fn emergency_decision(
    state: &Emergencies,
    sample: &Sample,
    event: &EmergencyEvent,
    people: &BTreeMap<UserId, User>,
) -> Result<Vec<EmergencyEvent>, String> {
    let now = sample.at;
    match event {
        EmergencyEvent::EmergencyAccessOpened(e) => {
            let by = viewer(sample, people);
            shown(emergency::open(
                state,
                OpenEmergency {
                    by,
                    by_active: people[&by.id].status() == Some(AccountStatus::Active),
                    session_proved: true,
                    patient: Recipient::of(&people[&e.patient]),
                    access: e.access,
                    reason: e.reason.clone(),
                    now,
                    ttl_micros: e.expires_at.as_micros() - e.opened_at.as_micros(),
                    limits: EmergencyLimits::default(),
                },
            ))
        }
        EmergencyEvent::EmergencyAccessClosed(e) => shown(emergency::close(
            state,
            viewer(sample, people),
            e.access,
            now,
        )),
        EmergencyEvent::EmergencyAccessExpired(e) => Ok(emergency::expire(state, e.access, now)),
        EmergencyEvent::EmergencyAccessReviewed(e) => shown(emergency::review(
            state,
            viewer(sample, people),
            e.access,
            e.justified,
            e.note.clone(),
        )),
    }
}

#[test]
fn every_step_is_what_its_decision_decides() {
    let mut people: BTreeMap<UserId, User> = BTreeMap::new();
    let mut emergencies: BTreeMap<UserId, Emergencies> = BTreeMap::new();
    let mut links: BTreeMap<crate::link::LinkId, crate::link::ShareLink> = BTreeMap::new();
    let mut proxies: BTreeMap<UserId, crate::proxy::Proxies> = BTreeMap::new();
    // The rest of a decision that made more than one event: the next steps.
    let mut follows: std::collections::VecDeque<RecordEvent> = Default::default();
    let mut record = Record::new(RECORD);
    let mut last = None;
    let mut retired = Vec::new();
    let mut holds = BTreeMap::new();
    for (index, sample) in story().iter().enumerate() {
        assert!(last <= Some(sample.at), "step {index} goes back in time");
        last = Some(sample.at);
        match &sample.event {
            Event::User(id, event) => {
                let state = people.entry(*id).or_insert_with(|| User::new(*id));
                if let Some(decided) = user_decision(state, sample.actor, event) {
                    assert_eq!(decided, Ok(vec![event.clone()]), "step {index}");
                }
                state.apply(event);
            }
            Event::Record(id, event) => {
                assert_eq!(*id, RECORD, "step {index}: one record");
                if let Some(expected) = follows.pop_front() {
                    assert_eq!(&expected, event, "step {index}");
                } else {
                    let decided = record_decision(
                        &record,
                        sample,
                        event,
                        &people,
                        &emergencies,
                        &links,
                        &proxies,
                    )
                    .unwrap_or_else(|e| panic!("step {index}: {e}"));
                    assert_eq!(decided.first(), Some(event), "step {index}");
                    follows.extend(decided.into_iter().skip(1));
                }
                record.apply(event);
            }
            Event::Proxy(patient, event) => {
                use crate::proxy::{self, ProxyEvent};
                let state = proxies
                    .entry(*patient)
                    .or_insert_with(|| crate::Aggregate::new(*patient));
                let by = viewer(sample, &people);
                let decided = match event {
                    ProxyEvent::ProxyInvited(e) => shown(proxy::invite(
                        state,
                        proxy::InviteProxy {
                            by,
                            grant: e.grant,
                            email: e.email.clone(),
                            scope: e.scope,
                            records: None,
                            expires_at: e.expires_at,
                            now: sample.at,
                        },
                    )),
                    ProxyEvent::ProxyAccepted(e) => shown(proxy::accept(
                        state,
                        proxy::AcceptProxy {
                            by,
                            grant: e.grant,
                            now: sample.at,
                        },
                    )),
                    ProxyEvent::ProxyRevoked(e) => shown(proxy::revoke(state, by, e.grant)),
                };
                assert_eq!(decided, Ok(vec![event.clone()]), "step {index}");
                state.apply(event);
            }
            Event::Link(id, event) => {
                use crate::link::{self, ShareLinkEvent};
                let state = links
                    .entry(*id)
                    .or_insert_with(|| crate::Aggregate::new(*id));
                let decided = match event {
                    ShareLinkEvent::ShareLinkCreated(e) => shown(link::create(
                        state,
                        link::CreateLink {
                            by: viewer(sample, &people),
                            records: e
                                .records
                                .iter()
                                .map(|r| link::LinkedRecord {
                                    id: *r,
                                    owner: record.owner(),
                                    erased: record.is_erased(),
                                })
                                .collect(),
                            expires_at: e.expires_at,
                            max_opens: e.max_opens,
                            passcode_hash: e.passcode_hash.clone(),
                            now: sample.at,
                        },
                    )),
                    ShareLinkEvent::ShareLinkOpened(e) => Ok(link::open(
                        state,
                        link::OpenLink {
                            passcode_matches: true,
                            from: e.from.clone(),
                            grant: e.grant,
                            now: sample.at,
                        },
                    )
                    .events),
                    ShareLinkEvent::ShareLinkPasscodeRefused(e) => Ok(link::open(
                        state,
                        link::OpenLink {
                            passcode_matches: false,
                            from: e.from.clone(),
                            grant: uuid::Uuid::nil(),
                            now: sample.at,
                        },
                    )
                    .events),
                    ShareLinkEvent::ShareLinkRevoked(_) => {
                        shown(link::revoke(state, viewer(sample, &people).id))
                    }
                };
                assert_eq!(decided, Ok(vec![event.clone()]), "step {index}");
                state.apply(event);
            }
            Event::Emergency(doctor, event) => {
                let state = emergencies
                    .entry(*doctor)
                    .or_insert_with(|| crate::Aggregate::new(*doctor));
                let decided = emergency_decision(state, sample, event, &people);
                assert_eq!(decided, Ok(vec![event.clone()]), "step {index}");
                state.apply(event);
            }
            Event::KeyEpoch(n, event) => {
                let epoch = crate::erasure::KeyEpoch::new(*n);
                assert_eq!(crate::erasure::retire(&epoch), vec![event.clone()]);
                retired.push(*n);
            }
            Event::LegalHold(id, event) => {
                let state = holds
                    .entry(*id)
                    .or_insert_with(|| crate::erasure::LegalHold::new(*id));
                let decided = match event {
                    crate::erasure::LegalHoldEvent::LegalHoldPlaced(e) => {
                        crate::erasure::place(state, e.by, e.subject, e.reason.clone())
                    }
                    crate::erasure::LegalHoldEvent::LegalHoldLifted(e) => {
                        crate::erasure::lift(state, e.by)
                    }
                };
                assert_eq!(decided, Ok(vec![event.clone()]), "step {index}");
                state.apply(event);
            }
            Event::Erasure(subject, event) => {
                let crate::erasure::ErasureEvent::ErasureCompleted(done) = event;
                let epochs: Vec<_> = done
                    .epochs
                    .iter()
                    .map(|n| (*n, retired.contains(n)))
                    .collect();
                let state = crate::erasure::ErasureCompletion::new(*subject);
                assert_eq!(
                    crate::erasure::complete(&state, done.owner, &epochs),
                    Ok(vec![event.clone()]),
                    "step {index}"
                );
            }
        }
    }

    let status = |id| people[&id].status();
    assert_eq!(status(ADMIN), Some(AccountStatus::Active));
    assert_eq!(status(PATIENT), Some(AccountStatus::Active));
    assert_eq!(status(DOCTOR), Some(AccountStatus::Active));
    assert_eq!(status(OTHER_DOCTOR), Some(AccountStatus::Rejected));
    assert_eq!(status(OTHER_PATIENT), Some(AccountStatus::Erased));
    assert_eq!(people[&DOCTOR].role(), Some(Role::Doctor));
    assert!(people.values().all(|p| p.open_session_count() == 0));
    assert!(people.values().all(|p| p.pending_change().is_none()));
    assert!(follows.is_empty(), "a decision's events were cut short");
    assert_eq!(status(SPECIALIST), Some(AccountStatus::Active));
    assert!(record.is_erased());
    assert!(record.expiry_noticed(OTHER_SHARE));
}

#[test]
fn each_stream_begins_with_its_registration_and_each_signs_in_as_themself() {
    // What no decision above checks: registration and sign-in take facts the story lacks.
    let mut registered = Vec::new();
    for sample in story() {
        let Event::User(id, event) = sample.event else {
            continue;
        };
        match &event {
            UserEvent::UserRegistered(_) => {
                assert!(!registered.contains(&id), "{id} registers twice");
                registered.push(id);
            }
            UserEvent::LoginSucceeded(_) => assert_eq!(sample.actor, Some(id)),
            _ => {}
        }
        assert!(registered.contains(&id), "{id} acts before registering");
    }
}
