//! Caregiver proxies in `Query` and `Mutation` (API.graphql's care block): granting
//! (an invitation mailed to the address), accepting it as a signed-in account, revoking,
//! the grants a person gave or received, and the patients one looks after.

use crate::{
    context::{Services, caller, services},
    error::{Code, ToGql as _, error, missing_from_view},
    scalars::DateTime,
    types::{
        care::person,
        proxy::{ProxyGrant, ProxyScope},
        user::User,
    },
};
use async_graphql::{Context, Object, Result};
use commands::Caller;
use domain::account::{Email, Role};
use domain::record::RecordId;
use projections::proxies;
use uuid::Uuid;

#[derive(Default)]
pub struct ProxyQuery;

#[Object]
impl ProxyQuery {
    /// Patients: the grants they gave; anyone: the grants they received.
    async fn proxy_grants(&self, ctx: &Context<'_>) -> Result<Vec<ProxyGrant>> {
        let caller = caller(ctx)?;
        let s = services(ctx);
        let rows = proxies::involving(&s.pool, caller.user)
            .await
            .map_err(|e| e.gql())?;
        Ok(rows
            .into_iter()
            .map(|view| ProxyGrant {
                view,
                viewer: caller.viewer(),
            })
            .collect())
    }

    /// The patients whose live grant the caller holds.
    async fn patients_i_proxy(&self, ctx: &Context<'_>) -> Result<Vec<User>> {
        let caller = caller(ctx)?;
        let s = services(ctx);
        let now = s.clock.now();
        let rows = proxies::involving(&s.pool, caller.user)
            .await
            .map_err(|e| e.gql())?;
        let mut seen = Vec::new();
        let mut out = Vec::new();
        for grant in rows {
            let mine = grant.proxy_id == Some(caller.user.as_uuid());
            if mine && grant.active(now) && !seen.contains(&grant.patient_id) {
                seen.push(grant.patient_id);
                out.push(person(ctx, caller.viewer(), grant.patient_id).await?);
            }
        }
        Ok(out)
    }
}

#[derive(Default)]
pub struct ProxyMutation;

#[Object]
impl ProxyMutation {
    /// A patient invites `email` to act for them: READ (see and download) or MANAGE, for
    /// all their records or chosen ones, until `expiresAt`. The same answer whether or not
    /// the address has an account; the grant takes effect when its invitation is redeemed.
    async fn grant_proxy(
        &self,
        ctx: &Context<'_>,
        email: String,
        scope: ProxyScope,
        record_ids: Option<Vec<Uuid>>,
        expires_at: Option<DateTime>,
    ) -> Result<ProxyGrant> {
        let caller = caller(ctx)?;
        if caller.role != Role::Patient {
            return Err(error(
                Code::Forbidden,
                "only a patient grants proxy access to their records",
            ));
        }
        let s = services(ctx);
        let email = Email::parse(&email).map_err(|e| error(Code::BadUserInput, e.to_string()))?;
        let records = record_ids.map(|ids| ids.into_iter().map(RecordId::from_uuid).collect());
        let (grant, seq) = s
            .proxies
            .grant(
                &caller,
                &email,
                scope.into(),
                records,
                expires_at.map(|t| t.0),
            )
            .await
            .map_err(|e| e.gql())?;
        grant_after(s, &caller, grant, seq).await
    }

    async fn revoke_proxy(&self, ctx: &Context<'_>, id: Uuid) -> Result<ProxyGrant> {
        let caller = caller(ctx)?;
        let s = services(ctx);
        let seq = s.proxies.revoke(&caller, id).await.map_err(|e| e.gql())?;
        grant_after(s, &caller, id, seq).await
    }

    /// The signed-in caller redeems the token mailed with an invitation.
    async fn accept_proxy_invitation(
        &self,
        ctx: &Context<'_>,
        token: String,
    ) -> Result<ProxyGrant> {
        let caller = caller(ctx)?;
        let s = services(ctx);
        let (_, grant, seq) = s
            .proxies
            .accept(&caller, &token)
            .await
            .map_err(|e| e.gql())?;
        grant_after(s, &caller, grant, seq).await
    }
}

async fn grant_after(s: &Services, caller: &Caller, id: Uuid, seq: i64) -> Result<ProxyGrant> {
    s.caught_up(&["proxies"], seq).await?;
    let view = proxies::find(&s.pool, id)
        .await
        .map_err(|e| e.gql())?
        .ok_or_else(|| missing_from_view("proxy grant", id))?;
    if view.patient_id != caller.user.as_uuid() && view.proxy_id != Some(caller.user.as_uuid()) {
        return Err(error(Code::NotFound, "there is no such proxy grant"));
    }
    Ok(ProxyGrant {
        view,
        viewer: caller.viewer(),
    })
}
