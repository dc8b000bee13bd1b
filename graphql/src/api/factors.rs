//! Strong sign-in in `Query` and `Mutation` (API.graphql's authentication block, DESIGN.md
//! §10): the caller's factors, TOTP enrolment and removal, recovery codes, and the
//! step-up (`reauthenticate`) that changing a factor needs. `login(…, otp)` is in
//! `accounts`.

use crate::types::user::{User, user_after};
use crate::{
    context::{admin, caller, client, enrolling_caller, services},
    error::ToGql as _,
    types::{
        factors::{MfaStatus, Passkey, TotpEnrollment, WebAuthnChallenge},
        session::Session,
    },
};
use async_graphql::{Context, Object, Result};
use domain::account::UserId;
use uuid::Uuid;

#[derive(Default)]
pub struct FactorQuery;

#[Object]
impl FactorQuery {
    /// The caller's second factors.
    async fn my_mfa(&self, ctx: &Context<'_>) -> Result<MfaStatus> {
        let caller = enrolling_caller(ctx)?;
        let status = services(ctx)
            .accounts
            .mfa_status(caller.user)
            .await
            .map_err(|e| e.gql())?;
        let passkeys = services(ctx)
            .accounts
            .passkeys(caller.user)
            .await
            .map_err(|e| e.gql())?;
        Ok(MfaStatus {
            totp: status.totp,
            passkeys: passkeys.into_iter().map(Passkey::from).collect(),
            recovery_codes_left: status.recovery_codes_left as i32,
            required: services(ctx).mfa_policy.requires(caller.role),
        })
    }
}

#[derive(Default)]
pub struct FactorMutation;

#[Object]
impl FactorMutation {
    /// A new TOTP secret to scan or type; nothing is on until `totpEnrollFinish`.
    async fn totp_enroll_begin(&self, ctx: &Context<'_>) -> Result<TotpEnrollment> {
        let caller = enrolling_caller(ctx)?;
        let begun = services(ctx)
            .accounts
            .totp_enroll_begin(&caller)
            .await
            .map_err(|e| e.gql())?;
        Ok(TotpEnrollment {
            secret: begun.secret,
            otpauth_uri: begun.otpauth_uri,
            qr_svg: begun.qr_svg,
        })
    }

    /// Turns TOTP on with a code from the new secret; the ten recovery codes, shown once.
    async fn totp_enroll_finish(&self, ctx: &Context<'_>, code: String) -> Result<Vec<String>> {
        let caller = enrolling_caller(ctx)?;
        let s = services(ctx);
        let (codes, seq) = s
            .accounts
            .totp_enroll_finish(&caller, &code)
            .await
            .map_err(|e| e.gql())?;
        s.caught_up(&["users", "notifications"], seq).await?;
        Ok(codes)
    }

    /// Turns TOTP off with a code (TOTP or recovery); the caller's other sessions end.
    async fn disable_totp(&self, ctx: &Context<'_>, code: String) -> Result<bool> {
        let caller = enrolling_caller(ctx)?;
        let s = services(ctx);
        let seq = s
            .accounts
            .disable_totp(&caller, &code)
            .await
            .map_err(|e| e.gql())?;
        s.caught_up(&["users", "notifications"], seq).await?;
        Ok(true)
    }

    /// A new list of recovery codes (the old one stops working), with a code.
    async fn regenerate_recovery_codes(
        &self,
        ctx: &Context<'_>,
        code: String,
    ) -> Result<Vec<String>> {
        let caller = enrolling_caller(ctx)?;
        let s = services(ctx);
        let (codes, seq) = s
            .accounts
            .regenerate_recovery_codes(&caller, &code)
            .await
            .map_err(|e| e.gql())?;
        s.caught_up(&["users", "notifications"], seq).await?;
        Ok(codes)
    }

    /// An administrator takes away someone's second factors (they lost them); the
    /// person's sessions end and they are told.
    async fn reset_mfa(&self, ctx: &Context<'_>, user_id: Uuid, reason: String) -> Result<User> {
        let admin = admin(ctx)?;
        let s = services(ctx);
        let seq = s
            .accounts
            .reset_mfa(&admin, UserId::from_uuid(user_id), &reason)
            .await
            .map_err(|e| e.gql())?;
        user_after(s, user_id, seq).await
    }

    /// Begins registering a passkey (after a recent sign-in).
    async fn passkey_register_begin(
        &self,
        ctx: &Context<'_>,
        name: String,
    ) -> Result<WebAuthnChallenge> {
        let caller = enrolling_caller(ctx)?;
        let begun = services(ctx)
            .accounts
            .passkey_register_begin(&caller, &name)
            .await
            .map_err(|e| e.gql())?;
        Ok(begun.into())
    }

    /// Finishes it with the browser's credential (`PublicKeyCredential.toJSON()`).
    async fn passkey_register_finish(
        &self,
        ctx: &Context<'_>,
        challenge_id: Uuid,
        credential: crate::scalars::JsonValue,
    ) -> Result<Passkey> {
        let caller = enrolling_caller(ctx)?;
        let s = services(ctx);
        let (passkey, seq) = s
            .accounts
            .passkey_register_finish(&caller, challenge_id, credential.0)
            .await
            .map_err(|e| e.gql())?;
        s.caught_up(&["users", "notifications"], seq).await?;
        Ok(passkey.into())
    }

    /// Removes one of the caller's passkeys (after a recent sign-in); their other
    /// sessions end.
    async fn remove_passkey(&self, ctx: &Context<'_>, id: Uuid) -> Result<bool> {
        let caller = caller(ctx)?;
        let s = services(ctx);
        let seq = s
            .accounts
            .remove_passkey(&caller, id)
            .await
            .map_err(|e| e.gql())?;
        s.caught_up(&["users", "notifications"], seq).await?;
        Ok(true)
    }

    /// Begins a passkey sign-in (anonymous; any passkey of this site).
    async fn passkey_login_begin(&self, ctx: &Context<'_>) -> Result<WebAuthnChallenge> {
        let begun = services(ctx)
            .accounts
            .passkey_login_begin()
            .await
            .map_err(|e| e.gql())?;
        Ok(begun.into())
    }

    /// Finishes it: a session made with the passkey alone, also set as the cookie.
    async fn passkey_login_finish(
        &self,
        ctx: &Context<'_>,
        challenge_id: Uuid,
        credential: crate::scalars::JsonValue,
    ) -> Result<Session> {
        let s = services(ctx);
        let client = client(ctx);
        let logged_in = s
            .accounts
            .passkey_login_finish(
                challenge_id,
                credential.0,
                client.address,
                client.user_agent.as_deref(),
            )
            .await
            .map_err(|e| e.gql())?;
        Ok(Session::signed_in(ctx, &logged_in))
    }

    /// Proves the caller again: changing a factor is allowed for five minutes after.
    async fn reauthenticate(
        &self,
        ctx: &Context<'_>,
        password: String,
        otp: Option<String>,
    ) -> Result<bool> {
        let caller = enrolling_caller(ctx)?;
        services(ctx)
            .accounts
            .reauthenticate(&caller, password, otp, client(ctx).address)
            .await
            .map_err(|e| e.gql())?;
        Ok(true)
    }
}
