//! Compliance questions in `Query`: the accounting of disclosures (every read of a
//! patient's records by someone else), and who could read a record at a moment, answered
//! by replaying the ledger up to it (`projections::replay`), never from today's tables.

use crate::{
    context::{admin, caller, services},
    error::{Code, ToGql as _, error},
    scalars::DateTime,
    types::{
        page::{page_size, parse_seq_cursor},
        record::{AccessEntryConnection, Record},
        user::User,
    },
};
use async_graphql::{Context, Object, Result};
use domain::{
    account::{DisclosuresRefused, Role, UserId, disclosures_subject},
    record::RecordId,
};
use projections::{
    records,
    replay::{self, Moment},
    users,
};
use std::collections::HashMap;
use uuid::Uuid;

#[derive(Default)]
pub struct ComplianceQuery;

#[Object]
impl ComplianceQuery {
    /// Every read of a patient's records (DOWNLOADED or VIEWED) by anyone other than the
    /// patient, oldest first, recorded within `[from, to]`. Patients: their own (omit
    /// `patientId`). Administrators: any patient's.
    #[graphql(complexity = "crate::types::page::cost(first, child_complexity)")]
    async fn disclosures(
        &self,
        ctx: &Context<'_>,
        patient_id: Option<Uuid>,
        from: Option<DateTime>,
        to: Option<DateTime>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<AccessEntryConnection> {
        let caller = caller(ctx)?;
        let s = services(ctx);
        let patient = disclosures_subject(caller.viewer(), patient_id.map(UserId::from_uuid))
            .map_err(|e| match e {
                DisclosuresRefused::NameThePatient => error(Code::BadUserInput, e.to_string()),
                DisclosuresRefused::NotYours => error(Code::Forbidden, e.to_string()),
            })?;
        if let (Some(from), Some(to)) = (from, to)
            && from > to
        {
            return Err(error(Code::BadUserInput, "from is after to"));
        }
        if caller.require_admin().is_ok() {
            // An administrator names the patient: one who exists, and is a patient.
            let known = users::find(&s.pool, &s.keys, patient)
                .await
                .map_err(|e| e.gql())?;
            if !known.is_some_and(|u| u.role == Role::Patient) {
                return Err(error(Code::NotFound, "there is no such patient"));
            }
        }
        let limit = page_size(first)?;
        let after = after.as_deref().map(parse_seq_cursor).transpose()?;
        let rows = records::disclosures(
            &s.pool,
            patient,
            from.map(|d| d.0),
            to.map(|d| d.0),
            after,
            limit + 1,
        )
        .await
        .map_err(|e| e.gql())?;
        // Each record once, as the caller may see it now.
        let (who, now) = (caller.viewer(), s.clock.now());
        let mut seen: HashMap<Uuid, Option<Record>> = HashMap::new();
        for row in rows.iter().take(limit as usize) {
            if seen.contains_key(&row.record_id) {
                continue;
            }
            let view = records::find(&s.pool, &s.keys, RecordId::from_uuid(row.record_id))
                .await
                .map_err(|e| e.gql())?;
            let record = view
                .filter(|v| !v.erased)
                .and_then(|v| Record::seen_by(v, who, now));
            seen.insert(row.record_id, record);
        }
        Ok(AccessEntryConnection::page(
            rows,
            limit,
            |row| seen.get(&row.record_id).cloned().flatten(),
            caller.user == patient,
        ))
    }

    /// Administrators: every user who could read the record's content at `at` (its
    /// owner, doctors with a live share then, each with an ACTIVE account then), from the
    /// ledger replayed up to that moment.
    async fn who_could_read(
        &self,
        ctx: &Context<'_>,
        record_id: Uuid,
        at: DateTime,
    ) -> Result<Vec<User>> {
        admin(ctx)?;
        let s = services(ctx);
        let record = RecordId::from_uuid(record_id);
        let answer = replay::who_could_read(&s.pool, record, Moment::Time(at.0))
            .await
            .map_err(|e| e.gql())?;
        if !answer.existed
            && records::find(&s.pool, &s.keys, RecordId::from_uuid(record_id))
                .await
                .map_err(|e| e.gql())?
                .is_none()
        {
            return Err(error(Code::NotFound, "there is no such record"));
        }
        let mut people = Vec::with_capacity(answer.readers.len());
        for person in answer.readers {
            let view = users::find(&s.pool, &s.keys, person.id)
                .await
                .map_err(|e| e.gql())?;
            match view {
                Some(view) => people.push(User::new(view, true)),
                None => {
                    tracing::error!(user = %person.id, "a replayed reader is missing from the users view")
                }
            }
        }
        Ok(people)
    }
}
