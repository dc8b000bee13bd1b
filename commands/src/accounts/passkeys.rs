//! Passkeys as commands (DESIGN.md §10): the WebAuthn ceremonies through `webauthn-rs`
//! (discoverable credentials, user verification required), their state kept in
//! `webauthn_challenges` (single-use, five minutes, good in any server process), and
//! the rest decided by `domain::account::user::passkeys`.
//!
//! `webauthn-rs` asks for a credential that is not discoverable by default
//! (`residentKey: "discouraged"`); a passkey sign-in names no account first, so the
//! registration options are changed to require a discoverable one.

use super::{Accounts, SessionToken, login::LoggedIn, sessions::NewSession};
use crate::{
    Caller, CommandError, Decision,
    rate_limit::{Bucket, Subject},
};
use domain::{
    Sealed, Timestamp,
    account::{
        PersonName, User, UserId,
        user::{
            PasskeyError, PasskeyLogin, RegisterPasskey, RemovePasskey, SignInMethod,
            passkey_login, register_passkey, remove_passkey,
        },
    },
};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use uuid::Uuid;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Webauthn, WebauthnBuilder,
};

/// How long a ceremony's challenge holds.
const CHALLENGE_MICROS: i64 = 5 * 60 * 1_000_000;
const NAME_MAX: usize = 64;

/// The relying party: the host of the public URL, and the origins a ceremony may come
/// from. Without a configured public URL, `http://localhost:<port>` (browsers refuse
/// WebAuthn on an IP-address host) and the listen address both.
#[derive(Clone)]
pub struct RelyingParty(std::sync::Arc<Webauthn>);

#[derive(Debug, thiserror::Error)]
#[error("the relying party cannot be made from {origin}: {reason}")]
pub struct RelyingPartyError {
    origin: String,
    reason: String,
}

impl RelyingParty {
    /// `public`: the configured public origin, if any; `listen`: `http://<bound address>`.
    pub fn new(public: Option<&str>, listen: &str) -> Result<Self, RelyingPartyError> {
        let failed = |origin: &str, reason: String| RelyingPartyError {
            origin: origin.to_owned(),
            reason,
        };
        let parse = |o: &str| Url::parse(o).map_err(|e| failed(o, e.to_string()));
        let listen_url = parse(listen)?;
        let origin = match public {
            Some(public) => parse(public)?,
            None => {
                let port = listen_url.port_or_known_default().unwrap_or(80);
                parse(&format!("http://localhost:{port}"))?
            }
        };
        let host = origin
            .host_str()
            .ok_or_else(|| failed(origin.as_str(), "it has no host".into()))?
            .to_owned();
        let mut builder = WebauthnBuilder::new(&host, &origin)
            .map_err(|e| failed(origin.as_str(), e.to_string()))?
            .rp_name("MedChain");
        if public.is_none() {
            builder = builder.append_allowed_origin(&listen_url);
        }
        let webauthn = builder
            .build()
            .map_err(|e| failed(origin.as_str(), e.to_string()))?;
        Ok(Self(std::sync::Arc::new(webauthn)))
    }
}

/// A ceremony begun: its id and the options for `navigator.credentials`.
pub struct Challenge {
    pub id: Uuid,
    pub options: Value,
}

/// A passkey as its person sees it.
pub struct PasskeyInfo {
    pub id: Uuid,
    pub name: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

fn passkey_error(e: PasskeyError) -> CommandError {
    use PasskeyError as E;
    match e {
        E::ReauthRequired => CommandError::ForbiddenBecause {
            reason: super::factors::REAUTH_REQUIRED,
            message: e.to_string(),
        },
        E::AlreadyRegistered | E::TooMany => CommandError::Conflict(e.to_string()),
        E::NoSuchPasskey => CommandError::NotFound(e.to_string()),
        E::Unknown | E::CounterWentBack => CommandError::Unauthenticated(e.to_string()),
        E::NotActive | E::Status(_) => CommandError::Forbidden(e.to_string()),
    }
}

fn ceremony_refused(e: impl std::fmt::Display) -> CommandError {
    CommandError::BadInput(format!("the passkey was not accepted: {e}"))
}

/// The SHA-256 of a credential id, hex: how a passkey is found without opening it.
fn credential_hash(id: &[u8]) -> String {
    hex::encode(Sha256::digest(id))
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Registering {
    name: String,
    state: PasskeyRegistration,
}

impl Accounts {
    fn relying_party(&self) -> Result<&Webauthn, CommandError> {
        self.inner
            .relying_party
            .as_ref()
            .map(|rp| rp.0.as_ref())
            .ok_or_else(|| CommandError::Forbidden("passkeys are not set up on this server".into()))
    }

    async fn keep_challenge(
        &self,
        user: Option<UserId>,
        kind: &str,
        state: &impl serde::Serialize,
    ) -> Result<Uuid, CommandError> {
        let id = Uuid::new_v4();
        let expires = self.inner.clock.now().plus_micros(CHALLENGE_MICROS);
        let state = serde_json::to_string(state).map_err(CommandError::internal)?;
        sqlx::query(
            "INSERT INTO webauthn_challenges (id, user_id, kind, state, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(user.map(|u| u.as_uuid()))
        .bind(kind)
        .bind(state)
        .bind(expires.to_datetime())
        .execute(self.pool())
        .await?;
        Ok(id)
    }

    /// Takes a ceremony's state, once: gone whether or not what follows succeeds.
    async fn take_challenge<T: serde::de::DeserializeOwned>(
        &self,
        id: Uuid,
        user: Option<UserId>,
        kind: &str,
    ) -> Result<T, CommandError> {
        let now = self.inner.clock.now().to_datetime();
        let state: Option<String> = sqlx::query_scalar(
            "DELETE FROM webauthn_challenges WHERE id = $1 AND kind = $2 \
             AND user_id IS NOT DISTINCT FROM $3 AND expires_at > $4 RETURNING state",
        )
        .bind(id)
        .bind(kind)
        .bind(user.map(|u| u.as_uuid()))
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        // Expired ones are refused like used ones, and swept here.
        sqlx::query("DELETE FROM webauthn_challenges WHERE expires_at <= $1")
            .bind(now)
            .execute(self.pool())
            .await?;
        let state = state.ok_or_else(|| {
            CommandError::BadInput(
                "this passkey request is unknown, used or expired: begin again".into(),
            )
        })?;
        serde_json::from_str(&state).map_err(CommandError::internal)
    }

    /// The caller's passkeys.
    pub async fn passkeys(&self, user: UserId) -> Result<Vec<PasskeyInfo>, CommandError> {
        let state = self.kernel().load::<User>(user).await?.state;
        let Some(key) = self.live_key(user).await? else {
            return Ok(Vec::new());
        };
        let stream = user.stream();
        state
            .passkeys()
            .iter()
            .map(|(id, p)| {
                Ok(PasskeyInfo {
                    id: *id,
                    name: key
                        .open_string(stream.as_str(), "passkeyName", &p.name)
                        .map_err(CommandError::internal)?,
                    created_at: p.created_at,
                    last_used_at: p.last_used_at,
                })
            })
            .collect()
    }

    /// Begins registering a passkey named `name` for the caller (after a recent sign-in).
    pub async fn passkey_register_begin(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<Challenge, CommandError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > NAME_MAX {
            return Err(CommandError::BadInput(format!(
                "a passkey's name is 1 to {NAME_MAX} characters (\"my phone\")"
            )));
        }
        let webauthn = self.relying_party()?;
        self.step_up(caller)
            .await?
            .check()
            .map_err(|_| passkey_error(PasskeyError::ReauthRequired))?;
        let (user, key) = self.own_account(caller).await?;
        let account = user.account().expect("own_account checked it");
        let stream = caller.user.stream();
        let open = |field: &str, sealed: &Sealed| {
            key.open_string(stream.as_str(), field, sealed)
                .map_err(CommandError::internal)
        };
        let email = open("email", &account.email)?;
        let display =
            PersonName::parse(&open("name", &account.name)?).map_err(CommandError::internal)?;
        let existing = user
            .passkeys()
            .values()
            .map(|p| {
                let json = open("passkey", &p.credential)?;
                let passkey: Passkey =
                    serde_json::from_str(&json).map_err(CommandError::internal)?;
                Ok(passkey.cred_id().clone())
            })
            .collect::<Result<Vec<_>, CommandError>>()?;
        let (options, state) = webauthn
            .start_passkey_registration(
                caller.user.as_uuid(),
                &email,
                display.as_str(),
                Some(existing),
            )
            .map_err(CommandError::internal)?;
        let mut options = serde_json::to_value(&options).map_err(CommandError::internal)?;
        // A discoverable credential: the sign-in names no account (module comment).
        let selection = &mut options["publicKey"]["authenticatorSelection"];
        selection["residentKey"] = "required".into();
        selection["requireResidentKey"] = true.into();
        let registering = Registering {
            name: name.to_owned(),
            state,
        };
        let id = self
            .keep_challenge(Some(caller.user), "register", &registering)
            .await?;
        Ok(Challenge { id, options })
    }

    /// Finishes a registration with the browser's credential (WebAuthn Level 3 JSON).
    pub async fn passkey_register_finish(
        &self,
        caller: &Caller,
        challenge: Uuid,
        credential: Value,
    ) -> Result<(PasskeyInfo, i64), CommandError> {
        let webauthn = self.relying_party()?;
        let registering: Registering = self
            .take_challenge(challenge, Some(caller.user), "register")
            .await?;
        let credential: RegisterPublicKeyCredential =
            serde_json::from_value(credential).map_err(ceremony_refused)?;
        let passkey = webauthn
            .finish_passkey_registration(&credential, &registering.state)
            .map_err(ceremony_refused)?;
        let (_, key) = self.own_account(caller).await?;
        let stream = caller.user.stream();
        let json = serde_json::to_string(&passkey).map_err(CommandError::internal)?;
        let id = Uuid::new_v4();
        let step_up = self.step_up(caller).await?;
        let cmd = RegisterPasskey {
            passkey: id,
            name: key.seal_str(stream.as_str(), "passkeyName", &registering.name),
            credential: key.seal_str(stream.as_str(), "passkey", &json),
            credential_hash: credential_hash(passkey.cred_id()),
            step_up,
        };
        let decide = |user: &User| {
            register_passkey(user, cmd.clone())
                .map(Decision::events)
                .map_err(passkey_error)
        };
        let done = self
            .kernel()
            .execute(caller.user, Some(caller.user), decide)
            .await?;
        tracing::info!(user.id = %caller.user, passkey = %id, "passkey registered");
        Ok((
            PasskeyInfo {
                id,
                name: registering.name,
                created_at: step_up.now,
                last_used_at: None,
            },
            done.seq,
        ))
    }

    /// Removes one of the caller's passkeys (after a recent sign-in); their other
    /// sessions end.
    pub async fn remove_passkey(
        &self,
        caller: &Caller,
        passkey: Uuid,
    ) -> Result<i64, CommandError> {
        let step_up = self.step_up(caller).await?;
        let cmd = RemovePasskey {
            passkey,
            session: caller.session,
            step_up,
        };
        let decide = |user: &User| {
            remove_passkey(user, cmd)
                .map(Decision::events)
                .map_err(passkey_error)
        };
        let done = self
            .kernel()
            .execute_then(caller.user, Some(caller.user), decide, || async {
                self.revoke_sessions(caller.user, Some(caller.session))
                    .await
            })
            .await?;
        Ok(done.seq)
    }

    /// Begins an anonymous passkey sign-in (any discoverable credential of this site).
    pub async fn passkey_login_begin(&self) -> Result<Challenge, CommandError> {
        let webauthn = self.relying_party()?;
        let (options, state) = webauthn
            .start_discoverable_authentication()
            .map_err(CommandError::internal)?;
        let mut options = serde_json::to_value(&options).map_err(CommandError::internal)?;
        // Asked for by a button, not offered in the e-mail field's autofill.
        if let Some(o) = options.as_object_mut() {
            o.remove("mediation");
        }
        let id = self.keep_challenge(None, "login", &state).await?;
        Ok(Challenge { id, options })
    }

    /// Finishes a passkey sign-in: a new session, made with the passkey alone.
    pub async fn passkey_login_finish(
        &self,
        challenge: Uuid,
        credential: Value,
        address: Option<IpAddr>,
        user_agent: Option<&str>,
    ) -> Result<LoggedIn, CommandError> {
        let now = self.inner.clock.now();
        let limits = &self.inner.limits;
        self.address_may_sign_in(address, now).await?;
        let webauthn = self.relying_party()?;
        let state: DiscoverableAuthentication =
            self.take_challenge(challenge, None, "login").await?;
        let refused = || async {
            if let Some(address) = address {
                limits
                    .count(Bucket::Login, Subject::Address(address), now)
                    .await?;
            }
            Ok::<_, CommandError>(CommandError::Unauthenticated(
                "this passkey is not registered here".into(),
            ))
        };
        let Ok(credential) = serde_json::from_value::<PublicKeyCredential>(credential) else {
            return Err(refused().await?);
        };
        let Ok((user_uuid, credential_id)) =
            webauthn.identify_discoverable_authentication(&credential)
        else {
            return Err(refused().await?);
        };
        let id = UserId::from_uuid(user_uuid);
        let hash = credential_hash(credential_id);
        let user = self.kernel().load::<User>(id).await?.state;
        let (Some((passkey_id, stored)), Some(key)) = (
            user.passkeys()
                .iter()
                .find(|(_, p)| p.credential_hash == hash),
            self.live_key(id).await?,
        ) else {
            return Err(refused().await?);
        };
        let passkey_id = *passkey_id;
        let json = key
            .open_string(id.stream().as_str(), "passkey", &stored.credential)
            .map_err(CommandError::internal)?;
        let passkey: Passkey = serde_json::from_str(&json).map_err(CommandError::internal)?;
        let Ok(result) =
            webauthn.finish_discoverable_authentication_v2(&credential, state, &passkey)
        else {
            return Err(refused().await?);
        };
        if !result.user_verified() {
            return Err(refused().await?);
        }
        let role = user
            .role()
            .ok_or_else(|| CommandError::NotFound("no such account".into()))?;
        let session = Uuid::new_v4();
        let expires_at = now.plus_micros(self.inner.sessions.absolute.as_micros() as i64);
        let token = &SessionToken::generate();
        let granted = &AtomicBool::new(false);
        let opened = &AtomicBool::new(false);
        let open = move || async move {
            if granted.load(Ordering::SeqCst) && !opened.swap(true, Ordering::SeqCst) {
                self.open_session(NewSession {
                    user: id,
                    role,
                    session,
                    token,
                    now,
                    expires_at,
                    user_agent,
                    method: SignInMethod::Passkey,
                })
                .await?;
            }
            Ok(())
        };
        let cmd = PasskeyLogin {
            passkey: passkey_id,
            counter: result.counter(),
            session,
            expires_at,
            now,
        };
        let decide = |user: &User| {
            let decided = passkey_login(user, cmd);
            granted.store(decided.is_ok(), Ordering::SeqCst);
            decided.map(Decision::events).map_err(passkey_error)
        };
        let done = self.kernel().execute_then(id, Some(id), decide, open).await;
        if opened.load(Ordering::SeqCst) && done.is_err() {
            self.remove_unrecorded_session(session).await;
        }
        let done = done?;
        tracing::info!(user.id = %id, session.id = %session, "signed in with a passkey");
        Ok(LoggedIn {
            token: token.clone(),
            session,
            user: id,
            role,
            expires_at,
            method: SignInMethod::Passkey,
            seq: done.seq,
        })
    }
}
