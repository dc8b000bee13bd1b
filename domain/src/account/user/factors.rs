//! Second factors (DESIGN.md §10): enrolling TOTP, spending a code (a TOTP code once, a
//! recovery code once), the stricter limit on wrong codes, and the step-up that changing
//! a factor needs.
//!
//! The command layer holds the keys and the clock: it opens the sealed secret and the
//! recovery codes' hashes, compares the code typed, and says what it found
//! (`CodeCheck`). What that means is decided here: a step already used is a replay, a
//! spent recovery code is spent, five wrong codes in fifteen minutes lock codes (not the
//! password, and never a passkey).

use super::events::{
    FactorUsed, MfaReset, Reauthenticated, RecoveryCodesRegenerated, SecondFactorFailed,
    TotpDisabled, TotpEnrolled, UserEvent,
};
use super::state::User;
use crate::account::{AccountStatus, UserId};
use crate::{Sealed, Timestamp};
use uuid::Uuid;

/// Wrong or reused codes allowed within `FAILED_CODE_WINDOW_MICROS` before codes lock.
pub const MAX_FAILED_CODES: usize = 5;
/// 15 minutes.
pub const FAILED_CODE_WINDOW_MICROS: i64 = 15 * 60 * 1_000_000;
/// How long after signing in (or `reauthenticate`) a session may change factors.
pub const STEP_UP_MICROS: i64 = 5 * 60 * 1_000_000;
/// How many recovery codes a list holds.
pub const RECOVERY_CODES: u8 = 10;

/// What the command layer found the code typed to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    /// A TOTP code of this time step (within one step of now).
    Totp { step: u64 },
    /// The recovery code at this position of the current list.
    RecoveryCode { index: u8 },
    /// Neither.
    Wrong,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum FactorError {
    #[error("this account is not active")]
    NotActive,
    #[error("TOTP is already on for this account; turn it off first to enrol again")]
    AlreadyEnrolled,
    #[error("TOTP is not on for this account")]
    NoTotp,
    #[error("the code is wrong or was already used")]
    WrongCode,
    #[error("too many wrong codes: codes are refused until {until}")]
    CodesLocked { until: Timestamp },
    #[error("this needs a recent sign-in: confirm your password (and code) first")]
    ReauthRequired,
    #[error("there is no such account")]
    NoAccount,
    #[error("an administrator cannot reset their own second factors; another administrator must")]
    OwnFactors,
    #[error("this account has no second factor to reset")]
    NoFactor,
}

/// Like `LoginDecision`: a wrong code is refused *and* recorded (it counts toward the
/// limit), so the events stand beside the outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct FactorDecision {
    pub events: Vec<UserEvent>,
    pub outcome: Result<(), FactorError>,
}

impl FactorDecision {
    fn refused(error: FactorError) -> Self {
        Self {
            events: Vec::new(),
            outcome: Err(error),
        }
    }

    fn made(event: impl Into<UserEvent>) -> Self {
        Self {
            events: vec![event.into()],
            outcome: Ok(()),
        }
    }
}

impl User {
    /// When codes unlock, if they are locked at `now`.
    pub fn codes_locked_until(&self, now: Timestamp) -> Option<Timestamp> {
        let in_window: Vec<Timestamp> = self
            .recent_failed_codes()
            .iter()
            .copied()
            .filter(|at| now.as_micros() - at.as_micros() < FAILED_CODE_WINDOW_MICROS)
            .collect();
        (in_window.len() >= MAX_FAILED_CODES)
            .then(|| in_window[0].plus_micros(FAILED_CODE_WINDOW_MICROS))
    }

    pub fn has_totp(&self) -> bool {
        self.totp().is_some()
    }

    /// Recovery codes not yet used.
    pub fn recovery_codes_left(&self) -> usize {
        self.totp()
            .map_or(0, |t| usize::from(RECOVERY_CODES) - t.used_codes.len())
    }

    /// What presenting a code amounts to: the factor it spends, or the refusal (with the
    /// failure to record when it counts).
    pub fn present_code(
        &self,
        check: CodeCheck,
        now: Timestamp,
    ) -> Result<FactorUsed, (FactorError, Vec<UserEvent>)> {
        let Some(totp) = self.totp() else {
            return Err((FactorError::NoTotp, Vec::new()));
        };
        if let Some(until) = self.codes_locked_until(now) {
            return Err((FactorError::CodesLocked { until }, Vec::new()));
        }
        let spent = match check {
            CodeCheck::Totp { step } if step > totp.last_step => {
                return Ok(FactorUsed::TotpStep(step));
            }
            CodeCheck::RecoveryCode { index }
                if index < RECOVERY_CODES && !totp.used_codes.contains(&index) =>
            {
                return Ok(FactorUsed::RecoveryCode(index));
            }
            _ => SecondFactorFailed {
                at: now,
                locked: self.failures_within_window(now) + 1 >= MAX_FAILED_CODES,
            },
        };
        Err((FactorError::WrongCode, vec![spent.into()]))
    }

    fn failures_within_window(&self, now: Timestamp) -> usize {
        self.recent_failed_codes()
            .iter()
            .filter(|at| now.as_micros() - at.as_micros() < FAILED_CODE_WINDOW_MICROS)
            .count()
    }
}

/// When the session last proved its person: its sign-in or its latest `reauthenticate`
/// (the command layer reads it from the session), and the time now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepUp {
    pub authenticated_at: Timestamp,
    pub now: Timestamp,
}

impl StepUp {
    pub fn check(self) -> Result<(), FactorError> {
        if self.now.as_micros() - self.authenticated_at.as_micros() <= STEP_UP_MICROS {
            Ok(())
        } else {
            Err(FactorError::ReauthRequired)
        }
    }
}

fn active(state: &User) -> Result<(), FactorError> {
    match state.status() {
        Some(AccountStatus::Active) => Ok(()),
        _ => Err(FactorError::NotActive),
    }
}

/// Turning TOTP on: the secret and the codes are the command's (random, sealed); `step`
/// is that of the code the person typed from their app, which the command found to
/// match the new secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolTotp {
    pub secret: Sealed,
    pub recovery_codes: Sealed,
    pub step: u64,
    pub step_up: StepUp,
}

pub fn enrol_totp(state: &User, cmd: EnrolTotp) -> Result<Vec<UserEvent>, FactorError> {
    active(state)?;
    cmd.step_up.check()?;
    if state.has_totp() {
        return Err(FactorError::AlreadyEnrolled);
    }
    Ok(vec![
        TotpEnrolled {
            secret: cmd.secret,
            recovery_codes: cmd.recovery_codes,
            step: cmd.step,
        }
        .into(),
    ])
}

/// Turning TOTP off, with a code, from `session`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DisableTotp {
    pub check: CodeCheck,
    pub session: Uuid,
    pub step_up: StepUp,
}

pub fn disable_totp(state: &User, cmd: DisableTotp) -> FactorDecision {
    if let Err(e) = active(state).and(cmd.step_up.check()) {
        return FactorDecision::refused(e);
    }
    match state.present_code(cmd.check, cmd.step_up.now) {
        Ok(factor) => FactorDecision::made(TotpDisabled {
            factor,
            kept_session: cmd.session,
        }),
        Err((error, events)) => FactorDecision {
            events,
            outcome: Err(error),
        },
    }
}

/// A new list of recovery codes, with a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegenerateCodes {
    pub check: CodeCheck,
    pub recovery_codes: Sealed,
    pub step_up: StepUp,
}

pub fn regenerate_recovery_codes(state: &User, cmd: RegenerateCodes) -> FactorDecision {
    if let Err(e) = active(state).and(cmd.step_up.check()) {
        return FactorDecision::refused(e);
    }
    match state.present_code(cmd.check, cmd.step_up.now) {
        Ok(factor) => FactorDecision::made(RecoveryCodesRegenerated {
            recovery_codes: cmd.recovery_codes,
            factor,
        }),
        Err((error, events)) => FactorDecision {
            events,
            outcome: Err(error),
        },
    }
}

/// An administrator (`by`) takes away a person's second factors, with a reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetMfa {
    pub by: UserId,
    pub reason: Sealed,
}

pub fn reset_mfa(state: &User, cmd: ResetMfa) -> Result<Vec<UserEvent>, FactorError> {
    if !state.exists() {
        return Err(FactorError::NoAccount);
    }
    if cmd.by == state.id() {
        return Err(FactorError::OwnFactors);
    }
    if !state.has_second_factor() {
        return Err(FactorError::NoFactor);
    }
    Ok(vec![MfaReset { reason: cmd.reason }.into()])
}

/// Proving the person again from `session`: the password (compared by the command), and
/// a code when they have TOTP (`None` when none was typed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reauthenticate {
    pub session: Uuid,
    pub password_matches: bool,
    pub code: Option<CodeCheck>,
    pub now: Timestamp,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ReauthError {
    #[error("the password is wrong")]
    WrongPassword,
    #[error("this account has a second factor: give a code too")]
    CodeRequired,
    #[error("{0}")]
    Factor(FactorError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct ReauthDecision {
    pub events: Vec<UserEvent>,
    pub outcome: Result<(), ReauthError>,
}

pub fn reauthenticate(state: &User, cmd: Reauthenticate) -> ReauthDecision {
    let refused = |e| ReauthDecision {
        events: Vec::new(),
        outcome: Err(e),
    };
    if let Err(e) = active(state) {
        return refused(ReauthError::Factor(e));
    }
    if !state.is_session_live(cmd.session, cmd.now) {
        return refused(ReauthError::Factor(FactorError::NotActive));
    }
    if !cmd.password_matches {
        return refused(ReauthError::WrongPassword);
    }
    let factor = match (state.has_totp(), cmd.code) {
        (false, _) => None,
        (true, None) => return refused(ReauthError::CodeRequired),
        (true, Some(check)) => match state.present_code(check, cmd.now) {
            Ok(factor) => Some(factor),
            Err((error, events)) => {
                return ReauthDecision {
                    events,
                    outcome: Err(ReauthError::Factor(error)),
                };
            }
        },
    };
    ReauthDecision {
        events: vec![
            Reauthenticated {
                session: cmd.session,
                factor,
            }
            .into(),
        ],
        outcome: Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::events::LoginSucceeded;
    use super::super::given::{at, given, registered_with, sealed, session};
    use super::*;
    use crate::account::Role;

    fn active_patient() -> UserEvent {
        registered_with(Role::Patient, AccountStatus::Active)
    }

    fn enrolled(step: u64) -> UserEvent {
        TotpEnrolled {
            secret: sealed("secret"),
            recovery_codes: sealed("codes"),
            step,
        }
        .into()
    }

    fn signed_in(n: u128, factor: Option<FactorUsed>) -> UserEvent {
        LoginSucceeded {
            session: session(n),
            expires_at: at(720),
            factor,
        }
        .into()
    }

    fn fresh(minute: i64) -> StepUp {
        StepUp {
            authenticated_at: at(minute),
            now: at(minute + 1),
        }
    }

    fn failed(minute: i64, locked: bool) -> UserEvent {
        SecondFactorFailed {
            at: at(minute),
            locked,
        }
        .into()
    }

    #[test]
    fn enrolling_needs_a_recent_sign_in() {
        let stale = StepUp {
            authenticated_at: at(0),
            now: at(6),
        };
        given([active_patient()])
            .when(|u| {
                enrol_totp(
                    u,
                    EnrolTotp {
                        secret: sealed("secret"),
                        recovery_codes: sealed("codes"),
                        step: 7,
                        step_up: stale,
                    },
                )
            })
            .then_err(FactorError::ReauthRequired);
    }

    #[test]
    fn enrolling_records_the_factor_once() {
        let cmd = EnrolTotp {
            secret: sealed("secret"),
            recovery_codes: sealed("codes"),
            step: 7,
            step_up: fresh(0),
        };
        let user = given([active_patient()])
            .when(|u| enrol_totp(u, cmd.clone()))
            .then([enrolled(7)]);
        assert_eq!(user.recovery_codes_left(), 10);
        given([active_patient(), enrolled(7)])
            .when(|u| enrol_totp(u, cmd))
            .then_err(FactorError::AlreadyEnrolled);
    }

    #[test]
    fn a_code_is_good_once() {
        let user = given([active_patient(), enrolled(7)]).state();
        // The enrolment's own step is spent; the next one is not.
        assert!(matches!(
            user.present_code(CodeCheck::Totp { step: 7 }, at(1)),
            Err((FactorError::WrongCode, _))
        ));
        assert_eq!(
            user.present_code(CodeCheck::Totp { step: 8 }, at(1)),
            Ok(FactorUsed::TotpStep(8))
        );
        let after = given([
            active_patient(),
            enrolled(7),
            signed_in(1, Some(FactorUsed::TotpStep(8))),
        ])
        .state();
        assert!(matches!(
            after.present_code(CodeCheck::Totp { step: 8 }, at(1)),
            Err((FactorError::WrongCode, _))
        ));
    }

    #[test]
    fn a_recovery_code_is_spent_and_ends_the_other_sessions() {
        let user = given([
            active_patient(),
            enrolled(7),
            signed_in(1, Some(FactorUsed::TotpStep(8))),
            signed_in(2, Some(FactorUsed::RecoveryCode(3))),
        ])
        .state();
        assert_eq!(user.recovery_codes_left(), 9);
        assert!(!user.is_session_open(session(1)));
        assert!(user.is_session_open(session(2)));
        assert!(matches!(
            user.present_code(CodeCheck::RecoveryCode { index: 3 }, at(2)),
            Err((FactorError::WrongCode, _))
        ));
        assert_eq!(
            user.present_code(CodeCheck::RecoveryCode { index: 4 }, at(2)),
            Ok(FactorUsed::RecoveryCode(4))
        );
    }

    #[test]
    fn five_wrong_codes_lock_codes_and_the_fifth_says_so() {
        let mut history = vec![active_patient(), enrolled(7)];
        history.extend((0..4).map(|m| failed(m, false)));
        let user = given(history.clone()).state();
        assert_eq!(
            user.present_code(CodeCheck::Wrong, at(4)),
            Err((FactorError::WrongCode, vec![failed(4, true)]))
        );
        history.push(failed(4, true));
        let locked = given(history).state();
        // Even the right code, while locked; nothing more recorded.
        assert_eq!(
            locked.present_code(CodeCheck::Totp { step: 9 }, at(5)),
            Err((FactorError::CodesLocked { until: at(15) }, vec![]))
        );
        assert_eq!(
            locked.present_code(CodeCheck::Totp { step: 9 }, at(15)),
            Ok(FactorUsed::TotpStep(9))
        );
    }

    #[test]
    fn disabling_needs_a_code_and_keeps_only_this_session() {
        let history = [
            active_patient(),
            enrolled(7),
            signed_in(1, Some(FactorUsed::TotpStep(8))),
            signed_in(2, Some(FactorUsed::TotpStep(9))),
        ];
        let cmd = |check| DisableTotp {
            check,
            session: session(2),
            step_up: fresh(10),
        };
        given(history.clone())
            .when(|u| disable_totp(u, cmd(CodeCheck::Wrong)))
            .then_refused(FactorError::WrongCode, [failed(11, false)]);
        let user = given(history)
            .when(|u| disable_totp(u, cmd(CodeCheck::Totp { step: 10 })))
            .then([TotpDisabled {
                factor: FactorUsed::TotpStep(10),
                kept_session: session(2),
            }
            .into()]);
        assert!(!user.has_totp());
        assert!(!user.is_session_open(session(1)));
        assert!(user.is_session_open(session(2)));
    }

    #[test]
    fn new_recovery_codes_replace_the_old() {
        let user = given([
            active_patient(),
            enrolled(7),
            signed_in(1, Some(FactorUsed::RecoveryCode(0))),
        ])
        .when(|u| {
            regenerate_recovery_codes(
                u,
                RegenerateCodes {
                    check: CodeCheck::Totp { step: 8 },
                    recovery_codes: sealed("codes2"),
                    step_up: fresh(0),
                },
            )
        })
        .then([RecoveryCodesRegenerated {
            recovery_codes: sealed("codes2"),
            factor: FactorUsed::TotpStep(8),
        }
        .into()]);
        assert_eq!(user.recovery_codes_left(), 10);
        assert_eq!(user.totp().map(|t| t.last_step), Some(8));
    }

    #[test]
    fn reauthenticating_asks_for_the_code_when_there_is_one() {
        let history = [active_patient(), enrolled(7), signed_in(1, None)];
        let cmd = |code| Reauthenticate {
            session: session(1),
            password_matches: true,
            code,
            now: at(30),
        };
        given(history.clone())
            .when(|u| reauthenticate(u, cmd(None)))
            .then_err(ReauthError::CodeRequired);
        given(history.clone())
            .when(|u| {
                reauthenticate(
                    u,
                    Reauthenticate {
                        password_matches: false,
                        ..cmd(Some(CodeCheck::Totp { step: 8 }))
                    },
                )
            })
            .then_err(ReauthError::WrongPassword);
        given(history)
            .when(|u| reauthenticate(u, cmd(Some(CodeCheck::Totp { step: 8 }))))
            .then([Reauthenticated {
                session: session(1),
                factor: Some(FactorUsed::TotpStep(8)),
            }
            .into()]);
        given([active_patient(), signed_in(1, None)])
            .when(|u| reauthenticate(u, cmd(None)))
            .then([Reauthenticated {
                session: session(1),
                factor: None,
            }
            .into()]);
    }

    #[test]
    fn an_administrator_resets_someone_elses_factors_and_their_sessions_end() {
        let admin = UserId::from_uuid(Uuid::from_u128(0xad));
        let history = [active_patient(), enrolled(7), signed_in(1, None)];
        let cmd = |by| ResetMfa {
            by,
            reason: sealed("lost phone"),
        };
        let user = given(history.clone())
            .when(|u| reset_mfa(u, cmd(admin)))
            .then([MfaReset {
                reason: sealed("lost phone"),
            }
            .into()]);
        assert!(!user.has_totp() && !user.is_session_open(session(1)));
        given(history)
            .when(|u| reset_mfa(u, cmd(u.id())))
            .then_err(FactorError::OwnFactors);
        given([active_patient()])
            .when(|u| reset_mfa(u, cmd(admin)))
            .then_err(FactorError::NoFactor);
    }
}
