//! The notifications projector, set-based: what a batch needs (the administrators, the
//! owners of the records and the doctors of the shares it names, its recipients'
//! preferences) is read in a few queries; its events are folded in memory in seq order,
//! exactly as one-at-a-time statements would change the rows (a preference set at one
//! event governs the next; a read mark marks the notices before it); the result is
//! written with one statement per table and kind of change. Read marks of rows already
//! stored are the exception, one statement each: people mark notices read rarely.
//!
//! What the database would refuse one event at a time (a record, share, administrator or
//! notification already in the view) is refused by the fold, at that event.

use crate::{
    ProjectionError, Projector,
    projector::{read_as, stream_of},
};
use chrono::{DateTime, Utc};
use commands::RecordedEvent;
use domain::{
    account::{AccountStatus, Role, UserEvent, UserRegistered},
    emergency::EmergencyEvent,
    erasure::ErasureEvent,
    link::ShareLinkEvent,
    notification::NotificationKind,
    record::RecordEvent,
};
use sqlx::PgConnection;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use uuid::Uuid;

pub struct NotificationsProjector;

/// Namespace of the notification ids (UUID v5 of `seq:recipient:kind`).
const ID_NAMESPACE: Uuid = Uuid::from_u128(0x6d65_6463_6861_696e_2d6e_6f74_6966_7931);

pub fn notification_id(seq: i64, user: Uuid, kind: NotificationKind) -> Uuid {
    Uuid::new_v5(
        &ID_NAMESPACE,
        format!("{seq}:{user}:{}", kind.as_str()).as_bytes(),
    )
}

impl Projector for NotificationsProjector {
    fn name(&self) -> &'static str {
        "notifications"
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "notifications",
            "notification_preferences",
            "notification_admins",
            "notification_records",
            "notification_shares",
        ]
    }

    fn event_types(&self) -> &'static [&'static str] {
        use domain::{
            EventName as _,
            account::user::{
                DataExported, MfaReset, NotificationPreferencesSet, NotificationsRead,
                PasskeyRegistered, PasskeyRemoved, PasswordChanged, PasswordReset,
                ProfileChangeDecided, ProfileChangeRequested, ReadTokenCreated,
                RecoveryCodesRegenerated, SecondFactorFailed, TotpDisabled, TotpEnrolled,
                UserApproved, UserErased, UserRegistered, UserRejected, UserSuspended,
            },
            emergency::{EmergencyAccessOpened, EmergencyAccessReviewed},
            erasure::ErasureCompleted,
            link::{ShareLinkOpened, ShareLinkPasscodeRefused},
            proxy::ProxyAccepted,
            record::{
                RecordAccessed, RecordShared, RecordUploaded, ReferralDecided, ReferralRequested,
                ShareExpiring, ShareRevoked,
            },
        };
        &[
            UserRegistered::NAME,
            UserApproved::NAME,
            UserRejected::NAME,
            UserSuspended::NAME,
            UserErased::NAME,
            ProfileChangeRequested::NAME,
            ProfileChangeDecided::NAME,
            PasswordChanged::NAME,
            PasswordReset::NAME,
            TotpEnrolled::NAME,
            TotpDisabled::NAME,
            RecoveryCodesRegenerated::NAME,
            SecondFactorFailed::NAME,
            MfaReset::NAME,
            PasskeyRegistered::NAME,
            PasskeyRemoved::NAME,
            ReadTokenCreated::NAME,
            DataExported::NAME,
            NotificationPreferencesSet::NAME,
            NotificationsRead::NAME,
            RecordUploaded::NAME,
            RecordShared::NAME,
            ShareRevoked::NAME,
            ShareExpiring::NAME,
            RecordAccessed::NAME,
            ErasureCompleted::NAME,
            ReferralRequested::NAME,
            ReferralDecided::NAME,
            EmergencyAccessOpened::NAME,
            EmergencyAccessReviewed::NAME,
            ShareLinkOpened::NAME,
            ShareLinkPasscodeRefused::NAME,
            ProxyAccepted::NAME,
        ]
    }

    crate::set_based!(apply);
}

/// An event as this projector reads it: by its stream's category.
enum Parsed {
    User(Uuid, UserEvent),
    Record(Uuid, RecordEvent),
    Erasure(Uuid, ErasureEvent),
    /// On the doctor's stream.
    Emergency(Uuid, EmergencyEvent),
    Link(ShareLinkEvent),
    /// On the patient's proxies stream.
    Proxy(Uuid, domain::proxy::ProxyEvent),
    Other,
}

fn parse(event: &RecordedEvent) -> Result<Parsed, ProjectionError> {
    let stream = stream_of(event)?;
    Ok(match stream.category() {
        "user" => Parsed::User(stream.id(), read_as(event)?),
        "record" => Parsed::Record(stream.id(), read_as(event)?),
        "record_erasure" => Parsed::Erasure(stream.id(), read_as(event)?),
        domain::emergency::EMERGENCY_CATEGORY => Parsed::Emergency(stream.id(), read_as(event)?),
        domain::link::LINK_CATEGORY => Parsed::Link(read_as(event)?),
        domain::proxy::PROXY_CATEGORY => Parsed::Proxy(stream.id(), read_as(event)?),
        _ => Parsed::Other,
    })
}

type Time = DateTime<Utc>;

/// What one notification says besides its kind.
#[derive(Default, Clone, Copy)]
struct About {
    record: Option<Uuid>,
    subject: Option<Uuid>,
    detail: Option<&'static str>,
}

struct Note {
    id: Uuid,
    user: Uuid,
    kind: &'static str,
    seq: i64,
    about: About,
    at: Time,
    read_seq: Option<i64>,
}

/// A read mark, for the notices stored before the batch.
struct ReadMark {
    user: Uuid,
    seq: i64,
    ids: Vec<Uuid>,
    up_to: i64,
}

#[derive(Default)]
struct Fold {
    admins_before: BTreeSet<Uuid>,
    admins: BTreeSet<Uuid>,
    owners: HashMap<Uuid, Uuid>,
    new_records: Vec<(Uuid, Uuid)>,
    doctors: HashMap<Uuid, Uuid>,
    new_shares: Vec<(Uuid, Uuid, Uuid)>,
    /// Each recipient's preferences as they stand: `(in_app, email)` by kind.
    prefs: HashMap<Uuid, HashMap<String, (bool, bool)>>,
    pref_writes: BTreeMap<(Uuid, &'static str), (bool, bool)>,
    notes: Vec<Note>,
    note_ids: HashSet<Uuid>,
    mail: Vec<(Uuid, Uuid, &'static str, i64)>,
    marks: Vec<ReadMark>,
}

async fn apply(
    tx: &mut PgConnection,
    events: &[&RecordedEvent],
) -> Result<(), (usize, ProjectionError)> {
    let mut parsed = Vec::with_capacity(events.len());
    for (index, event) in events.iter().enumerate() {
        parsed.push(parse(event).map_err(|e| (index, e))?);
    }
    let mut fold = load(tx, &parsed).await.map_err(|e| (0, e.into()))?;
    for (index, (event, parsed)) in events.iter().zip(parsed).enumerate() {
        fold.event(event, parsed).map_err(|e| (index, e))?;
    }
    fold.write(tx).await.map_err(|e| (0, e.into()))
}

/// What the batch's events need from the tables.
async fn load(tx: &mut PgConnection, parsed: &[Parsed]) -> Result<Fold, sqlx::Error> {
    let mut fold = Fold::default();
    let (mut records, mut shares, mut users) = (Vec::new(), Vec::new(), Vec::new());
    for event in parsed {
        match event {
            Parsed::User(user, _) => users.push(*user),
            Parsed::Record(record, event) => {
                records.push(*record);
                match event {
                    RecordEvent::RecordUploaded(e) => users.push(e.owner.as_uuid()),
                    RecordEvent::RecordShared(e) => {
                        shares.push(e.share.as_uuid());
                        users.push(e.doctor.as_uuid());
                    }
                    RecordEvent::ShareRevoked(e) => shares.push(e.share.as_uuid()),
                    RecordEvent::ShareExpiring(e) => shares.push(e.share.as_uuid()),
                    RecordEvent::ReferralDecided(e) => {
                        users.extend([e.from.as_uuid(), e.to.as_uuid()]);
                    }
                    _ => {}
                }
            }
            Parsed::Erasure(_, ErasureEvent::ErasureCompleted(e)) => users.push(e.owner.as_uuid()),
            Parsed::Emergency(doctor, event) => {
                users.push(*doctor);
                match event {
                    EmergencyEvent::EmergencyAccessOpened(e) => users.push(e.patient.as_uuid()),
                    EmergencyEvent::EmergencyAccessReviewed(e) => users.push(e.patient.as_uuid()),
                    _ => {}
                }
            }
            Parsed::Link(ShareLinkEvent::ShareLinkOpened(e)) => users.push(e.owner.as_uuid()),
            Parsed::Link(ShareLinkEvent::ShareLinkPasscodeRefused(e)) => {
                users.push(e.owner.as_uuid());
            }
            Parsed::Proxy(patient, domain::proxy::ProxyEvent::ProxyAccepted(e)) => {
                users.extend([*patient, e.proxy.as_uuid()]);
            }
            Parsed::Link(_) | Parsed::Proxy(..) | Parsed::Other => {}
        }
    }
    // Administrators are told of registrations and of every emergency access.
    let tells_admins = |p: &Parsed| {
        matches!(
            p,
            Parsed::User(..) | Parsed::Emergency(_, EmergencyEvent::EmergencyAccessOpened(_))
        )
    };
    if parsed.iter().any(tells_admins) {
        let admins: Vec<Uuid> = sqlx::query_scalar("SELECT user_id FROM notification_admins")
            .fetch_all(&mut *tx)
            .await?;
        fold.admins_before = admins.into_iter().collect();
        fold.admins = fold.admins_before.clone();
        users.extend(&fold.admins);
    }
    if !records.is_empty() {
        records.sort_unstable();
        records.dedup();
        let rows: Vec<(Uuid, Uuid)> = sqlx::query_as(
            "SELECT record_id, owner_id FROM notification_records WHERE record_id = ANY($1)",
        )
        .bind(&records)
        .fetch_all(&mut *tx)
        .await?;
        users.extend(rows.iter().map(|(_, owner)| *owner));
        fold.owners = rows.into_iter().collect();
    }
    if !shares.is_empty() {
        let rows: Vec<(Uuid, Uuid)> = sqlx::query_as(
            "SELECT share_id, doctor_id FROM notification_shares WHERE share_id = ANY($1)",
        )
        .bind(&shares)
        .fetch_all(&mut *tx)
        .await?;
        users.extend(rows.iter().map(|(_, doctor)| *doctor));
        fold.doctors = rows.into_iter().collect();
    }
    if !users.is_empty() {
        users.sort_unstable();
        users.dedup();
        let rows: Vec<(Uuid, String, bool, bool)> = sqlx::query_as(
            "SELECT user_id, kind, in_app, email FROM notification_preferences \
             WHERE user_id = ANY($1)",
        )
        .bind(&users)
        .fetch_all(&mut *tx)
        .await?;
        for (user, kind, in_app, email) in rows {
            fold.prefs
                .entry(user)
                .or_default()
                .insert(kind, (in_app, email));
        }
    }
    Ok(fold)
}

impl Fold {
    fn event(&mut self, event: &RecordedEvent, parsed: Parsed) -> Result<(), ProjectionError> {
        match parsed {
            Parsed::User(user, e) => self.user_event(event, user, e),
            Parsed::Record(record, e) => self.record_event(event, record, e),
            Parsed::Erasure(record, ErasureEvent::ErasureCompleted(e)) => {
                // A record's erasure is complete: its owner is told (a person's own
                // erasure tells no one: there is no one left to tell).
                let about = About {
                    record: Some(record),
                    ..About::default()
                };
                let kind = NotificationKind::ErasureCompleted;
                self.notify(event, e.owner.as_uuid(), kind, about)
            }
            Parsed::Emergency(doctor, e) => self.emergency_event(event, doctor, e),
            // The owner hears of each opening (where from is on the ledger, sealed, and
            // opened when the notice is read), and when wrong passcodes lock the link.
            Parsed::Link(ShareLinkEvent::ShareLinkOpened(e)) => {
                let kind = NotificationKind::LinkOpened;
                self.notify(event, e.owner.as_uuid(), kind, About::default())
            }
            Parsed::Link(ShareLinkEvent::ShareLinkPasscodeRefused(e)) if e.locked => {
                let kind = NotificationKind::LinkLocked;
                self.notify(event, e.owner.as_uuid(), kind, About::default())
            }
            // The proxy is told they now look after the patient.
            Parsed::Proxy(patient, domain::proxy::ProxyEvent::ProxyAccepted(e)) => {
                let about = About {
                    subject: Some(patient),
                    ..About::default()
                };
                self.notify(
                    event,
                    e.proxy.as_uuid(),
                    NotificationKind::ProxyGranted,
                    about,
                )
            }
            Parsed::Link(_) | Parsed::Proxy(..) | Parsed::Other => Ok(()),
        }
    }

    /// The patient is told of an emergency access at once, and of its review; every
    /// administrator is told of each opening, for the review queue.
    fn emergency_event(
        &mut self,
        event: &RecordedEvent,
        doctor: Uuid,
        parsed: EmergencyEvent,
    ) -> Result<(), ProjectionError> {
        match parsed {
            EmergencyEvent::EmergencyAccessOpened(e) => {
                let kind = NotificationKind::EmergencyAccess;
                let about = About {
                    subject: Some(doctor),
                    ..About::default()
                };
                self.notify(event, e.patient.as_uuid(), kind, about)?;
                self.notify_admins(event, kind, about)
            }
            EmergencyEvent::EmergencyAccessReviewed(e) => {
                let about = About {
                    subject: Some(doctor),
                    detail: Some(if e.justified {
                        "JUSTIFIED"
                    } else {
                        "NOT_JUSTIFIED"
                    }),
                    ..About::default()
                };
                let kind = NotificationKind::EmergencyReviewed;
                self.notify(event, e.patient.as_uuid(), kind, about)
            }
            EmergencyEvent::EmergencyAccessClosed(_)
            | EmergencyEvent::EmergencyAccessExpired(_) => Ok(()),
        }
    }

    fn user_event(
        &mut self,
        event: &RecordedEvent,
        user: Uuid,
        parsed: UserEvent,
    ) -> Result<(), ProjectionError> {
        let someone = About {
            subject: Some(user),
            ..About::default()
        };
        let to_self = |fold: &mut Self, kind, about| fold.notify(event, user, kind, about);
        let security = |fold: &mut Self, detail| {
            let about = About {
                detail: Some(detail),
                ..About::default()
            };
            fold.notify(event, user, NotificationKind::SecurityChanged, about)
        };
        match parsed {
            UserEvent::UserRegistered(UserRegistered { role, status, .. }) => {
                if role == Role::Admin
                    && status == AccountStatus::Active
                    && !self.admins.insert(user)
                {
                    return Err(ProjectionError::malformed(
                        event,
                        "an administrator already",
                    ));
                }
                if role == Role::Doctor && status == AccountStatus::Pending {
                    self.notify_admins(event, NotificationKind::UserAwaitingApproval, someone)?;
                }
                Ok(())
            }
            UserEvent::UserApproved(_) => {
                to_self(self, NotificationKind::AccountApproved, About::default())
            }
            UserEvent::UserRejected(_) => {
                to_self(self, NotificationKind::AccountRejected, About::default())
            }
            UserEvent::UserSuspended(_) | UserEvent::UserErased(_) => {
                self.admins.remove(&user);
                Ok(())
            }
            UserEvent::ProfileChangeRequested(_) => {
                self.notify_admins(event, NotificationKind::ProfileChangeRequested, someone)
            }
            UserEvent::ProfileChangeDecided(e) => {
                let about = About {
                    detail: Some(if e.approved { "APPROVED" } else { "REJECTED" }),
                    ..About::default()
                };
                to_self(self, NotificationKind::ProfileChangeDecided, about)
            }
            UserEvent::PasswordChanged(_) | UserEvent::PasswordReset(_) => {
                to_self(self, NotificationKind::PasswordChanged, About::default())
            }
            UserEvent::TotpEnrolled(_) => security(self, "TOTP_ENABLED"),
            UserEvent::TotpDisabled(_) => security(self, "TOTP_DISABLED"),
            UserEvent::RecoveryCodesRegenerated(_) => security(self, "RECOVERY_CODES_REGENERATED"),
            UserEvent::MfaReset(_) => security(self, "MFA_RESET"),
            UserEvent::PasskeyRegistered(_) => security(self, "PASSKEY_ADDED"),
            UserEvent::PasskeyRemoved(_) => security(self, "PASSKEY_REMOVED"),
            // An app can now read the person's records: worth telling them, in case it
            // was not them.
            UserEvent::ReadTokenCreated(_) => security(self, "READ_TOKEN_CREATED"),
            // Everything of theirs left in one file: said even when they took it
            // themself, so a stolen session's export does not pass unseen.
            UserEvent::DataExported(_) => security(self, "DATA_EXPORTED"),
            // A wrong code below the limit is counted, not yet worth a notice.
            UserEvent::SecondFactorFailed(e) if e.locked => security(self, "CODES_LOCKED"),
            UserEvent::NotificationPreferencesSet(e) => {
                for p in &e.preferences {
                    let kind = p.kind.as_str();
                    self.prefs
                        .entry(user)
                        .or_default()
                        .insert(kind.to_owned(), (p.in_app, p.email));
                    self.pref_writes.insert((user, kind), (p.in_app, p.email));
                }
                Ok(())
            }
            UserEvent::NotificationsRead(e) => {
                let ids = e.ids.unwrap_or_default();
                let up_to = e.up_to_seq.unwrap_or(0);
                for note in &mut self.notes {
                    if note.user == user
                        && note.read_seq.is_none()
                        && note.seq < event.seq
                        && (ids.contains(&note.id) || note.seq <= up_to)
                    {
                        note.read_seq = Some(event.seq);
                    }
                }
                self.marks.push(ReadMark {
                    user,
                    seq: event.seq,
                    ids,
                    up_to,
                });
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn record_event(
        &mut self,
        event: &RecordedEvent,
        record: Uuid,
        parsed: RecordEvent,
    ) -> Result<(), ProjectionError> {
        if let RecordEvent::RecordUploaded(e) = &parsed {
            if self.owners.insert(record, e.owner.as_uuid()).is_some() {
                return Err(ProjectionError::malformed(
                    event,
                    "the record is in the view already",
                ));
            }
            self.new_records.push((record, e.owner.as_uuid()));
            // A doctor added it to the patient's file: the patient is told.
            if let Some(author) = e.author {
                let about = About {
                    record: Some(record),
                    subject: Some(author.as_uuid()),
                    detail: None,
                };
                self.notify(
                    event,
                    e.owner.as_uuid(),
                    NotificationKind::RecordAdded,
                    about,
                )?;
            }
            return Ok(());
        }
        let owner = *self
            .owners
            .get(&record)
            .ok_or_else(|| ProjectionError::malformed(event, "no such record in the view"))?;
        let about = |subject| About {
            record: Some(record),
            subject: Some(subject),
            detail: None,
        };
        match parsed {
            RecordEvent::RecordShared(e) => {
                let (share, doctor) = (e.share.as_uuid(), e.doctor.as_uuid());
                if self.doctors.insert(share, doctor).is_some() {
                    return Err(ProjectionError::malformed(
                        event,
                        "the share is in the view already",
                    ));
                }
                self.new_shares.push((share, record, doctor));
                // The share a doctor holds of a record they added themselves is no news
                // to them.
                if event.actor == Some(doctor) {
                    return Ok(());
                }
                self.notify(event, doctor, NotificationKind::RecordShared, about(owner))
            }
            RecordEvent::ReferralRequested(e) => {
                let kind = NotificationKind::ReferralRequested;
                self.notify(event, owner, kind, about(e.from.as_uuid()))
            }
            RecordEvent::ReferralDecided(e) => {
                let kind = NotificationKind::ReferralDecided;
                let decided = About {
                    detail: Some(if e.approved { "APPROVED" } else { "DECLINED" }),
                    ..about(owner)
                };
                self.notify(event, e.from.as_uuid(), kind, decided)?;
                self.notify(event, e.to.as_uuid(), kind, decided)
            }
            RecordEvent::ShareRevoked(e) => {
                let doctor = self.doctor_of(event, e.share.as_uuid())?;
                self.notify(event, doctor, NotificationKind::ShareRevoked, about(owner))
            }
            RecordEvent::ShareExpiring(e) => {
                let doctor = self.doctor_of(event, e.share.as_uuid())?;
                let kind = NotificationKind::ShareExpiring;
                self.notify(event, doctor, kind, about(owner))?;
                self.notify(event, owner, kind, about(doctor))
            }
            RecordEvent::RecordAccessed(_) => match event.actor.filter(|a| *a != owner) {
                Some(reader) => {
                    let kind = NotificationKind::RecordAccessed;
                    self.notify(event, owner, kind, about(reader))
                }
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }

    /// The doctor a share went to, as the view recorded it.
    fn doctor_of(&self, event: &RecordedEvent, share: Uuid) -> Result<Uuid, ProjectionError> {
        self.doctors
            .get(&share)
            .copied()
            .ok_or_else(|| ProjectionError::malformed(event, "no such share in the view"))
    }

    /// The recipient's preference for `kind` as it stands: `(in_app, email)`. Security
    /// notices always go in-app.
    fn wants(&self, user: Uuid, kind: NotificationKind) -> (bool, bool) {
        let set = self.prefs.get(&user).and_then(|p| p.get(kind.as_str()));
        let (in_app, email) = set
            .copied()
            .unwrap_or((kind.default_in_app(), kind.default_email()));
        (
            in_app || kind.is_security_notice(),
            email || kind.is_never_muted(),
        )
    }

    fn notify(
        &mut self,
        event: &RecordedEvent,
        user: Uuid,
        kind: NotificationKind,
        about: About,
    ) -> Result<(), ProjectionError> {
        let (in_app, email) = self.wants(user, kind);
        let id = notification_id(event.seq, user, kind);
        if email {
            // Not the projector's table: kept across rebuilds, so nothing is mailed twice.
            self.mail.push((id, user, kind.as_str(), event.seq));
        }
        if !in_app {
            return Ok(());
        }
        if !self.note_ids.insert(id) {
            return Err(ProjectionError::malformed(
                event,
                "notified twice of one event",
            ));
        }
        self.notes.push(Note {
            id,
            user,
            kind: kind.as_str(),
            seq: event.seq,
            about,
            at: event.at.to_datetime(),
            read_seq: None,
        });
        Ok(())
    }

    fn notify_admins(
        &mut self,
        event: &RecordedEvent,
        kind: NotificationKind,
        about: About,
    ) -> Result<(), ProjectionError> {
        let admins: Vec<Uuid> = self.admins.iter().copied().collect();
        for admin in admins {
            self.notify(event, admin, kind, about)?;
        }
        Ok(())
    }

    async fn write(self, tx: &mut PgConnection) -> Result<(), sqlx::Error> {
        // The marks first: they concern only rows stored before this batch, whose new
        // notices carry their marks already.
        for mark in &self.marks {
            sqlx::query(
                "UPDATE notifications SET read_seq = $2 \
                 WHERE user_id = $1 AND read_seq IS NULL AND seq < $2 \
                   AND (id = ANY($3) OR seq <= $4)",
            )
            .bind(mark.user)
            .bind(mark.seq)
            .bind(&mark.ids)
            .bind(mark.up_to)
            .execute(&mut *tx)
            .await?;
        }
        self.write_notes(tx).await?;
        if !self.mail.is_empty() {
            let column = |f: fn(&(Uuid, Uuid, &'static str, i64)) -> Uuid| {
                self.mail.iter().map(f).collect::<Vec<_>>()
            };
            let kinds: Vec<&str> = self.mail.iter().map(|m| m.2).collect();
            let seqs: Vec<i64> = self.mail.iter().map(|m| m.3).collect();
            sqlx::query(
                "INSERT INTO mail_outbox (notification_id, user_id, kind, seq) \
                 SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::int8[]) \
                 ON CONFLICT (notification_id) DO NOTHING",
            )
            .bind(column(|m| m.0))
            .bind(column(|m| m.1))
            .bind(&kinds)
            .bind(&seqs)
            .execute(&mut *tx)
            .await?;
        }
        let added: Vec<Uuid> = self
            .admins
            .difference(&self.admins_before)
            .copied()
            .collect();
        let removed: Vec<Uuid> = self
            .admins_before
            .difference(&self.admins)
            .copied()
            .collect();
        if !added.is_empty() {
            sqlx::query(
                "INSERT INTO notification_admins (user_id) SELECT * FROM UNNEST($1::uuid[])",
            )
            .bind(&added)
            .execute(&mut *tx)
            .await?;
        }
        if !removed.is_empty() {
            sqlx::query("DELETE FROM notification_admins WHERE user_id = ANY($1)")
                .bind(&removed)
                .execute(&mut *tx)
                .await?;
        }
        if !self.new_records.is_empty() {
            let (ids, owners): (Vec<Uuid>, Vec<Uuid>) = self.new_records.iter().copied().unzip();
            sqlx::query(
                "INSERT INTO notification_records (record_id, owner_id) \
                 SELECT * FROM UNNEST($1::uuid[], $2::uuid[])",
            )
            .bind(&ids)
            .bind(&owners)
            .execute(&mut *tx)
            .await?;
        }
        if !self.new_shares.is_empty() {
            let column = |f: fn(&(Uuid, Uuid, Uuid)) -> Uuid| {
                self.new_shares.iter().map(f).collect::<Vec<_>>()
            };
            sqlx::query(
                "INSERT INTO notification_shares (share_id, record_id, doctor_id) \
                 SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[])",
            )
            .bind(column(|s| s.0))
            .bind(column(|s| s.1))
            .bind(column(|s| s.2))
            .execute(&mut *tx)
            .await?;
        }
        if !self.pref_writes.is_empty() {
            let users: Vec<Uuid> = self.pref_writes.keys().map(|(u, _)| *u).collect();
            let kinds: Vec<&str> = self.pref_writes.keys().map(|(_, k)| *k).collect();
            let in_app: Vec<bool> = self.pref_writes.values().map(|(i, _)| *i).collect();
            let email: Vec<bool> = self.pref_writes.values().map(|(_, e)| *e).collect();
            sqlx::query(
                "INSERT INTO notification_preferences (user_id, kind, in_app, email) \
                 SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::bool[], $4::bool[]) \
                 ON CONFLICT (user_id, kind) \
                 DO UPDATE SET in_app = excluded.in_app, email = excluded.email",
            )
            .bind(&users)
            .bind(&kinds)
            .bind(&in_app)
            .bind(&email)
            .execute(&mut *tx)
            .await?;
        }
        Ok(())
    }

    async fn write_notes(&self, tx: &mut PgConnection) -> Result<(), sqlx::Error> {
        if self.notes.is_empty() {
            return Ok(());
        }
        let notes = &self.notes;
        let ids: Vec<Uuid> = notes.iter().map(|n| n.id).collect();
        let users: Vec<Uuid> = notes.iter().map(|n| n.user).collect();
        let kinds: Vec<&str> = notes.iter().map(|n| n.kind).collect();
        let seqs: Vec<i64> = notes.iter().map(|n| n.seq).collect();
        let records: Vec<Option<Uuid>> = notes.iter().map(|n| n.about.record).collect();
        let subjects: Vec<Option<Uuid>> = notes.iter().map(|n| n.about.subject).collect();
        let details: Vec<Option<&str>> = notes.iter().map(|n| n.about.detail).collect();
        let ats: Vec<Time> = notes.iter().map(|n| n.at).collect();
        let reads: Vec<Option<i64>> = notes.iter().map(|n| n.read_seq).collect();
        sqlx::query(
            "INSERT INTO notifications (id, user_id, kind, seq, record_id, subject_id, detail, \
                created_at, read_seq) \
             SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::int8[], $5::uuid[], \
                $6::uuid[], $7::text[], $8::timestamptz[], $9::int8[])",
        )
        .bind(&ids)
        .bind(&users)
        .bind(&kinds)
        .bind(&seqs)
        .bind(&records)
        .bind(&subjects)
        .bind(&details)
        .bind(&ats)
        .bind(&reads)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
}
