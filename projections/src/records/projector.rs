//! The records projector, set-based: a batch is read into memory (the records and shares
//! its events touch, in two queries), its events are folded there in seq order, exactly
//! as one-at-a-time statements would change the rows, and the result is written with one
//! statement per table and kind of change (rows bound as arrays and `UNNEST`ed). A
//! rebuild of a million events is then a few thousand statements, not millions.
//!
//! What the database would refuse one event at a time (a record or share already in the
//! view) is refused by the fold, at that event, so a batch stops exactly where a single
//! event would have.

use crate::{
    ProjectionError, Projector,
    projector::{read_as, stream_of},
};
use chrono::{DateTime, Utc};
use commands::RecordedEvent;
use domain::{
    Sealed, Timestamp,
    link::ShareLinkOpened,
    record::{RecordEvent, RecordUploaded},
};
use sqlx::PgConnection;
use std::collections::HashMap;
use uuid::Uuid;

pub struct RecordsProjector;

impl Projector for RecordsProjector {
    fn name(&self) -> &'static str {
        "records"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["records", "shares", "access_log", "referrals"]
    }

    fn event_types(&self) -> &'static [&'static str] {
        // Every record event, and a share link's opening: an entry in the access log of
        // each record the link names.
        const TYPES: [&str; RecordEvent::TYPES.len() + 1] = {
            let mut all = [""; RecordEvent::TYPES.len() + 1];
            let mut i = 0;
            while i < RecordEvent::TYPES.len() {
                all[i] = RecordEvent::TYPES[i];
                i += 1;
            }
            all[i] = <ShareLinkOpened as domain::EventName>::NAME;
            all
        };
        &TYPES
    }

    crate::set_based!(apply);
}

type Time = DateTime<Utc>;

/// A record's row: its columns, and whether the batch made or changed it.
struct RecordRow {
    owner: Uuid,
    status: &'static str,
    erased_at: Option<Time>,
    updated_seq: i64,
    /// The upload that made it in this batch (with its seq and time): inserted whole.
    new: Option<(i64, Time, RecordUploaded)>,
    changed: bool,
}

struct ShareRow {
    record: Uuid,
    doctor: Uuid,
    /// When it was granted, with its seq, expiry and the referral that made it.
    granted: Option<(Time, i64, Option<Time>, Option<Uuid>)>,
    revoked_at: Option<Time>,
    expired_at: Option<Time>,
    noticed_at: Option<Time>,
    updated_seq: i64,
    changed: bool,
}

struct AccessRow {
    seq: i64,
    record: Uuid,
    owner: Uuid,
    actor: Option<Uuid>,
    action: String,
    at: Time,
    detail: Option<String>,
    emergency: Option<Uuid>,
}

struct ReferralRow {
    /// The request that made it in this batch: inserted whole.
    new: Option<NewReferral>,
    status: &'static str,
    decided_at: Option<Time>,
    share: Option<Uuid>,
    updated_seq: i64,
    changed: bool,
}

struct NewReferral {
    record: Uuid,
    owner: Uuid,
    from: Uuid,
    to: Uuid,
    note: Option<String>,
    at: Time,
    seq: i64,
}

#[derive(Default)]
struct Fold {
    records: HashMap<Uuid, RecordRow>,
    shares: HashMap<Uuid, ShareRow>,
    referrals: HashMap<Uuid, ReferralRow>,
    access: Vec<AccessRow>,
}

async fn apply(
    tx: &mut PgConnection,
    events: &[&RecordedEvent],
) -> Result<(), (usize, ProjectionError)> {
    let mut parsed = Vec::with_capacity(events.len());
    let mut links = Vec::new();
    for (index, event) in events.iter().enumerate() {
        let read = || -> Result<_, ProjectionError> {
            let stream = stream_of(event)?;
            Ok(if stream.category() == domain::link::LINK_CATEGORY {
                // Of a link's events, only its openings are entries in a record's log.
                match read_as(event)? {
                    domain::link::ShareLinkEvent::ShareLinkOpened(e) => Some((stream.id(), Err(e))),
                    _ => None,
                }
            } else {
                Some((stream.id(), Ok(read_as::<RecordEvent>(event)?)))
            })
        };
        match read().map_err(|e| (index, e))? {
            Some((id, Ok(record))) => parsed.push((index, id, record)),
            Some((id, Err(opened))) => links.push((index, id, opened)),
            None => {}
        }
    }
    let records: Vec<(Uuid, RecordEvent)> =
        parsed.iter().map(|(_, id, e)| (*id, e.clone())).collect();
    let mut fold = load(tx, &records).await.map_err(|e| (0, e.into()))?;
    // In seq order, the openings among the record events.
    let mut links = links.into_iter().peekable();
    for (index, id, record) in parsed {
        while let Some((at, link, opened)) = links.next_if(|(at, _, _)| *at < index) {
            fold.link_opened(events[at], link, opened);
        }
        fold.event(events[index], id, record)
            .map_err(|e| (index, e))?;
    }
    for (at, link, opened) in links {
        fold.link_opened(events[at], link, opened);
    }
    fold.write(tx).await.map_err(|e| (0, e.into()))
}

/// The rows the batch's events touch: every record they name, every share they name,
/// and every share of a record they erase.
async fn load(tx: &mut PgConnection, parsed: &[(Uuid, RecordEvent)]) -> Result<Fold, sqlx::Error> {
    // A record whose first event in the batch is its upload (the first event of its
    // stream) is not in the view yet: there is nothing of it to read, and a batch of
    // uploads (what a read-your-writes wait after an upload waits for) makes one round
    // trip less. Were it in the view after all, its insert fails on the key and the
    // batch stops on that event, as the fold's own check would have stopped it.
    let mut first_seen = std::collections::HashSet::new();
    let mut record_ids: Vec<Uuid> = parsed
        .iter()
        .filter(|(id, event)| {
            first_seen.insert(*id) && !matches!(event, RecordEvent::RecordUploaded(_))
        })
        .map(|(id, _)| *id)
        .collect();
    record_ids.sort_unstable();
    record_ids.dedup();
    let mut share_ids = Vec::new();
    let mut erased = Vec::new();
    let mut referral_ids = Vec::new();
    for (id, event) in parsed {
        match event {
            RecordEvent::ShareRevoked(e) => share_ids.push(e.share.as_uuid()),
            RecordEvent::ShareExpired(e) => share_ids.push(e.share.as_uuid()),
            RecordEvent::ShareExpiring(e) => share_ids.push(e.share.as_uuid()),
            RecordEvent::RecordShared(e) => {
                share_ids.push(e.share.as_uuid());
                referral_ids.extend(e.referral.map(|r| r.as_uuid()));
            }
            RecordEvent::ReferralRequested(e) => referral_ids.push(e.referral.as_uuid()),
            RecordEvent::ReferralDecided(e) => referral_ids.push(e.referral.as_uuid()),
            RecordEvent::RecordErased(_) => erased.push(*id),
            _ => {}
        }
    }
    let mut fold = Fold::default();
    if !referral_ids.is_empty() {
        type Row = (Uuid, String, Option<Time>, Option<Uuid>, i64);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, status, decided_at, share_id, updated_seq FROM referrals \
             WHERE id = ANY($1)",
        )
        .bind(&referral_ids)
        .fetch_all(&mut *tx)
        .await?;
        for (id, status, decided_at, share, updated_seq) in rows {
            fold.referrals.insert(
                id,
                ReferralRow {
                    new: None,
                    status: referral_status(&status),
                    decided_at,
                    share,
                    updated_seq,
                    changed: false,
                },
            );
        }
    }
    let rows: Vec<(Uuid, Uuid, String, Option<Time>, i64)> = if record_ids.is_empty() {
        Vec::new()
    } else {
        sqlx::query_as(
            "SELECT id, owner_id, status, erased_at, updated_seq FROM records WHERE id = ANY($1)",
        )
        .bind(&record_ids)
        .fetch_all(&mut *tx)
        .await?
    };
    for (id, owner, status, erased_at, updated_seq) in rows {
        let status = if status == "ERASED" {
            "ERASED"
        } else {
            "ACTIVE"
        };
        fold.records.insert(
            id,
            RecordRow {
                owner,
                status,
                erased_at,
                updated_seq,
                new: None,
                changed: false,
            },
        );
    }
    if share_ids.is_empty() && erased.is_empty() {
        return Ok(fold);
    }
    type Row = (
        Uuid,
        Uuid,
        Uuid,
        Option<Time>,
        Option<Time>,
        Option<Time>,
        i64,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, record_id, doctor_id, revoked_at, expired_at, noticed_at, updated_seq \
         FROM shares WHERE id = ANY($1) OR record_id = ANY($2)",
    )
    .bind(&share_ids)
    .bind(&erased)
    .fetch_all(&mut *tx)
    .await?;
    for (id, record, doctor, revoked_at, expired_at, noticed_at, updated_seq) in rows {
        fold.shares.insert(
            id,
            ShareRow {
                record,
                doctor,
                granted: None,
                revoked_at,
                expired_at,
                noticed_at,
                updated_seq,
                changed: false,
            },
        );
    }
    Ok(fold)
}

impl Fold {
    /// One event, as its statements would change the rows.
    fn event(
        &mut self,
        event: &RecordedEvent,
        id: Uuid,
        parsed: RecordEvent,
    ) -> Result<(), ProjectionError> {
        let at = event.at.to_datetime();
        let seq = event.seq;
        if let RecordEvent::RecordUploaded(e) = &parsed {
            if self.records.contains_key(&id) {
                return Err(ProjectionError::malformed(
                    event,
                    "the record is in the view already",
                ));
            }
            self.records.insert(
                id,
                RecordRow {
                    owner: e.owner.as_uuid(),
                    status: "ACTIVE",
                    erased_at: None,
                    updated_seq: seq,
                    new: Some((seq, at, e.clone())),
                    changed: false,
                },
            );
        }
        let Some(owner) = self.records.get(&id).map(|r| r.owner) else {
            return Err(ProjectionError::malformed(
                event,
                "no such record in the view",
            ));
        };
        let emergency = match &parsed {
            RecordEvent::RecordAccessed(e) => e.emergency.map(|e| e.as_uuid()),
            _ => None,
        };
        let (action, detail): (&str, Option<String>) = match parsed {
            RecordEvent::ShareExpiring(e) => {
                // Not an access: only the shares view remembers it.
                if let Some(share) = self.shares.get_mut(&e.share.as_uuid()) {
                    share.noticed_at = Some(at);
                    share.updated_seq = seq;
                    share.changed = true;
                }
                return Ok(());
            }
            RecordEvent::RecordUploaded(_) => ("UPLOADED", None),
            RecordEvent::ReferralRequested(e) => {
                // Not an access until approved: the referrals view holds it.
                let referral = e.referral.as_uuid();
                if self.referrals.contains_key(&referral) {
                    return Err(ProjectionError::malformed(
                        event,
                        "the referral is in the view already",
                    ));
                }
                self.referrals.insert(
                    referral,
                    ReferralRow {
                        new: Some(NewReferral {
                            record: id,
                            owner,
                            from: e.from.as_uuid(),
                            to: e.to.as_uuid(),
                            note: e.note.map(|n| Sealed::as_str(&n).to_owned()),
                            at,
                            seq,
                        }),
                        status: "PENDING",
                        decided_at: None,
                        share: None,
                        updated_seq: seq,
                        changed: false,
                    },
                );
                return Ok(());
            }
            RecordEvent::ReferralDecided(e) => {
                let referral = self.referral(event, e.referral.as_uuid())?;
                referral.status = if e.approved { "APPROVED" } else { "DECLINED" };
                referral.decided_at = Some(at);
                referral.updated_seq = seq;
                return Ok(());
            }
            RecordEvent::RecordShared(e) => {
                let share = e.share.as_uuid();
                let referral = e.referral.map(|r| r.as_uuid());
                if let Some(r) = referral {
                    let row = self.referral(event, r)?;
                    row.share = Some(share);
                    row.updated_seq = seq;
                }
                if self.shares.contains_key(&share) {
                    return Err(ProjectionError::malformed(
                        event,
                        "the share is in the view already",
                    ));
                }
                let expires_at = e.expires_at.map(Timestamp::to_datetime);
                self.shares.insert(
                    share,
                    ShareRow {
                        record: id,
                        doctor: e.doctor.as_uuid(),
                        granted: Some((at, seq, expires_at, referral)),
                        revoked_at: None,
                        expired_at: None,
                        noticed_at: None,
                        updated_seq: seq,
                        changed: false,
                    },
                );
                let action = if referral.is_some() {
                    "REFERRED"
                } else {
                    "SHARED"
                };
                let mut detail = share_detail(e.doctor.as_uuid(), e.expires_at);
                // Shared by someone who is neither the owner nor the doctor (whose share
                // comes with a record they added): a proxy, acting for the owner.
                let by = event.actor;
                if referral.is_none() && by != Some(owner) && by != Some(e.doctor.as_uuid()) {
                    detail.push_str(ON_BEHALF);
                }
                (action, Some(detail))
            }
            RecordEvent::ShareRevoked(e) => {
                let share = self.share(event, e.share.as_uuid())?;
                share.revoked_at = Some(at);
                share.updated_seq = seq;
                let mut detail = share_detail(share.doctor, None);
                if event.actor != Some(owner) {
                    detail.push_str(ON_BEHALF);
                }
                ("REVOKED", Some(detail))
            }
            RecordEvent::ShareExpired(e) => {
                let share = self.share(event, e.share.as_uuid())?;
                share.expired_at = Some(at);
                share.updated_seq = seq;
                ("EXPIRED", Some(share_detail(share.doctor, None)))
            }
            RecordEvent::RecordAccessed(e) if e.emergency.is_some() => {
                ("EMERGENCY", Some(e.action.as_str().to_lowercase()))
            }
            RecordEvent::RecordAccessed(e) => match (e.link, e.proxy) {
                (Some(link), _) => (e.action.as_str(), Some(format!("through link {link}"))),
                (None, Some(_)) => (e.action.as_str(), Some(ON_BEHALF[2..].to_owned())),
                (None, None) => (e.action.as_str(), None),
            },
            RecordEvent::RecordAccessDenied(e) => (
                "DENIED",
                Some(format!(
                    "{} refused: {}",
                    e.action.as_str().to_lowercase(),
                    e.reason.as_str()
                )),
            ),
            RecordEvent::RecordErased(e) => {
                let record = self.records.get_mut(&id).expect("checked above");
                record.status = "ERASED";
                record.erased_at = Some(at);
                record.updated_seq = seq;
                record.changed = true;
                for share in self.shares.values_mut() {
                    if share.record == id
                        && share.revoked_at.is_none()
                        && share.expired_at.is_none()
                    {
                        share.revoked_at = Some(at);
                        share.updated_seq = seq;
                        share.changed = true;
                    }
                }
                // The basis only: the free text is sealed under the owner's key.
                ("ERASED", Some(format!("basis: {}", e.basis)))
            }
        };
        self.access.push(AccessRow {
            seq,
            record: id,
            owner,
            actor: event.actor,
            action: action.to_owned(),
            at,
            detail,
            emergency,
        });
        Ok(())
    }

    /// A share link was opened: an entry in the access log of each record it names, with
    /// no account as its actor.
    fn link_opened(&mut self, event: &RecordedEvent, link: Uuid, opened: ShareLinkOpened) {
        for record in opened.records {
            self.access.push(AccessRow {
                seq: event.seq,
                record: record.as_uuid(),
                owner: opened.owner.as_uuid(),
                actor: None,
                action: "LINK_OPENED".to_owned(),
                at: event.at.to_datetime(),
                detail: Some(format!("link {link}")),
                emergency: None,
            });
        }
    }

    /// A referral the event names, marked changed; one not in the view stops the batch.
    fn referral(
        &mut self,
        event: &RecordedEvent,
        id: Uuid,
    ) -> Result<&mut ReferralRow, ProjectionError> {
        let referral = self
            .referrals
            .get_mut(&id)
            .ok_or_else(|| ProjectionError::malformed(event, "no such referral in the view"))?;
        referral.changed = true;
        Ok(referral)
    }

    /// A share the event ends, marked changed; a share not in the view stops the batch.
    fn share(&mut self, event: &RecordedEvent, id: Uuid) -> Result<&mut ShareRow, ProjectionError> {
        let share = self
            .shares
            .get_mut(&id)
            .ok_or_else(|| ProjectionError::malformed(event, "no such share in the view"))?;
        share.changed = true;
        Ok(share)
    }

    /// The folded rows, one statement per table and kind of change.
    async fn write(self, tx: &mut PgConnection) -> Result<(), sqlx::Error> {
        self.write_records(tx).await?;
        self.write_shares(tx).await?;
        self.write_referrals(tx).await?;
        self.write_access(tx).await
    }

    async fn write_referrals(&self, tx: &mut PgConnection) -> Result<(), sqlx::Error> {
        #[derive(Default)]
        struct New<'a> {
            ids: Vec<Uuid>,
            records: Vec<Uuid>,
            owners: Vec<Uuid>,
            froms: Vec<Uuid>,
            tos: Vec<Uuid>,
            notes: Vec<Option<&'a str>>,
            ats: Vec<Time>,
            seqs: Vec<i64>,
        }
        #[derive(Default)]
        struct Now {
            ids: Vec<Uuid>,
            statuses: Vec<&'static str>,
            decided: Vec<Option<Time>>,
            shares: Vec<Option<Uuid>>,
            updated: Vec<i64>,
        }
        let (mut new, mut now) = (New::default(), Now::default());
        for (id, row) in &self.referrals {
            if let Some(n) = &row.new {
                new.ids.push(*id);
                new.records.push(n.record);
                new.owners.push(n.owner);
                new.froms.push(n.from);
                new.tos.push(n.to);
                new.notes.push(n.note.as_deref());
                new.ats.push(n.at);
                new.seqs.push(n.seq);
            } else if !row.changed {
                continue;
            }
            // A new row is inserted, then given its state like a changed one.
            now.ids.push(*id);
            now.statuses.push(row.status);
            now.decided.push(row.decided_at);
            now.shares.push(row.share);
            now.updated.push(row.updated_seq);
        }
        if !new.ids.is_empty() {
            sqlx::query(
                "INSERT INTO referrals (id, record_id, owner_id, from_id, to_id, note, status, \
                    requested_at, requested_seq, updated_seq) \
                 SELECT id, record_id, owner_id, from_id, to_id, note, 'PENDING', at, seq, seq \
                 FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], \
                    $6::text[], $7::timestamptz[], $8::int8[]) \
                    AS u(id, record_id, owner_id, from_id, to_id, note, at, seq)",
            )
            .bind(&new.ids)
            .bind(&new.records)
            .bind(&new.owners)
            .bind(&new.froms)
            .bind(&new.tos)
            .bind(&new.notes)
            .bind(&new.ats)
            .bind(&new.seqs)
            .execute(&mut *tx)
            .await?;
        }
        if !now.ids.is_empty() {
            sqlx::query(
                "UPDATE referrals r SET status = u.status, decided_at = u.decided_at, \
                    share_id = u.share_id, updated_seq = u.updated_seq \
                 FROM UNNEST($1::uuid[], $2::text[], $3::timestamptz[], $4::uuid[], $5::int8[]) \
                    AS u(id, status, decided_at, share_id, updated_seq) \
                 WHERE r.id = u.id",
            )
            .bind(&now.ids)
            .bind(&now.statuses)
            .bind(&now.decided)
            .bind(&now.shares)
            .bind(&now.updated)
            .execute(&mut *tx)
            .await?;
        }
        Ok(())
    }

    async fn write_records(&self, tx: &mut PgConnection) -> Result<(), sqlx::Error> {
        let mut new = Columns::default();
        let mut changed = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (id, row) in &self.records {
            match &row.new {
                Some((seq, at, e)) => {
                    new.ids.push(*id);
                    new.owners.push(row.owner);
                    new.authors.push(e.author.map(|a| a.as_uuid()));
                    new.statuses.push(row.status);
                    new.titles.push(e.title.as_str().to_owned());
                    new.descriptions
                        .push(e.description.as_ref().map(|d| Sealed::as_str(d).to_owned()));
                    new.file_names.push(e.file_name.as_str().to_owned());
                    new.content_types.push(e.content_type.clone());
                    new.sizes.push(e.size);
                    new.stored_sizes.push(e.stored_size);
                    new.sha256s.push(e.sha256.clone());
                    new.uploaded_ats.push(*at);
                    new.uploaded_seqs.push(*seq);
                    new.erased_ats.push(row.erased_at);
                    new.updated_seqs.push(row.updated_seq);
                }
                None if row.changed => {
                    changed.0.push(*id);
                    changed.1.push(row.status);
                    changed.2.push(row.erased_at);
                    changed.3.push(row.updated_seq);
                }
                None => {}
            }
        }
        if !new.ids.is_empty() {
            sqlx::query(
                "INSERT INTO records (id, owner_id, status, title, description, file_name, \
                    content_type, size, stored_size, sha256, uploaded_at, uploaded_seq, \
                    erased_at, updated_seq, author_id) \
                 SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], \
                    $5::text[], $6::text[], $7::text[], $8::int8[], $9::int8[], $10::text[], \
                    $11::timestamptz[], $12::int8[], $13::timestamptz[], $14::int8[], \
                    $15::uuid[])",
            )
            .bind(&new.ids)
            .bind(&new.owners)
            .bind(&new.statuses)
            .bind(&new.titles)
            .bind(&new.descriptions)
            .bind(&new.file_names)
            .bind(&new.content_types)
            .bind(&new.sizes)
            .bind(&new.stored_sizes)
            .bind(&new.sha256s)
            .bind(&new.uploaded_ats)
            .bind(&new.uploaded_seqs)
            .bind(&new.erased_ats)
            .bind(&new.updated_seqs)
            .bind(&new.authors)
            .execute(&mut *tx)
            .await?;
        }
        if !changed.0.is_empty() {
            sqlx::query(
                "UPDATE records r SET status = u.status, erased_at = u.erased_at, \
                    updated_seq = u.updated_seq \
                 FROM UNNEST($1::uuid[], $2::text[], $3::timestamptz[], $4::int8[]) \
                    AS u(id, status, erased_at, updated_seq) \
                 WHERE r.id = u.id",
            )
            .bind(&changed.0)
            .bind(&changed.1)
            .bind(&changed.2)
            .bind(&changed.3)
            .execute(&mut *tx)
            .await?;
        }
        Ok(())
    }

    async fn write_shares(&self, tx: &mut PgConnection) -> Result<(), sqlx::Error> {
        #[derive(Default)]
        struct Ends {
            ids: Vec<Uuid>,
            revoked: Vec<Option<Time>>,
            expired: Vec<Option<Time>>,
            noticed: Vec<Option<Time>>,
            updated: Vec<i64>,
        }
        let (mut new, mut changed) = (Ends::default(), Ends::default());
        let mut granted = (
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        );
        for (id, row) in &self.shares {
            let ends = match row.granted {
                Some((at, seq, expires_at, referral)) => {
                    granted.0.push(row.record);
                    granted.1.push(row.doctor);
                    granted.2.push(at);
                    granted.3.push(seq);
                    granted.4.push(expires_at);
                    granted.5.push(referral);
                    &mut new
                }
                None if row.changed => &mut changed,
                None => continue,
            };
            ends.ids.push(*id);
            ends.revoked.push(row.revoked_at);
            ends.expired.push(row.expired_at);
            ends.noticed.push(row.noticed_at);
            ends.updated.push(row.updated_seq);
        }
        if !new.ids.is_empty() {
            sqlx::query(
                "INSERT INTO shares (id, record_id, doctor_id, granted_at, granted_seq, \
                    expires_at, revoked_at, expired_at, noticed_at, updated_seq, referral_id) \
                 SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::timestamptz[], \
                    $5::int8[], $6::timestamptz[], $7::timestamptz[], $8::timestamptz[], \
                    $9::timestamptz[], $10::int8[], $11::uuid[])",
            )
            .bind(&new.ids)
            .bind(&granted.0)
            .bind(&granted.1)
            .bind(&granted.2)
            .bind(&granted.3)
            .bind(&granted.4)
            .bind(&new.revoked)
            .bind(&new.expired)
            .bind(&new.noticed)
            .bind(&new.updated)
            .bind(&granted.5)
            .execute(&mut *tx)
            .await?;
        }
        if !changed.ids.is_empty() {
            sqlx::query(
                "UPDATE shares s SET revoked_at = u.revoked_at, expired_at = u.expired_at, \
                    noticed_at = u.noticed_at, updated_seq = u.updated_seq \
                 FROM UNNEST($1::uuid[], $2::timestamptz[], $3::timestamptz[], \
                    $4::timestamptz[], $5::int8[]) \
                    AS u(id, revoked_at, expired_at, noticed_at, updated_seq) \
                 WHERE s.id = u.id",
            )
            .bind(&changed.ids)
            .bind(&changed.revoked)
            .bind(&changed.expired)
            .bind(&changed.noticed)
            .bind(&changed.updated)
            .execute(&mut *tx)
            .await?;
        }
        Ok(())
    }

    async fn write_access(&self, tx: &mut PgConnection) -> Result<(), sqlx::Error> {
        if self.access.is_empty() {
            return Ok(());
        }
        let column = |f: fn(&AccessRow) -> Uuid| self.access.iter().map(f).collect::<Vec<_>>();
        let seqs: Vec<i64> = self.access.iter().map(|a| a.seq).collect();
        let actors: Vec<Option<Uuid>> = self.access.iter().map(|a| a.actor).collect();
        let actions: Vec<&str> = self.access.iter().map(|a| a.action.as_str()).collect();
        let ats: Vec<Time> = self.access.iter().map(|a| a.at).collect();
        let details: Vec<Option<&str>> = self.access.iter().map(|a| a.detail.as_deref()).collect();
        let emergencies: Vec<Option<Uuid>> = self.access.iter().map(|a| a.emergency).collect();
        sqlx::query(
            "INSERT INTO access_log (seq, record_id, owner_id, actor_id, action, at, detail, \
                emergency_id) \
             SELECT * FROM UNNEST($1::int8[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], \
                $6::timestamptz[], $7::text[], $8::uuid[])",
        )
        .bind(&seqs)
        .bind(column(|a| a.record))
        .bind(column(|a| a.owner))
        .bind(&actors)
        .bind(&actions)
        .bind(&ats)
        .bind(&details)
        .bind(&emergencies)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
}

/// The columns of records made in a batch.
#[derive(Default)]
struct Columns {
    ids: Vec<Uuid>,
    owners: Vec<Uuid>,
    authors: Vec<Option<Uuid>>,
    statuses: Vec<&'static str>,
    titles: Vec<String>,
    descriptions: Vec<Option<String>>,
    file_names: Vec<String>,
    content_types: Vec<String>,
    sizes: Vec<i64>,
    stored_sizes: Vec<i64>,
    sha256s: Vec<String>,
    uploaded_ats: Vec<Time>,
    uploaded_seqs: Vec<i64>,
    erased_ats: Vec<Option<Time>>,
    updated_seqs: Vec<i64>,
}

/// What an entry says when someone acted for the owner (a proxy).
const ON_BEHALF: &str = ", on behalf of the patient";

fn referral_status(raw: &str) -> &'static str {
    match raw {
        "APPROVED" => "APPROVED",
        "DECLINED" => "DECLINED",
        _ => "PENDING",
    }
}

fn share_detail(doctor: Uuid, expires_at: Option<Timestamp>) -> String {
    match expires_at {
        Some(at) => format!("doctor {doctor}, until {at}"),
        None => format!("doctor {doctor}"),
    }
}
