//! Point-in-time replay (DESIGN.md §5): the views as they stood at a seq or a time, built
//! by replaying the ledger up to that point, never read from today's tables.
//!
//! A question about one record needs only the streams it depends on: the record's own,
//! and the account of each person it names. Those streams are folded up to the point
//! (`seq <= the point`, by the `(stream, version)` key), so the answer costs the size of
//! those streams, not the depth of the ledger; the rule asked of them is the one the
//! content route asks (`domain::record::readers`, over `access.rs`).

use commands::RecordedEvent;
use commands::event_store::read_stream_until;
use commands::ledger::{ledger_head, seq_at, time_of};
use domain::Timestamp;
use domain::account::{UserEvent, UserId, user::User};
use domain::emergency::{Emergencies, EmergencyEvent};
use domain::record::{Record, RecordEvent, RecordId, readers};
use domain::{Aggregate as _, EventName as _};
use sqlx::PgPool;

/// A point of the ledger's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    /// Including that event.
    Seq(i64),
    /// Including every event recorded at or before it.
    Time(Timestamp),
}

/// A moment resolved: the last event included, and the time the rules are asked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsOf {
    pub seq: i64,
    pub at: Timestamp,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("the ledger ends at seq {head}; there is no seq {asked} yet")]
    BeyondHead { asked: i64, head: i64 },
    #[error("a seq is 0 or more")]
    NegativeSeq,
    #[error("event {seq} cannot be read: {reason}")]
    Malformed { seq: i64, reason: String },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

pub async fn resolve(pool: &PgPool, moment: Moment) -> Result<AsOf, ReplayError> {
    match moment {
        Moment::Time(at) => Ok(AsOf {
            seq: seq_at(pool, at).await?,
            at,
        }),
        Moment::Seq(seq) if seq < 0 => Err(ReplayError::NegativeSeq),
        Moment::Seq(0) => Ok(AsOf {
            seq: 0,
            at: Timestamp::from_micros(0),
        }),
        Moment::Seq(seq) => match time_of(pool, seq).await? {
            Some(at) => Ok(AsOf { seq, at }),
            None => Err(ReplayError::BeyondHead {
                asked: seq,
                head: ledger_head(pool).await?.seq,
            }),
        },
    }
}

/// The answer to "who could read this record then?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhoCouldRead {
    pub record: RecordId,
    pub as_of: AsOf,
    /// Whether the record had been uploaded by then.
    pub existed: bool,
    pub readers: Vec<readers::Person>,
    /// The share links through which someone could read it then (see
    /// `ShareLink::could_read`).
    pub links: Vec<domain::link::LinkId>,
}

pub async fn who_could_read(
    pool: &PgPool,
    record_id: RecordId,
    moment: Moment,
) -> Result<WhoCouldRead, ReplayError> {
    let as_of = resolve(pool, moment).await?;
    let mut record = Record::new(record_id);
    for event in read_stream_until(pool, &record_id.stream(), as_of.seq).await? {
        record.apply(&parse(&event, RecordEvent::from_stored)?);
    }
    let mut candidates = readers::candidates(&record);
    // And every doctor who had opened an emergency access to the owner by then, and
    // everyone who had accepted a proxy grant of the owner's.
    let mut proxies = domain::proxy::Proxies::new(
        record
            .owner()
            .unwrap_or(UserId::from_uuid(uuid::Uuid::nil())),
    );
    if let Some(owner) = record.owner() {
        for doctor in emergency_doctors(pool, owner, as_of.seq).await? {
            if !candidates.contains(&doctor) {
                candidates.push(doctor);
            }
        }
        for event in
            read_stream_until(pool, &domain::proxy::Proxies::stream(owner), as_of.seq).await?
        {
            proxies.apply(&parse(&event, domain::proxy::ProxyEvent::from_stored)?);
        }
        for grant in proxies.grants() {
            if let Some(proxy) = grant.proxy
                && !candidates.contains(&proxy)
            {
                candidates.push(proxy);
            }
        }
    }
    let mut people = Vec::new();
    for id in candidates {
        if let Some(mut person) = person_as_of(pool, id, as_of.seq).await? {
            if let Some(owner) = record.owner() {
                person.emergency = emergency_as_of(pool, id, owner, as_of).await?;
                person.proxy = proxies.standing_of(id, Some(record_id), as_of.at);
            }
            people.push(person);
        }
    }
    let links = if record.owner().is_some() && !record.is_erased() {
        links_that_could_read(pool, &record, as_of).await?
    } else {
        Vec::new()
    };
    Ok(WhoCouldRead {
        record: record_id,
        as_of,
        existed: record.owner().is_some(),
        readers: readers::readers(&record, &people, as_of.at),
        links,
    })
}

/// The links naming the record by `as_of`, each folded up to it, that could read it then.
async fn links_that_could_read(
    pool: &PgPool,
    record: &Record,
    as_of: AsOf,
) -> Result<Vec<domain::link::LinkId>, ReplayError> {
    use domain::link::{LinkId, ShareLink, ShareLinkCreated, ShareLinkEvent};
    let streams: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT stream FROM events \
         WHERE type = $3 AND seq <= $2 AND payload::jsonb->'records' ? $1",
    )
    .bind(record.id().to_string())
    .bind(as_of.seq)
    .bind(ShareLinkCreated::NAME)
    .fetch_all(pool)
    .await?;
    let mut found = Vec::new();
    for stream in streams {
        let name = domain::StreamName::parse(&stream).map_err(|e| ReplayError::Malformed {
            seq: 0,
            reason: format!("stream {stream:?}: {e}"),
        })?;
        let id = LinkId::from_uuid(name.id());
        let mut link = ShareLink::new(id);
        for event in read_stream_until(pool, &name, as_of.seq).await? {
            link.apply(&parse(&event, ShareLinkEvent::from_stored)?);
        }
        if link.could_read(record.id(), as_of.at) {
            found.push(id);
        }
    }
    found.sort();
    Ok(found)
}

/// The doctors whose emergency streams name `patient` up to `seq`.
async fn emergency_doctors(
    pool: &PgPool,
    patient: UserId,
    seq: i64,
) -> Result<Vec<UserId>, ReplayError> {
    let streams: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT stream FROM events \
         WHERE type = $3 AND seq <= $2 AND payload->>'patient' = $1",
    )
    .bind(patient.to_string())
    .bind(seq)
    .bind(domain::emergency::EmergencyAccessOpened::NAME)
    .fetch_all(pool)
    .await?;
    streams
        .iter()
        .map(|s| {
            domain::StreamName::parse(s)
                .map(|name| UserId::from_uuid(name.id()))
                .map_err(|e| ReplayError::Malformed {
                    seq: 0,
                    reason: format!("stream {s:?}: {e}"),
                })
        })
        .collect()
}

/// The doctor's emergency access to `patient` open at the moment, from their stream
/// folded up to it.
async fn emergency_as_of(
    pool: &PgPool,
    doctor: UserId,
    patient: UserId,
    as_of: AsOf,
) -> Result<Option<domain::emergency::EmergencyId>, ReplayError> {
    let mut state = Emergencies::new(doctor);
    for event in read_stream_until(pool, &Emergencies::stream(doctor), as_of.seq).await? {
        state.apply(&parse(&event, EmergencyEvent::from_stored)?);
    }
    Ok(state.open_for(patient, as_of.at))
}

/// A person's account folded from their stream up to `seq`.
async fn person_as_of(
    pool: &PgPool,
    id: UserId,
    seq: i64,
) -> Result<Option<readers::Person>, ReplayError> {
    let mut user = User::new(id);
    for event in read_stream_until(pool, &id.stream(), seq).await? {
        user.apply(&parse(&event, UserEvent::from_stored)?);
    }
    Ok(user
        .role()
        .zip(user.status())
        .map(|(role, status)| readers::Person {
            id,
            role,
            status,
            emergency: None,
            proxy: None,
        }))
}

fn parse<T, E: std::fmt::Display>(
    event: &RecordedEvent,
    from_stored: impl Fn(&str, &serde_json::Value) -> Result<T, E>,
) -> Result<T, ReplayError> {
    from_stored(&event.event_type, &event.payload).map_err(|e| ReplayError::Malformed {
        seq: event.seq,
        reason: e.to_string(),
    })
}

/// One read of a patient's record by someone else, as the ledger records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disclosure {
    pub seq: i64,
    pub at: Timestamp,
    pub actor: Option<uuid::Uuid>,
    pub record: uuid::Uuid,
    /// DOWNLOADED or VIEWED; EMERGENCY for a read under emergency access (marked so in
    /// the report: nobody consented to it).
    pub action: &'static str,
}

/// The accounting of disclosures taken from the ledger itself, up to `until` (a seq):
/// every `RecordAccessed` on a record `patient` uploaded whose actor is not the patient,
/// recorded within `[from, to]`, in seq order. (The API pages the same rows from the
/// records view; a test holds the two to each other.)
pub async fn disclosures_from_ledger(
    pool: &PgPool,
    patient: UserId,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
    until: i64,
) -> Result<Vec<Disclosure>, ReplayError> {
    let streams: Vec<String> = sqlx::query_scalar(
        "SELECT stream FROM events \
         WHERE type = $3 AND seq <= $2 AND payload->>'owner' = $1 ORDER BY seq",
    )
    .bind(patient.to_string())
    .bind(until)
    .bind(<domain::record::RecordUploaded as domain::EventName>::NAME)
    .fetch_all(pool)
    .await?;
    let mut found = Vec::new();
    for stream in streams {
        let name = domain::StreamName::parse(&stream).map_err(|e| ReplayError::Malformed {
            seq: 0,
            reason: format!("stream {stream:?}: {e}"),
        })?;
        for event in read_stream_until(pool, &name, until).await? {
            let RecordEvent::RecordAccessed(read) = parse(&event, RecordEvent::from_stored)? else {
                continue;
            };
            let by_other = event.actor != Some(patient.as_uuid());
            let within = from.is_none_or(|f| event.at >= f) && to.is_none_or(|t| event.at <= t);
            if by_other && within {
                found.push(Disclosure {
                    seq: event.seq,
                    at: event.at,
                    actor: event.actor,
                    record: record_of_stream(&stream),
                    action: if read.emergency.is_some() {
                        "EMERGENCY"
                    } else {
                        read.action.as_str()
                    },
                });
            }
        }
    }
    found.sort_by_key(|d| d.seq);
    Ok(found)
}

fn record_of_stream(stream: &str) -> uuid::Uuid {
    stream
        .split_once('-')
        .and_then(|(_, id)| uuid::Uuid::try_parse(id).ok())
        .unwrap_or_default()
}
