//! Read tokens in `Query` and `Mutation` (API.graphql, DESIGN.md §12): `readTokens`,
//! `createReadToken`, `revokeReadToken`. The tokens themselves are accepted only by the
//! FHIR routes (`fhir`), and only for reading.

use crate::{
    context::{caller, services},
    error::ToGql as _,
    scalars::DateTime,
    types::read_token::{NewReadToken, ReadToken},
};
use async_graphql::{Context, Object, Result};
use uuid::Uuid;

#[derive(Default)]
pub struct ReadTokenQuery;

#[Object]
impl ReadTokenQuery {
    /// The caller's read tokens, newest first, revoked and expired ones included.
    async fn read_tokens(&self, ctx: &Context<'_>) -> Result<Vec<ReadToken>> {
        let caller = caller(ctx)?;
        let tokens = services(ctx)
            .accounts
            .read_tokens(caller.user)
            .await
            .map_err(|e| e.gql())?;
        Ok(tokens.into_iter().map(ReadToken::from).collect())
    }
}

#[derive(Default)]
pub struct ReadTokenMutation;

#[Object]
impl ReadTokenMutation {
    /// A token an app uses to read the caller's records through `GET /fhir/R4/…` until
    /// `expiresAt` (at most a year); after a recent sign-in (REAUTH_REQUIRED otherwise).
    async fn create_read_token(
        &self,
        ctx: &Context<'_>,
        name: String,
        expires_at: DateTime,
    ) -> Result<NewReadToken> {
        let caller = caller(ctx)?;
        let (token, secret) = services(ctx)
            .accounts
            .create_read_token(&caller, &name, expires_at.0)
            .await
            .map_err(|e| e.gql())?;
        Ok(NewReadToken {
            token: token.into(),
            secret: secret.expose().to_owned(),
        })
    }

    /// Ends one of the caller's tokens at once.
    async fn revoke_read_token(&self, ctx: &Context<'_>, id: Uuid) -> Result<ReadToken> {
        let caller = caller(ctx)?;
        let token = services(ctx)
            .accounts
            .revoke_read_token(&caller, id)
            .await
            .map_err(|e| e.gql())?;
        Ok(token.into())
    }
}
