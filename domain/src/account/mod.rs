//! People and their accounts: the value types made at the edge, the `user` aggregate, and
//! the rules about people (`access`).

pub mod access;
pub mod account_status;
pub mod email;
pub mod mfa_policy;
pub mod name_search;
pub mod password;
pub mod person_name;
pub mod phone;
pub mod reason;
pub mod role;
pub mod user;
pub mod user_id;

pub use access::{
    CareCircle, DisclosuresRefused, ExportRefused, Exporter, NotAnAdministrator, Recipient,
    disclosures_subject, exporter, require_admin, sees_consents, sees_contact_details,
    sees_patient, sees_photo,
};
pub use account_status::{AccountStatus, InvalidAccountStatus};
pub use email::{Email, InvalidEmail};
pub use mfa_policy::{InvalidMfaPolicy, MfaPolicy};
pub use password::{Password, PasswordError, PolicySubject};
pub use person_name::{InvalidPersonName, PersonName};
pub use phone::{InvalidPhone, Phone};
pub use reason::{InvalidReason, Reason};
pub use role::{InvalidRole, Role};
pub use user::{
    Account, ChangePassword, ChangePasswordError, LoggedOut, Login, LoginDecision, LoginFailed,
    LoginFailure, LoginRefused, LoginSucceeded, Logout, PasswordChanged, Register, RegisterError,
    Registration, RevokeSession, SessionError, SessionRevoked, UnknownEvent, User, UserEvent,
    UserRegistered,
};
pub use user_id::{InvalidUserId, UserId};
