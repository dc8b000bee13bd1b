//! Care between doctors in `Query` and `Mutation` (API.graphql's care block): referrals,
//! emergency access and its review, and `recordsOf`. Each mutation runs one command,
//! waits for the view it wrote to, and answers from it; who may see what is decided by
//! the domain's rules in the commands and by the viewer checks here.

use crate::{
    context::{Services, admin, caller, services},
    error::{Code, ToGql as _, error, missing_from_view},
    types::{
        care::{EmergencyAccess, EmergencyAccessConnection, EmergencyAccessEdge, Referral},
        enums::ReferralStatus,
        page::{
            page, page_size, parse_seq_cursor, parse_time_id_cursor, seq_cursor, time_id_cursor,
        },
        record::{Record, RecordConnection, RecordEdge},
    },
};
use async_graphql::{Context, Object, Result};
use commands::{Caller, records::referrals::parse_note};
use domain::{
    account::{Reason, Role, UserId},
    emergency::EmergencyId,
    record::RecordId,
};
use projections::{emergency, records};
use uuid::Uuid;

#[derive(Default)]
pub struct CareQuery;

#[Object]
impl CareQuery {
    /// Patients: the referrals of their records; doctors: those they made or received.
    async fn referrals(
        &self,
        ctx: &Context<'_>,
        status: Option<ReferralStatus>,
    ) -> Result<Vec<Referral>> {
        let caller = caller(ctx)?;
        if caller.role == Role::Admin {
            return Err(error(
                Code::Forbidden,
                "referrals are between a patient and their doctors",
            ));
        }
        let s = services(ctx);
        let rows = records::referrals::involving(&s.pool, caller.user, status.map(|s| s.as_str()))
            .await
            .map_err(|e| e.gql())?;
        Ok(rows
            .into_iter()
            .map(|view| Referral {
                view,
                viewer: caller.viewer(),
            })
            .collect())
    }

    /// Patients: emergency accesses into their records; doctors: the ones they opened.
    async fn my_emergency_accesses(&self, ctx: &Context<'_>) -> Result<Vec<EmergencyAccess>> {
        let caller = caller(ctx)?;
        if caller.role == Role::Admin {
            return Err(error(
                Code::Forbidden,
                "administrators see every emergency access in emergencyAccesses",
            ));
        }
        let s = services(ctx);
        let rows = emergency::involving(&s.pool, caller.user)
            .await
            .map_err(|e| e.gql())?;
        Ok(rows
            .into_iter()
            .map(|view| EmergencyAccess {
                view,
                viewer: caller.viewer(),
            })
            .collect())
    }

    /// Administrators: the review queue, newest first; `reviewed` filters.
    #[graphql(complexity = "crate::types::page::cost(first, child_complexity)")]
    async fn emergency_accesses(
        &self,
        ctx: &Context<'_>,
        reviewed: Option<bool>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<EmergencyAccessConnection> {
        let caller = admin(ctx)?;
        let s = services(ctx);
        let limit = page_size(first)?;
        let before = after.as_deref().map(parse_seq_cursor).transpose()?;
        let rows = emergency::queue(&s.pool, reviewed, before, limit + 1)
            .await
            .map_err(|e| e.gql())?;
        let (edges, page_info) = page(rows, limit, |view| {
            Some(EmergencyAccessEdge {
                cursor: seq_cursor(view.opened_seq),
                node: EmergencyAccess {
                    view,
                    viewer: caller.viewer(),
                },
            })
        });
        Ok(EmergencyAccessConnection { edges, page_info })
    }

    /// A patient's records as a doctor holding an open emergency access to them sees
    /// them (the patient themself sees their own); the same rules as `myRecords`.
    #[graphql(complexity = "crate::types::page::cost(first, child_complexity)")]
    async fn records_of(
        &self,
        ctx: &Context<'_>,
        patient_id: Uuid,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<RecordConnection> {
        let caller = caller(ctx)?;
        let s = services(ctx);
        let patient = UserId::from_uuid(patient_id);
        let now = s.clock.now();
        // A proxy of the patient's sees what their grants cover, as the patient's
        // proxies stream says now.
        let proxies: domain::proxy::Proxies =
            s.records.kernel_state(patient).await.map_err(|e| e.gql())?;
        let is_proxy = proxies.standing_of(caller.user, None, now).is_some();
        let emergency = match caller.role {
            _ if caller.user == patient || is_proxy => None,
            Role::Doctor => Some(
                emergency::open_for(&s.pool, caller.user, patient, now)
                    .await
                    .map_err(|e| e.gql())?
                    .ok_or_else(|| {
                        error(
                            Code::Forbidden,
                            "you hold no open emergency access to this patient",
                        )
                    })?,
            ),
            _ => {
                return Err(error(
                    Code::Forbidden,
                    "only the patient, their proxies, or a doctor in an emergency, lists a patient's records",
                ));
            }
        };
        let limit = page_size(first)?;
        let after = after.as_deref().map(parse_time_id_cursor).transpose()?;
        let views = records::of_owner(&s.pool, &s.keys, patient, after, limit + 1)
            .await
            .map_err(|e| e.gql())?;
        let total = records::count_of_owner(&s.pool, patient)
            .await
            .map_err(|e| e.gql())?;
        let (edges, page_info) = page(views, limit, |v| {
            let cursor = time_id_cursor(v.uploaded_at, v.id.as_uuid());
            // In an emergency, only what can still be read: an erased record is gone.
            if emergency.is_some() && v.erased {
                return None;
            }
            let seen = if is_proxy {
                let grant = proxies.standing_of(caller.user, Some(v.id), now);
                Record::seen_as_proxy(v, caller.viewer(), now, grant)
            } else {
                Record::seen_in(v, caller.viewer(), now, emergency)
            };
            seen.map(|node| RecordEdge { cursor, node })
        });
        Ok(RecordConnection {
            edges,
            page_info,
            total_count: i32::try_from(total).unwrap_or(i32::MAX),
        })
    }
}

#[derive(Default)]
pub struct CareMutation;

#[Object]
impl CareMutation {
    /// A doctor with a live share asks the owner to let another ACTIVE doctor read it.
    async fn refer_record(
        &self,
        ctx: &Context<'_>,
        record_id: Uuid,
        to_doctor_id: Uuid,
        note: Option<String>,
    ) -> Result<Referral> {
        let caller = caller(ctx)?;
        let s = services(ctx);
        let note = parse_note(note.as_deref()).map_err(|e| e.gql())?;
        let (id, seq) = s
            .records
            .refer(
                &caller,
                RecordId::from_uuid(record_id),
                UserId::from_uuid(to_doctor_id),
                note,
            )
            .await
            .map_err(|e| e.gql())?;
        referral_after(s, &caller, id.as_uuid(), seq).await
    }

    /// The owner approves (sharing until the referring doctor's share ends) or declines.
    async fn decide_referral(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        approve: bool,
    ) -> Result<Referral> {
        let caller = caller(ctx)?;
        let s = services(ctx);
        let found = records::referrals::find(&s.pool, id)
            .await
            .map_err(|e| e.gql())?
            .ok_or_else(|| error(Code::NotFound, "there is no such referral"))?;
        // Whether the caller may decide it (the owner, or a MANAGE proxy for them) is
        // the record's rule's to say; anyone else finds no such referral.
        let (_, seq) = s
            .records
            .decide_referral(
                &caller,
                found.record(),
                domain::record::ReferralId::from_uuid(id),
                approve,
            )
            .await
            .map_err(|e| e.gql())?;
        referral_after(s, &caller, id, seq).await
    }

    /// An ACTIVE doctor, signed in with a second factor or a passkey, opens access to all
    /// of a patient's records for `MEDCHAIN_EMERGENCY_TTL`, giving a reason.
    async fn open_emergency_access(
        &self,
        ctx: &Context<'_>,
        patient_id: Uuid,
        reason: String,
    ) -> Result<EmergencyAccess> {
        let caller = caller(ctx)?;
        let s = services(ctx);
        let reason =
            Reason::parse(&reason).map_err(|e| error(Code::BadUserInput, e.to_string()))?;
        let (id, seq) = s
            .records
            .open_emergency(&caller, UserId::from_uuid(patient_id), &reason)
            .await
            .map_err(|e| e.gql())?;
        emergency_after(s, &caller, id.as_uuid(), seq).await
    }

    /// The doctor ends their emergency access early.
    async fn close_emergency_access(&self, ctx: &Context<'_>, id: Uuid) -> Result<EmergencyAccess> {
        let caller = caller(ctx)?;
        let s = services(ctx);
        let seq = s
            .records
            .close_emergency(&caller, EmergencyId::from_uuid(id))
            .await
            .map_err(|e| e.gql())?;
        emergency_after(s, &caller, id, seq).await
    }

    /// An administrator judges whether an emergency access was justified; the patient
    /// sees the decision.
    async fn review_emergency_access(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        justified: bool,
        note: Option<String>,
    ) -> Result<EmergencyAccess> {
        let caller = admin(ctx)?;
        let s = services(ctx);
        let note = note
            .as_deref()
            .filter(|n| !n.trim().is_empty())
            .map(Reason::parse)
            .transpose()
            .map_err(|e| error(Code::BadUserInput, e.to_string()))?;
        let found = emergency::find(&s.pool, id)
            .await
            .map_err(|e| e.gql())?
            .ok_or_else(|| error(Code::NotFound, "there is no such emergency access"))?;
        let seq = s
            .records
            .review_emergency(
                &caller,
                found.doctor(),
                EmergencyId::from_uuid(id),
                justified,
                note.as_ref(),
            )
            .await
            .map_err(|e| e.gql())?;
        emergency_after(s, &caller, id, seq).await
    }
}

async fn referral_after(s: &Services, caller: &Caller, id: Uuid, seq: i64) -> Result<Referral> {
    s.caught_up(&["records"], seq).await?;
    let view = records::referrals::find(&s.pool, id)
        .await
        .map_err(|e| e.gql())?
        .ok_or_else(|| missing_from_view("referral", id))?;
    Ok(Referral {
        view,
        viewer: caller.viewer(),
    })
}

async fn emergency_after(
    s: &Services,
    caller: &Caller,
    id: Uuid,
    seq: i64,
) -> Result<EmergencyAccess> {
    s.caught_up(&["emergency", "records"], seq).await?;
    let view = emergency::find(&s.pool, id)
        .await
        .map_err(|e| e.gql())?
        .ok_or_else(|| missing_from_view("emergency access", id))?;
    let involved = view.doctor_id == caller.user.as_uuid()
        || view.patient_id == caller.user.as_uuid()
        || caller.role == Role::Admin;
    if !involved {
        return Err(error(Code::NotFound, "there is no such emergency access"));
    }
    Ok(EmergencyAccess {
        view,
        viewer: caller.viewer(),
    })
}
