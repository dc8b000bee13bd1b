//! What resolvers reach: the services (schema data) and, per request, who is calling
//! and from where.

use crate::error::{Code, ToGql as _, error};
use async_graphql::{Context, Result};
use commands::{Caller, Clock, accounts::Accounts, keys::KeyRing, records::Records};
use projections::Projections;
use projections::users::UserView;
use sqlx::PgPool;
use std::{net::IpAddr, sync::Arc, time::Duration};

/// How long a mutation waits for the views it reads to reach what it wrote.
pub const READ_YOUR_WRITES: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct Services {
    /// The primary; for a query answered from a replica, that replica (`replicas`):
    /// read models only are read through it, and every command has its own pool on the
    /// primary.
    pub pool: PgPool,
    /// Streaming replicas that queries read from (`MEDCHAIN_REPLICA_URLS`).
    pub replicas: Option<Arc<crate::replicas::Replicas>>,
    pub accounts: Accounts,
    pub records: Records,
    /// Share links: creating, opening, revoking, the tokens.
    pub links: commands::links::Links,
    /// Caregiver proxies: invitations, acceptance, revocation.
    pub proxies: commands::proxies::ProxyGrants,
    pub projections: Projections,
    /// Reads new notifications once for every open subscription of this process.
    pub notices: crate::notification_hub::NotificationHub,
    /// The time the access rules are asked at.
    pub clock: Arc<dyn Clock>,
    pub keys: KeyRing,
    /// Key epochs: status, rotation, erasure certificates.
    pub key_epochs: commands::key_epochs::KeyEpochs,
    /// Legal holds: placing and lifting.
    pub legal_holds: commands::legal_holds::LegalHolds,
    /// Reads each request's session with its user's view (batched under load).
    pub sessions: projections::sessions::SessionLookup,
    /// Where the ledger's signed checkpoints are kept.
    pub checkpoints: commands::ledger::CheckpointStore,
    /// Signs checkpoints; its public half is what they are checked against.
    pub ledger_key: Arc<commands::keys::LedgerKey>,
    /// The witnesses whose cosignatures of tree heads are accepted and shown.
    pub witnesses: Arc<domain::ledger::cosignature::WitnessKeys>,
    /// A witness silent for longer than this is flagged.
    pub witness_silence: Duration,
    /// The roles that must have a second factor (`MEDCHAIN_MFA_REQUIRED`).
    pub mfa_policy: domain::account::MfaPolicy,
    /// The transparency log's upper subtrees, kept for proofs (shared with the
    /// checkpointer).
    pub tree_nodes: projections::merkle::NodeCache,
    /// The public URL's origin, for links people follow (share links).
    pub public_url: String,
    /// Cookies get `Secure` when the public URL is https.
    pub secure_cookies: bool,
    /// A session's absolute limit: the cookie's Max-Age.
    pub session_max: Duration,
}

impl Services {
    /// Read-your-writes: waits (at most `READ_YOUR_WRITES`) until the `views` have
    /// reached `seq`, the position a command just wrote.
    pub async fn caught_up(&self, views: &[&'static str], seq: i64) -> Result<()> {
        self.projections
            .wait_for(views, seq, READ_YOUR_WRITES)
            .await
            .map_err(|e| e.gql())
    }
}

/// The request's credentials, checked by the transport before anything runs; a user's
/// own view comes along (read in the same query as the session).
#[derive(Debug, Clone)]
pub enum Auth {
    Anonymous,
    User(Caller, Option<Arc<UserView>>),
    /// Signed in, but their role must have a second factor and they have none
    /// (`MfaPolicy`): the session may only enrol one (`enrolling_caller`).
    Enrolling(Caller, Option<Arc<UserView>>),
}

/// Why a session that may only enrol is refused everything else (API.graphql).
pub const MFA_ENROLMENT_REQUIRED: &str = "MFA_ENROLMENT_REQUIRED";
pub const ENROL_FIRST: &str =
    "your role must have a second factor: set one up in your profile's sign-in security first";

#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub address: Option<IpAddr>,
    pub user_agent: Option<String>,
}

pub fn services<'a>(ctx: &Context<'a>) -> &'a Services {
    ctx.data_unchecked::<Services>()
}

pub fn client<'a>(ctx: &Context<'a>) -> ClientInfo {
    ctx.data_opt::<ClientInfo>().cloned().unwrap_or_default()
}

/// Whoever is signed in, a session that may only enrol included (`me`).
pub fn optional_caller(ctx: &Context<'_>) -> Option<Caller> {
    match ctx.data_opt::<Auth>() {
        Some(Auth::User(caller, _) | Auth::Enrolling(caller, _)) => Some(*caller),
        _ => None,
    }
}

/// The caller's own view, as read with their session.
pub fn own_view(ctx: &Context<'_>) -> Option<Arc<UserView>> {
    match ctx.data_opt::<Auth>() {
        Some(Auth::User(_, view) | Auth::Enrolling(_, view)) => view.clone(),
        _ => None,
    }
}

/// The signed-in caller; a session that may only enrol is refused (FORBIDDEN, reason
/// MFA_ENROLMENT_REQUIRED).
pub fn caller(ctx: &Context<'_>) -> Result<Caller> {
    match ctx.data_opt::<Auth>() {
        Some(Auth::User(caller, _)) => Ok(*caller),
        Some(Auth::Enrolling(..)) => Err(crate::error::forbidden_because(
            MFA_ENROLMENT_REQUIRED,
            ENROL_FIRST,
        )),
        _ => Err(error(Code::Unauthenticated, "sign in first")),
    }
}

/// The signed-in caller, a session that may only enrol included: for what such a
/// session may do (its factors, `reauthenticate`, `logout`).
pub fn enrolling_caller(ctx: &Context<'_>) -> Result<Caller> {
    optional_caller(ctx).ok_or_else(|| error(Code::Unauthenticated, "sign in first"))
}

/// The caller, if they are an administrator (`domain::account::require_admin`).
pub fn admin(ctx: &Context<'_>) -> Result<Caller> {
    let caller = caller(ctx)?;
    caller.require_admin().map_err(|e| e.gql())?;
    Ok(caller)
}
