//! Signing in: the rate limit, the password, the account's status, in that order, and
//! what each outcome records.
//!
//! Order matters. The rate limit comes first so that, once locked, even the right
//! password opens nothing (a guesser learns nothing from a hit). The password comes
//! before the status so that only someone who knows it learns that an account is
//! pending or suspended; everyone else reads the same "wrong e-mail address or password"
//! whether or not the account exists.

use super::events::{LoginFailed, LoginFailure, LoginSucceeded, UserEvent};
use super::factors::{CodeCheck, FactorError};
use super::state::User;
use crate::Timestamp;
use crate::account::AccountStatus;
use uuid::Uuid;

/// Wrong passwords allowed within `FAILED_LOGIN_WINDOW_MICROS` before sign-in locks.
pub const MAX_FAILED_LOGINS: usize = 10;
/// 15 minutes.
pub const FAILED_LOGIN_WINDOW_MICROS: i64 = 15 * 60 * 1_000_000;

/// The facts of one attempt: the command layer has checked the password against the
/// stored hash and chosen the session's id and expiry.
#[derive(Debug, Clone, Copy)]
pub struct Login {
    pub password_matches: bool,
    pub now: Timestamp,
    pub session: Uuid,
    pub expires_at: Timestamp,
    /// The second-factor code typed, as the command layer found it; `None` when none
    /// was typed. Asked only of an account that has a second factor.
    pub code: Option<CodeCheck>,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum LoginRefused {
    /// The password was right; this account needs a code too.
    #[error(
        "this account has a second factor: give a code from your authenticator app or a recovery code"
    )]
    MfaRequired,
    #[error("the code is wrong or was already used")]
    WrongCode,
    #[error("too many wrong codes: codes are refused until {until}")]
    CodesLocked { until: Timestamp },
    /// Worded as `WrongPassword` so that nobody can tell which addresses have accounts.
    #[error("the e-mail address or password is wrong")]
    NoAccount,
    #[error("too many wrong passwords: sign-in is locked until {until}")]
    RateLimited { until: Timestamp },
    #[error("the e-mail address or password is wrong")]
    WrongPassword,
    // The state is named as API.graphql spells it, so a client can tell them apart.
    #[error("this account is PENDING: an administrator has not approved it yet")]
    PendingApproval,
    #[error("this account is REJECTED: its registration was not approved")]
    Rejected,
    #[error("this account is SUSPENDED")]
    Suspended,
    #[error("this account has been erased")]
    Erased,
}

/// Unlike the other decisions, not a `Result<Vec<UserEvent>, _>`: a wrong password is
/// refused *and* recorded (the `LoginFailed` the rate limit counts), and a `Result`'s
/// error carries no events. The command layer appends `events` whatever the outcome,
/// then answers with `outcome`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct LoginDecision {
    pub events: Vec<UserEvent>,
    pub outcome: Result<(), LoginRefused>,
}

impl LoginDecision {
    fn refused(reason: LoginRefused) -> Self {
        Self {
            events: Vec::new(),
            outcome: Err(reason),
        }
    }
}

impl User {
    /// When sign-in unlocks, if it is locked at `now`: `MAX_FAILED_LOGINS` wrong
    /// passwords within the window before `now`. The command layer may ask first and
    /// spare itself the password hash.
    pub fn login_locked_until(&self, now: Timestamp) -> Option<Timestamp> {
        let in_window: Vec<Timestamp> = self
            .recent_failed_logins()
            .iter()
            .copied()
            .filter(|at| now.as_micros() - at.as_micros() < FAILED_LOGIN_WINDOW_MICROS)
            .collect();
        // The lock lifts when the oldest of those failures leaves the window.
        (in_window.len() >= MAX_FAILED_LOGINS)
            .then(|| in_window[0].plus_micros(FAILED_LOGIN_WINDOW_MICROS))
    }
}

pub fn login(state: &User, cmd: Login) -> LoginDecision {
    let Some(account) = state.account() else {
        return LoginDecision::refused(LoginRefused::NoAccount);
    };
    if let Some(until) = state.login_locked_until(cmd.now) {
        return LoginDecision::refused(LoginRefused::RateLimited { until });
    }
    if !cmd.password_matches {
        return LoginDecision {
            events: vec![
                LoginFailed {
                    reason: LoginFailure::WrongPassword,
                    at: cmd.now,
                }
                .into(),
            ],
            outcome: Err(LoginRefused::WrongPassword),
        };
    }
    // The right password on an account that may not sign in records nothing: it is
    // neither a guess to count nor a session to open.
    let not_active = match account.status {
        AccountStatus::Active => None,
        AccountStatus::Pending => Some(LoginRefused::PendingApproval),
        AccountStatus::Rejected => Some(LoginRefused::Rejected),
        AccountStatus::Suspended => Some(LoginRefused::Suspended),
        AccountStatus::Erased => Some(LoginRefused::Erased),
    };
    if let Some(reason) = not_active {
        return LoginDecision::refused(reason);
    }
    // The second factor comes last: asking for it tells that the password was right,
    // which only the person (or whoever has their password) may learn.
    let factor = match (state.has_totp(), cmd.code) {
        (false, _) => None,
        (true, None) => return LoginDecision::refused(LoginRefused::MfaRequired),
        (true, Some(check)) => match state.present_code(check, cmd.now) {
            Ok(factor) => Some(factor),
            Err((error, events)) => {
                return LoginDecision {
                    events,
                    outcome: Err(match error {
                        FactorError::CodesLocked { until } => LoginRefused::CodesLocked { until },
                        _ => LoginRefused::WrongCode,
                    }),
                };
            }
        },
    };
    LoginDecision {
        events: vec![
            LoginSucceeded {
                session: cmd.session,
                expires_at: cmd.expires_at,
                factor,
            }
            .into(),
        ],
        outcome: Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::given::{at, given, registered, registered_with, session};
    use super::*;
    use crate::account::Role;

    const SESSION_MINUTES: i64 = 720;

    fn attempt(password_matches: bool, minute: i64) -> impl FnOnce(&User) -> LoginDecision {
        move |state| {
            login(
                state,
                Login {
                    password_matches,
                    now: at(minute),
                    session: session(1),
                    expires_at: at(minute + SESSION_MINUTES),
                    code: None,
                },
            )
        }
    }

    fn failed(minute: i64) -> UserEvent {
        LoginFailed {
            reason: LoginFailure::WrongPassword,
            at: at(minute),
        }
        .into()
    }

    fn succeeded(minute: i64) -> UserEvent {
        LoginSucceeded {
            session: session(1),
            expires_at: at(minute + SESSION_MINUTES),
            factor: None,
        }
        .into()
    }

    /// A patient and ten wrong passwords, one a minute from minute 0 to 9.
    fn ten_failures() -> Vec<UserEvent> {
        std::iter::once(registered(Role::Patient))
            .chain((0..10).map(failed))
            .collect()
    }

    #[test]
    fn the_right_password_opens_a_session() {
        let user = given([registered(Role::Patient)])
            .when(attempt(true, 0))
            .then([succeeded(0)]);
        assert!(user.is_session_live(session(1), at(1)));
    }

    #[test]
    fn a_wrong_password_is_refused_and_recorded() {
        given([registered(Role::Patient)])
            .when(attempt(false, 0))
            .then_refused(LoginRefused::WrongPassword, [failed(0)]);
    }

    #[test]
    fn no_account_reads_like_a_wrong_password_and_records_nothing() {
        given([])
            .when(attempt(true, 0))
            .then_err(LoginRefused::NoAccount);
        assert_eq!(
            LoginRefused::NoAccount.to_string(),
            LoginRefused::WrongPassword.to_string()
        );
    }

    #[test]
    fn nine_failures_do_not_lock() {
        given(ten_failures().into_iter().take(10))
            .when(attempt(true, 10))
            .then([succeeded(10)]);
    }

    #[test]
    fn ten_failures_in_fifteen_minutes_lock_the_account_even_with_the_right_password() {
        let until = at(15);
        given(ten_failures())
            .when(attempt(true, 10))
            .then_err(LoginRefused::RateLimited { until });
    }

    #[test]
    fn a_guess_while_locked_is_not_recorded() {
        given(ten_failures())
            .when(attempt(false, 14))
            .then_err(LoginRefused::RateLimited { until: at(15) });
    }

    #[test]
    fn the_lock_lifts_once_the_window_has_passed() {
        // At minute 15 the first failure (minute 0) is fifteen minutes old: out.
        given(ten_failures())
            .when(attempt(true, 15))
            .then([succeeded(15)]);
    }

    #[test]
    fn failures_spread_beyond_the_window_do_not_lock() {
        let history =
            std::iter::once(registered(Role::Patient)).chain((0..30).step_by(2).map(failed));
        given(history).when(attempt(true, 29)).then([succeeded(29)]);
    }

    #[test]
    fn a_success_does_not_forgive_earlier_failures() {
        let mut history = ten_failures();
        history.insert(5, succeeded(4));
        given(history)
            .when(attempt(true, 10))
            .then_err(LoginRefused::RateLimited { until: at(15) });
    }

    #[test]
    fn a_pending_doctor_cannot_log_in() {
        given([registered(Role::Doctor)])
            .when(attempt(true, 0))
            .then_err(LoginRefused::PendingApproval);
    }

    #[test]
    fn a_pending_doctor_with_a_wrong_password_reads_a_wrong_password() {
        given([registered(Role::Doctor)])
            .when(attempt(false, 0))
            .then_refused(LoginRefused::WrongPassword, [failed(0)]);
    }

    #[test]
    fn an_account_that_is_not_active_says_why() {
        for (status, reason) in [
            (AccountStatus::Rejected, LoginRefused::Rejected),
            (AccountStatus::Suspended, LoginRefused::Suspended),
            (AccountStatus::Erased, LoginRefused::Erased),
        ] {
            given([registered_with(Role::Patient, status)])
                .when(attempt(true, 0))
                .then_err(reason);
        }
    }

    #[test]
    fn an_approved_doctor_logs_in() {
        given([registered_with(Role::Doctor, AccountStatus::Active)])
            .when(attempt(true, 0))
            .then([succeeded(0)]);
    }

    fn with_totp() -> Vec<UserEvent> {
        vec![
            registered_with(Role::Patient, AccountStatus::Active),
            super::super::events::TotpEnrolled {
                secret: super::super::given::sealed("secret"),
                recovery_codes: super::super::given::sealed("codes"),
                step: 7,
            }
            .into(),
        ]
    }

    fn with_code(code: Option<CodeCheck>) -> impl FnOnce(&User) -> LoginDecision {
        move |state| {
            login(
                state,
                Login {
                    password_matches: true,
                    now: at(0),
                    session: session(1),
                    expires_at: at(SESSION_MINUTES),
                    code,
                },
            )
        }
    }

    #[test]
    fn the_right_password_without_a_code_asks_for_one_and_records_nothing() {
        given(with_totp())
            .when(with_code(None))
            .then_err(LoginRefused::MfaRequired);
    }

    #[test]
    fn a_wrong_code_is_refused_and_counted() {
        given(with_totp())
            .when(with_code(Some(CodeCheck::Wrong)))
            .then_refused(
                LoginRefused::WrongCode,
                [super::super::events::SecondFactorFailed {
                    at: at(0),
                    locked: false,
                }
                .into()],
            );
    }

    #[test]
    fn the_right_code_opens_a_session_that_says_how() {
        given(with_totp())
            .when(with_code(Some(CodeCheck::Totp { step: 8 })))
            .then([LoginSucceeded {
                session: session(1),
                expires_at: at(SESSION_MINUTES),
                factor: Some(super::super::events::FactorUsed::TotpStep(8)),
            }
            .into()]);
    }

    #[test]
    fn a_wrong_password_never_reaches_the_code() {
        given(with_totp())
            .when(|state| {
                login(
                    state,
                    Login {
                        password_matches: false,
                        now: at(0),
                        session: session(1),
                        expires_at: at(SESSION_MINUTES),
                        code: Some(CodeCheck::Totp { step: 8 }),
                    },
                )
            })
            .then_refused(LoginRefused::WrongPassword, [failed(0)]);
    }
}
