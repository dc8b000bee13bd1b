//! The notification reads and mutations of `Query` and `Mutation`: the caller's
//! notifications with their unread count, marking them read (never deleting), and the
//! caller's preferences.

use crate::{
    context::{caller, services},
    error::ToGql as _,
    limits::capped,
    types::{
        enums::NotificationKind,
        notification::{
            Notification, NotificationConnection, NotificationEdge, NotificationPreference,
        },
        page::{page, page_size, parse_seq_cursor, seq_cursor},
    },
};
use async_graphql::{Context, InputObject, Object, Result};
use domain::notification::Preference;
use projections::notifications;
use uuid::Uuid;

#[derive(Default)]
pub struct NotificationQuery;

#[Object]
impl NotificationQuery {
    /// The caller's notifications, newest first.
    #[graphql(complexity = "crate::types::page::cost(first, child_complexity)")]
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        unread_only: Option<bool>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<NotificationConnection> {
        let caller = caller(ctx)?;
        let s = services(ctx);
        let limit = page_size(first)?;
        let before = after.as_deref().map(parse_seq_cursor).transpose()?;
        let user = caller.user;
        let rows = notifications::page(
            &s.pool,
            user,
            unread_only.unwrap_or(false),
            before,
            limit + 1,
        )
        .await
        .map_err(|e| e.gql())?;
        let unread = notifications::unread_count(&s.pool, user)
            .await
            .map_err(|e| e.gql())?;
        let (edges, page_info) = page(rows, limit, |row| {
            Some(NotificationEdge {
                cursor: seq_cursor(row.seq),
                node: Notification {
                    row,
                    viewer: caller.viewer(),
                },
            })
        });
        Ok(NotificationConnection {
            page_info,
            edges,
            unread_count: i32::try_from(unread).unwrap_or(i32::MAX),
        })
    }

    /// Every kind, with the caller's setting or the default.
    async fn notification_preferences(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Vec<NotificationPreference>> {
        let caller = caller(ctx)?;
        let s = services(ctx);
        let prefs = notifications::preferences(&s.pool, caller.user)
            .await
            .map_err(|e| e.gql())?;
        Ok(prefs.all().into_iter().map(Into::into).collect())
    }
}

#[derive(InputObject)]
pub struct NotificationPreferenceInput {
    pub kind: NotificationKind,
    pub in_app: bool,
    pub email: bool,
}

#[derive(Default)]
pub struct NotificationMutation;

#[Object]
impl NotificationMutation {
    /// Marks the notifications `ids` (null: all) read; returns how many were newly marked.
    async fn mark_notifications_read(
        &self,
        ctx: &Context<'_>,
        ids: Option<Vec<Uuid>>,
    ) -> Result<i32> {
        let caller = caller(ctx)?;
        let ids = ids.map(|ids| capped(ids, "ids")).transpose()?;
        let s = services(ctx);
        let user = caller.user;
        let up_to = match ids {
            Some(_) => None,
            None => Some(
                notifications::newest_seq(&s.pool, user)
                    .await
                    .map_err(|e| e.gql())?,
            ),
        };
        let seq = s
            .accounts
            .mark_notifications_read(&caller, ids, up_to)
            .await
            .map_err(|e| e.gql())?;
        s.caught_up(&["notifications"], seq).await?;
        let marked = notifications::marked_by(&s.pool, user, seq)
            .await
            .map_err(|e| e.gql())?;
        Ok(i32::try_from(marked).unwrap_or(i32::MAX))
    }

    /// Merges the kinds given; returns all kinds. Security notices (PASSWORD_CHANGED,
    /// ACCOUNT_APPROVED, ACCOUNT_REJECTED) cannot be turned off in-app.
    async fn set_notification_preferences(
        &self,
        ctx: &Context<'_>,
        input: Vec<NotificationPreferenceInput>,
    ) -> Result<Vec<NotificationPreference>> {
        let caller = caller(ctx)?;
        let s = services(ctx);
        let changes = capped(input, "input")?
            .into_iter()
            .map(|p| Preference {
                kind: p.kind.into(),
                in_app: p.in_app,
                email: p.email,
            })
            .collect();
        let seq = s
            .accounts
            .set_notification_preferences(&caller, changes)
            .await
            .map_err(|e| e.gql())?;
        s.caught_up(&["notifications"], seq).await?;
        let prefs = notifications::preferences(&s.pool, caller.user)
            .await
            .map_err(|e| e.gql())?;
        Ok(prefs.all().into_iter().map(Into::into).collect())
    }
}
