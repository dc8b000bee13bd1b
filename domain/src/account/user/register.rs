//! Opening an account: who may register through which door, and the status a new
//! account starts in (doctors wait for an administrator's approval, DESIGN.md §6).
//!
//! That the e-mail address is not already taken is a question across streams; the
//! command layer answers it with the blind index before calling `register`.

use super::events::{Registration, UserEvent, UserRegistered};
use super::state::User;
use crate::Sealed;
use crate::account::{AccountStatus, Role};

/// Personal fields arrive sealed and the password hashed: by the time a decision runs,
/// the clear text has served its purpose.
#[derive(Debug, Clone)]
pub struct Register {
    pub role: Role,
    pub via: Registration,
    pub name: Sealed,
    pub email: Sealed,
    pub phone: Option<Sealed>,
    pub password_hash: Sealed,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum RegisterError {
    #[error("this account already exists")]
    AlreadyRegistered,
    #[error("administrators are created with `medchain admin create`")]
    AdminNotAllowed,
}

pub fn register(state: &User, cmd: Register) -> Result<Vec<UserEvent>, RegisterError> {
    if state.exists() {
        return Err(RegisterError::AlreadyRegistered);
    }
    // Whoever reaches the API could otherwise make themselves an administrator; the CLI
    // needs a shell on the server, which is already that trust.
    if cmd.role == Role::Admin && cmd.via == Registration::Api {
        return Err(RegisterError::AdminNotAllowed);
    }
    let status = match cmd.role {
        Role::Doctor => AccountStatus::Pending,
        Role::Patient | Role::Admin => AccountStatus::Active,
    };
    Ok(vec![
        UserRegistered {
            role: cmd.role,
            status,
            name: cmd.name,
            email: cmd.email,
            phone: cmd.phone,
            password_hash: cmd.password_hash,
            via: cmd.via,
        }
        .into(),
    ])
}

#[cfg(test)]
mod tests {
    use super::super::given::{given, registered, sealed};
    use super::*;

    fn through(
        via: Registration,
        role: Role,
    ) -> impl FnOnce(&User) -> Result<Vec<UserEvent>, RegisterError> {
        move |state| {
            register(
                state,
                Register {
                    role,
                    via,
                    name: sealed("name"),
                    email: sealed("email"),
                    phone: None,
                    password_hash: sealed("hash"),
                },
            )
        }
    }

    fn registration(role: Role, status: AccountStatus, via: Registration) -> UserEvent {
        UserRegistered {
            role,
            status,
            name: sealed("name"),
            email: sealed("email"),
            phone: None,
            password_hash: sealed("hash"),
            via,
        }
        .into()
    }

    #[test]
    fn a_patient_registers_active() {
        given([])
            .when(through(Registration::Api, Role::Patient))
            .then([registration(
                Role::Patient,
                AccountStatus::Active,
                Registration::Api,
            )]);
    }

    #[test]
    fn a_doctor_registers_pending() {
        given([])
            .when(through(Registration::Api, Role::Doctor))
            .then([registration(
                Role::Doctor,
                AccountStatus::Pending,
                Registration::Api,
            )]);
    }

    #[test]
    fn a_doctor_created_at_the_console_still_waits_for_approval() {
        given([])
            .when(through(Registration::Cli, Role::Doctor))
            .then([registration(
                Role::Doctor,
                AccountStatus::Pending,
                Registration::Cli,
            )]);
    }

    #[test]
    fn an_admin_cannot_register_through_the_api() {
        given([])
            .when(through(Registration::Api, Role::Admin))
            .then_err(RegisterError::AdminNotAllowed);
    }

    #[test]
    fn an_admin_is_created_at_the_console_active() {
        given([])
            .when(through(Registration::Cli, Role::Admin))
            .then([registration(
                Role::Admin,
                AccountStatus::Active,
                Registration::Cli,
            )]);
    }

    #[test]
    fn an_account_registers_once() {
        given([registered(Role::Patient)])
            .when(through(Registration::Api, Role::Patient))
            .then_err(RegisterError::AlreadyRegistered);
    }

    #[test]
    fn the_phone_number_is_kept_sealed() {
        let user = given([])
            .when(|state| {
                register(
                    state,
                    Register {
                        role: Role::Patient,
                        via: Registration::Api,
                        name: sealed("name"),
                        email: sealed("email"),
                        phone: Some(sealed("phone")),
                        password_hash: sealed("hash"),
                    },
                )
            })
            .then([UserRegistered {
                role: Role::Patient,
                status: AccountStatus::Active,
                name: sealed("name"),
                email: sealed("email"),
                phone: Some(sealed("phone")),
                password_hash: sealed("hash"),
                via: Registration::Api,
            }
            .into()]);
        assert_eq!(user.account().unwrap().phone, Some(sealed("phone")));
    }
}
