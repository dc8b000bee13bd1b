//! Second factors as commands (DESIGN.md §10): TOTP enrolment in two steps, turning it
//! off, new recovery codes, `reauthenticate`, and what an account's factors are. Each
//! opens the sealed secret and codes with the person's subject key, says what the code
//! typed is (`CodeCheck`), and leaves what that means to
//! `domain::account::user::factors`.

use super::Accounts;
use super::totp::{self, TotpSecret};
use crate::{Caller, CommandError, Decision, keys::SubjectKey, rate_limit::Bucket};
use domain::{
    Sealed, Timestamp,
    account::{
        Password, User, UserId,
        user::{
            CodeCheck, DisableTotp, EnrolTotp, FactorError, RECOVERY_CODES, ReauthError,
            Reauthenticate, RegenerateCodes, ResetMfa, StepUp, disable_totp, enrol_totp,
            reauthenticate, regenerate_recovery_codes, reset_mfa,
        },
    },
};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};

/// How long a begun enrolment waits for its code.
const ENROLMENT_MICROS: i64 = 10 * 60 * 1_000_000;

/// What `totpEnrollBegin` shows, once: the secret to type or scan.
pub struct TotpEnrollment {
    pub secret: String,
    pub otpauth_uri: String,
    pub qr_svg: String,
}

/// An account's factors as its person sees them.
pub struct MfaStatus {
    pub totp: bool,
    pub recovery_codes_left: usize,
}

/// The reason a refusal carries beside FORBIDDEN (API.graphql `extensions.reason`).
pub const REAUTH_REQUIRED: &str = "REAUTH_REQUIRED";
pub const MFA_REQUIRED: &str = "MFA_REQUIRED";

fn factor_error(e: FactorError) -> CommandError {
    match e {
        FactorError::ReauthRequired => CommandError::ForbiddenBecause {
            reason: REAUTH_REQUIRED,
            message: e.to_string(),
        },
        FactorError::AlreadyEnrolled => CommandError::Conflict(e.to_string()),
        FactorError::NoTotp => CommandError::BadInput(e.to_string()),
        FactorError::WrongCode => CommandError::BadInput(e.to_string()),
        FactorError::CodesLocked { .. } => CommandError::RateLimited(e.to_string()),
        FactorError::NotActive | FactorError::OwnFactors => CommandError::Forbidden(e.to_string()),
        FactorError::NoAccount => CommandError::NotFound(e.to_string()),
        FactorError::NoFactor => CommandError::BadInput(e.to_string()),
    }
}

/// What `typed` is for `user`'s TOTP factor (opened with `key`) at `now`: a code of a
/// step within one of now, a recovery code still on the list, or neither.
pub(super) fn check_code(
    user: &User,
    key: &SubjectKey,
    typed: &str,
    now: Timestamp,
) -> Result<CodeCheck, CommandError> {
    let Some(factor) = user.totp() else {
        return Ok(CodeCheck::Wrong);
    };
    let stream = user.id().stream();
    if totp::is_totp_code(typed) {
        let secret = key
            .open(stream.as_str(), "totpSecret", &factor.secret)
            .map_err(CommandError::internal)?;
        let secret = TotpSecret::from_bytes(&secret).map_err(CommandError::internal)?;
        let seconds = u64::try_from(now.as_micros() / 1_000_000).unwrap_or(0);
        return Ok(match secret.step_of(typed, seconds) {
            Some(step) => CodeCheck::Totp { step },
            None => CodeCheck::Wrong,
        });
    }
    let hashes = recovery_hashes(key, user.id(), &factor.recovery_codes)?;
    let typed = totp::recovery_code_hash(typed);
    Ok(hashes
        .iter()
        .position(|h| *h == typed)
        .and_then(|i| u8::try_from(i).ok())
        .map_or(CodeCheck::Wrong, |index| CodeCheck::RecoveryCode { index }))
}

fn recovery_hashes(
    key: &SubjectKey,
    user: UserId,
    sealed: &Sealed,
) -> Result<Vec<String>, CommandError> {
    let text = key
        .open_string(user.stream().as_str(), "recoveryCodes", sealed)
        .map_err(CommandError::internal)?;
    serde_json::from_str(&text).map_err(CommandError::internal)
}

/// New codes for `user`: shown once, kept hashed and sealed.
fn seal_new_codes(key: &SubjectKey, user: UserId) -> Result<(Vec<String>, Sealed), CommandError> {
    let codes = totp::new_recovery_codes(usize::from(RECOVERY_CODES));
    let hashes: Vec<String> = codes.iter().map(|c| totp::recovery_code_hash(c)).collect();
    let json = serde_json::to_string(&hashes).map_err(CommandError::internal)?;
    Ok((
        codes,
        key.seal_str(user.stream().as_str(), "recoveryCodes", &json),
    ))
}

impl Accounts {
    /// The caller's account and live key, or NOT_FOUND.
    pub(super) async fn own_account(
        &self,
        caller: &Caller,
    ) -> Result<(User, SubjectKey), CommandError> {
        let user = self.kernel().load::<User>(caller.user).await?.state;
        let key = self.live_key(caller.user).await?;
        match (user.account(), key) {
            (Some(_), Some(key)) => Ok((user, key)),
            _ => Err(CommandError::NotFound("no such account".into())),
        }
    }

    /// When the caller's session last proved its person, for a step-up.
    pub(super) async fn step_up(&self, caller: &Caller) -> Result<StepUp, CommandError> {
        let at: Option<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
            "SELECT coalesce(authenticated_at, created_at) FROM sessions WHERE id = $1",
        )
        .bind(caller.session)
        .fetch_optional(self.pool())
        .await?;
        let at = at.ok_or_else(|| CommandError::Unauthenticated("the session has ended".into()))?;
        Ok(StepUp {
            authenticated_at: Timestamp::from_datetime(at),
            now: self.inner.clock.now(),
        })
    }

    pub async fn mfa_status(&self, user: UserId) -> Result<MfaStatus, CommandError> {
        let state = self.kernel().load::<User>(user).await?.state;
        Ok(MfaStatus {
            totp: state.has_totp(),
            recovery_codes_left: state.recovery_codes_left(),
        })
    }

    /// A new TOTP secret for the caller, kept (sealed) until `totp_enroll_finish` gets a
    /// code from it; a second call replaces the first.
    pub async fn totp_enroll_begin(&self, caller: &Caller) -> Result<TotpEnrollment, CommandError> {
        let (user, key) = self.own_account(caller).await?;
        self.step_up(caller).await?.check().map_err(factor_error)?;
        if user.has_totp() {
            return Err(factor_error(FactorError::AlreadyEnrolled));
        }
        let account = user.account().expect("own_account checked it");
        let stream = caller.user.stream();
        let email = key
            .open_string(stream.as_str(), "email", &account.email)
            .map_err(CommandError::internal)?;
        let secret = TotpSecret::generate();
        let uri = totp::TotpSecret::uri(&secret, &email).map_err(CommandError::internal)?;
        let enrollment = TotpEnrollment {
            secret: secret.base32().map_err(CommandError::internal)?,
            qr_svg: totp::qr_svg(&uri).map_err(CommandError::internal)?,
            otpauth_uri: uri,
        };
        let sealed = key.seal(stream.as_str(), "totpSecret", secret.as_bytes());
        let expires = self.inner.clock.now().plus_micros(ENROLMENT_MICROS);
        sqlx::query(
            "INSERT INTO totp_enrolments (user_id, secret, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id) DO UPDATE SET secret = $2, expires_at = $3",
        )
        .bind(caller.user.as_uuid())
        .bind(sealed.as_str())
        .bind(expires.to_datetime())
        .execute(self.pool())
        .await?;
        Ok(enrollment)
    }

    /// Turns TOTP on once `code` comes from the secret begun; returns the ten recovery
    /// codes (shown once) and the seq.
    pub async fn totp_enroll_finish(
        &self,
        caller: &Caller,
        code: &str,
    ) -> Result<(Vec<String>, i64), CommandError> {
        let (_, key) = self.own_account(caller).await?;
        let step_up = self.step_up(caller).await?;
        let now = step_up.now;
        let pending: Option<String> = sqlx::query_scalar(
            "SELECT secret FROM totp_enrolments WHERE user_id = $1 AND expires_at > $2",
        )
        .bind(caller.user.as_uuid())
        .bind(now.to_datetime())
        .fetch_optional(self.pool())
        .await?;
        let pending = pending.ok_or_else(|| {
            CommandError::BadInput(
                "no TOTP enrolment is waiting (or it expired): begin again".into(),
            )
        })?;
        let stream = caller.user.stream();
        let sealed = Sealed::parse(&pending).map_err(CommandError::internal)?;
        let secret = key
            .open(stream.as_str(), "totpSecret", &sealed)
            .map_err(CommandError::internal)?;
        let seconds = u64::try_from(now.as_micros() / 1_000_000).unwrap_or(0);
        let step = TotpSecret::from_bytes(&secret)
            .map_err(CommandError::internal)?
            .step_of(code, seconds)
            .ok_or_else(|| {
                CommandError::BadInput(
                    "that code does not come from the new secret: check the app's clock and try the next code"
                        .into(),
                )
            })?;
        let (codes, recovery_codes) = seal_new_codes(&key, caller.user)?;
        let decide = |user: &User| {
            enrol_totp(
                user,
                EnrolTotp {
                    secret: sealed.clone(),
                    recovery_codes: recovery_codes.clone(),
                    step,
                    step_up,
                },
            )
            .map(Decision::events)
            .map_err(factor_error)
        };
        let done = self
            .kernel()
            .execute(caller.user, Some(caller.user), decide)
            .await?;
        sqlx::query("DELETE FROM totp_enrolments WHERE user_id = $1")
            .bind(caller.user.as_uuid())
            .execute(self.pool())
            .await?;
        tracing::info!(user.id = %caller.user, "TOTP enabled");
        Ok((codes, done.seq))
    }

    /// Turns TOTP off with a code (TOTP or recovery); the caller's other sessions end.
    pub async fn disable_totp(&self, caller: &Caller, code: &str) -> Result<i64, CommandError> {
        let (_, key) = self.own_account(caller).await?;
        let step_up = self.step_up(caller).await?;
        let granted = &AtomicBool::new(false);
        let decide = |user: &User| {
            let check = check_code(user, &key, code, step_up.now)?;
            let decided = disable_totp(
                user,
                DisableTotp {
                    check,
                    session: caller.session,
                    step_up,
                },
            );
            granted.store(decided.outcome.is_ok(), Ordering::SeqCst);
            Ok(Decision::new(decided.events, decided.outcome))
        };
        // A wrong code appends too (it counts): only a granted one ends the others.
        let done = self
            .kernel()
            .execute_then(caller.user, Some(caller.user), decide, || async {
                if granted.load(Ordering::SeqCst) {
                    self.revoke_sessions(caller.user, Some(caller.session))
                        .await?;
                }
                Ok(())
            })
            .await?;
        done.outcome.map_err(factor_error)?;
        tracing::info!(user.id = %caller.user, "TOTP disabled");
        Ok(done.seq)
    }

    /// A new list of recovery codes, with a code; returns them (shown once) and the seq.
    pub async fn regenerate_recovery_codes(
        &self,
        caller: &Caller,
        code: &str,
    ) -> Result<(Vec<String>, i64), CommandError> {
        let (_, key) = self.own_account(caller).await?;
        let step_up = self.step_up(caller).await?;
        let (codes, recovery_codes) = seal_new_codes(&key, caller.user)?;
        let decide = |user: &User| {
            let check = check_code(user, &key, code, step_up.now)?;
            let decided = regenerate_recovery_codes(
                user,
                RegenerateCodes {
                    check,
                    recovery_codes: recovery_codes.clone(),
                    step_up,
                },
            );
            Ok(Decision::new(decided.events, decided.outcome))
        };
        let done = self
            .kernel()
            .execute(caller.user, Some(caller.user), decide)
            .await?;
        done.outcome.map_err(factor_error)?;
        Ok((codes, done.seq))
    }

    /// An administrator takes away `user`'s second factors (never their own), with a
    /// reason sealed under the person's key; the person's sessions end first (fail
    /// closed) and they are told. Returns the seq.
    pub async fn reset_mfa(
        &self,
        admin: &Caller,
        user: UserId,
        reason: &str,
    ) -> Result<i64, CommandError> {
        admin.require_admin()?;
        let reason = self.seal_reason(user, "mfaResetReason", reason).await?;
        let decide = |state: &User| {
            reset_mfa(
                state,
                ResetMfa {
                    by: admin.user,
                    reason: reason.clone(),
                },
            )
            .map(Decision::events)
            .map_err(factor_error)
        };
        let done = self
            .kernel()
            .execute_then(user, Some(admin.user), decide, || async {
                self.revoke_sessions(user, None).await
            })
            .await?;
        tracing::info!(admin = %admin.user, user.id = %user, "second factors reset");
        Ok(done.seq)
    }

    /// Proves the caller again (password, and a code when they have TOTP): their session
    /// may change factors for the next five minutes. A wrong password counts like one at
    /// sign-in (the address's limit); a wrong code toward the codes' limit.
    pub async fn reauthenticate(
        &self,
        caller: &Caller,
        password: String,
        otp: Option<String>,
        address: Option<IpAddr>,
    ) -> Result<i64, CommandError> {
        let now = self.inner.clock.now();
        let limits = &self.inner.limits;
        self.address_may_sign_in(address, now).await?;
        let (user, key) = self.own_account(caller).await?;
        let account = user.account().expect("own_account checked it");
        let phc = key
            .open_string(
                caller.user.stream().as_str(),
                "passwordHash",
                &account.password_hash,
            )
            .map_err(CommandError::internal)?;
        let matches = match Password::for_login(password) {
            Ok(p) => self.inner.hasher.verify(p.expose(), Some(&phc)).await?,
            Err(_) => false,
        };
        let decide = |user: &User| {
            let code = match &otp {
                Some(typed) => Some(check_code(user, &key, typed, now)?),
                None => None,
            };
            let decided = reauthenticate(
                user,
                Reauthenticate {
                    session: caller.session,
                    password_matches: matches,
                    code,
                    now,
                },
            );
            Ok(Decision::new(decided.events, decided.outcome))
        };
        let done = self
            .kernel()
            .execute(caller.user, Some(caller.user), decide)
            .await?;
        match done.outcome {
            Ok(()) => {
                sqlx::query("UPDATE sessions SET authenticated_at = $2 WHERE id = $1")
                    .bind(caller.session)
                    .bind(now.to_datetime())
                    .execute(self.pool())
                    .await?;
                Ok(done.seq)
            }
            Err(ReauthError::WrongPassword) => {
                if let Some(address) = address {
                    limits
                        .count(
                            Bucket::Login,
                            crate::rate_limit::Subject::Address(address),
                            now,
                        )
                        .await?;
                }
                Err(CommandError::Unauthenticated(
                    ReauthError::WrongPassword.to_string(),
                ))
            }
            Err(ReauthError::CodeRequired) => Err(CommandError::ForbiddenBecause {
                reason: MFA_REQUIRED,
                message: ReauthError::CodeRequired.to_string(),
            }),
            Err(ReauthError::Factor(FactorError::WrongCode)) => Err(CommandError::Unauthenticated(
                FactorError::WrongCode.to_string(),
            )),
            Err(ReauthError::Factor(e)) => Err(factor_error(e)),
        }
    }
}
