//! The `user` aggregate (DESIGN.md §2): an account's history as events, the state those
//! fold into, and the pure decisions that add to it. Facts that need I/O (the password
//! compared with its hash, the e-mail address free, the time) arrive in the command.

pub mod approval;
pub mod change_password;
pub mod erase;
pub mod events;
pub mod export;
pub mod factors;
pub mod login;
pub mod passkeys;
pub mod password_reset;
pub mod photo;
pub mod profile_change;
pub mod read_tokens;
pub mod register;
pub mod sessions;
pub mod state;

#[cfg(test)]
pub(crate) mod given;

pub use approval::{ApprovalError, approve, reject, suspend};
pub use change_password::{ChangePassword, ChangePasswordError, change_password};
pub use erase::{Erase, EraseError, erase};
pub use events::{
    DataExported, FactorUsed, LoggedOut, LoginFailed, LoginFailure, LoginSucceeded, MfaReset,
    NotificationPreferencesSet, NotificationsRead, PasskeyRegistered, PasskeyRemoved,
    PasswordChanged, PasswordReset, PasswordResetRequested, ProfileChangeDecided,
    ProfileChangeRequested, ProfilePhotoChanged, ReadTokenCreated, ReadTokenRevoked,
    Reauthenticated, RecoveryCodesRegenerated, Registration, SecondFactorFailed, SessionRevoked,
    SignInMethod, TotpDisabled, TotpEnrolled, UnknownEvent, UserApproved, UserErased, UserEvent,
    UserRegistered, UserRejected, UserSuspended,
};
pub use export::{ExportError, export_data};
pub use factors::{
    CodeCheck, DisableTotp, EnrolTotp, FactorDecision, FactorError, MAX_FAILED_CODES,
    RECOVERY_CODES, ReauthDecision, ReauthError, Reauthenticate, RegenerateCodes, ResetMfa,
    STEP_UP_MICROS, StepUp, disable_totp, enrol_totp, reauthenticate, regenerate_recovery_codes,
    reset_mfa,
};
pub use login::{
    FAILED_LOGIN_WINDOW_MICROS, Login, LoginDecision, LoginRefused, MAX_FAILED_LOGINS, login,
};
pub use passkeys::{
    MAX_PASSKEYS, PasskeyError, PasskeyLogin, RegisterPasskey, RemovePasskey, passkey_login,
    register_passkey, remove_passkey,
};
pub use password_reset::{ResetError, request_password_reset, reset_password};
pub use photo::{PhotoError, SetPreferencesError, change_photo, set_preferences};
pub use profile_change::{
    DecideProfileChange, ProfileChangeError, RequestProfileChange, decide_profile_change,
    request_profile_change,
};
pub use read_tokens::{
    CreateReadToken, MAX_READ_TOKEN_MICROS, MAX_READ_TOKENS, ReadTokenError, create_read_token,
    revoke_read_token,
};
pub use register::{Register, RegisterError, register};
pub use sessions::{
    FORGET_SESSIONS_AFTER_MICROS, Logout, MAX_SESSION_LIFETIME_MICROS, RevokeSession, SessionError,
    logout, revoke_session,
};
pub use state::{Account, PendingChange, StoredPasskey, StoredReadToken, Totp, User};
