//! `ProxyGrant` (API.graphql's care block): what the patient and the proxy see of a
//! grant. The invited address is the patient's to see (sealed under their key); the
//! proxy sees it was theirs.

use super::care::person;
use super::record::Record;
use super::user::User;
use crate::context::services;
use crate::error::ToGql as _;
use crate::scalars::DateTime;
use async_graphql::{Context, Enum, Object, Result};
use domain::Timestamp;
use domain::record::{RecordId, Viewer};
use projections::proxies::ProxyView;
use uuid::Uuid;

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "ProxyScope", remote = "domain::proxy::ProxyScope")]
pub enum ProxyScope {
    Read,
    Manage,
}

pub struct ProxyGrant {
    pub view: ProxyView,
    pub viewer: Viewer,
}

#[Object]
impl ProxyGrant {
    async fn id(&self) -> Uuid {
        self.view.id
    }

    async fn patient(&self, ctx: &Context<'_>) -> Result<User> {
        person(ctx, self.viewer, self.view.patient_id).await
    }

    /// Null until the invitation is accepted.
    async fn proxy(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        match self.view.proxy_id {
            Some(id) => Ok(Some(person(ctx, self.viewer, id).await?)),
            None => Ok(None),
        }
    }

    /// The address invited: the patient sees it; anyone else sees it is hidden.
    async fn email(&self, ctx: &Context<'_>) -> Result<String> {
        if self.viewer.id != self.view.patient() {
            return Ok("(hidden)".into());
        }
        let s = services(ctx);
        let Some(key) = s
            .keys
            .subject_key(&s.pool, self.view.patient_id)
            .await
            .map_err(|e| crate::error::internal(&e))?
            .live()
        else {
            return Ok("(erased)".into());
        };
        let sealed =
            domain::Sealed::parse(&self.view.email).map_err(|e| crate::error::internal(&e))?;
        let stream = <domain::proxy::Proxies as domain::Aggregate>::stream(self.view.patient());
        key.open_string(stream.as_str(), commands::proxies::EMAIL_FIELD, &sealed)
            .map_err(|e| crate::error::internal(&e))
    }

    async fn scope(&self) -> ProxyScope {
        if self.view.scope == "MANAGE" {
            ProxyScope::Manage
        } else {
            ProxyScope::Read
        }
    }

    /// Null: all the patient's records, present and future.
    async fn records(&self, ctx: &Context<'_>) -> Result<Option<Vec<Record>>> {
        let Some(ids) = &self.view.records else {
            return Ok(None);
        };
        let s = services(ctx);
        let now = s.clock.now();
        let mut out = Vec::new();
        for id in ids {
            let view = projections::records::find(&s.pool, &s.keys, RecordId::from_uuid(*id))
                .await
                .map_err(|e| e.gql())?;
            if let Some(view) = view {
                let proxy = self.view.proxy_id.map(|_| {
                    (
                        self.view.id,
                        if self.view.scope == "MANAGE" {
                            domain::proxy::ProxyScope::Manage
                        } else {
                            domain::proxy::ProxyScope::Read
                        },
                    )
                });
                let seen = if self.viewer.id == self.view.patient() {
                    Record::seen_by(view, self.viewer, now)
                } else {
                    Record::seen_as_proxy(
                        view,
                        self.viewer,
                        now,
                        proxy.filter(|_| self.view.active(now)),
                    )
                };
                out.extend(seen);
            }
        }
        Ok(Some(out))
    }

    async fn granted_at(&self) -> DateTime {
        DateTime(Timestamp::from_datetime(self.view.granted_at))
    }

    async fn expires_at(&self) -> Option<DateTime> {
        self.view
            .expires_at
            .map(|t| DateTime(Timestamp::from_datetime(t)))
    }

    async fn revoked_at(&self) -> Option<DateTime> {
        self.view
            .revoked_at
            .map(|t| DateTime(Timestamp::from_datetime(t)))
    }

    async fn active(&self, ctx: &Context<'_>) -> bool {
        self.view.active(services(ctx).clock.now())
    }

    /// What the proxy did with the patient's records, newest first: the patient's to see
    /// (null for anyone else).
    async fn actions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
    ) -> Result<Option<super::record::AccessEntryConnection>> {
        if self.viewer.id != self.view.patient() {
            return Ok(None);
        }
        let s = services(ctx);
        let limit = super::page::page_size(first)?;
        let rows = match self.view.proxy_id {
            Some(proxy) => {
                projections::records::actions_by(&s.pool, self.view.patient(), proxy, limit + 1)
                    .await
                    .map_err(|e| e.gql())?
            }
            None => Vec::new(),
        };
        let now = s.clock.now();
        let mut seen = std::collections::HashMap::new();
        for row in rows.iter().take(usize::try_from(limit).unwrap_or(0)) {
            if seen.contains_key(&row.record_id) {
                continue;
            }
            let view =
                projections::records::find(&s.pool, &s.keys, RecordId::from_uuid(row.record_id))
                    .await
                    .map_err(|e| e.gql())?;
            seen.insert(
                row.record_id,
                view.and_then(|v| Record::seen_by(v, self.viewer, now)),
            );
        }
        Ok(Some(super::record::AccessEntryConnection::page(
            rows,
            limit,
            |row| seen.get(&row.record_id).cloned().flatten(),
            true,
        )))
    }
}
