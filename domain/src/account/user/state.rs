//! What a `user` stream amounts to: the state its events fold into, and no more than the
//! decisions need (DESIGN.md §2). The stream's version is counted by the caller.

use super::events::{FactorUsed, PasswordChanged, UserEvent, UserRegistered};
use super::factors::MAX_FAILED_CODES;
use super::login::MAX_FAILED_LOGINS;
use super::sessions::FORGET_SESSIONS_AFTER_MICROS;
use crate::account::{AccountStatus, Role, UserId};
use crate::{Sealed, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

/// Serializable for the kernel's snapshots (commands), which are derived data: a
/// snapshot is the fold of the stream up to a version, nothing more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    id: UserId,
    account: Option<Account>,
    /// The times of the latest `MAX_FAILED_LOGINS` failures, oldest first: enough to tell
    /// whether that many fell within the window, so the state stays small however long
    /// an attack goes on.
    recent_failures: Vec<Timestamp>,
    /// Open sessions and when each expires.
    sessions: BTreeMap<Uuid, Timestamp>,
    /// The profile change waiting for an administrator, if any.
    pending_change: Option<PendingChange>,
    /// The TOTP factor, once enrolled.
    #[serde(default)]
    totp: Option<Totp>,
    /// The times of the latest `MAX_FAILED_CODES` wrong or reused codes, oldest first.
    #[serde(default)]
    recent_code_failures: Vec<Timestamp>,
    /// The person's passkeys.
    #[serde(default)]
    passkeys: BTreeMap<Uuid, StoredPasskey>,
    /// The open sessions that proved a second factor or a passkey, at sign-in or since
    /// (emergency access asks for one). A snapshot from before this field has none, so
    /// such a session must prove itself again: fail closed.
    #[serde(default)]
    proved: BTreeSet<Uuid>,
    /// The person's read tokens for apps, revoked ones included (their ids stay taken).
    #[serde(default)]
    read_tokens: BTreeMap<Uuid, StoredReadToken>,
}

/// A read token as the decisions need it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredReadToken {
    pub name: Sealed,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub revoked: bool,
}

/// A passkey as the decisions need it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPasskey {
    pub name: Sealed,
    pub credential: Sealed,
    pub credential_hash: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    /// The highest signature counter seen (0: the authenticator keeps none).
    pub counter: u32,
}

/// A person's TOTP factor and its recovery codes, as the decisions need them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totp {
    pub secret: Sealed,
    /// The keyed hashes of the ten codes, sealed (the command layer opens and compares).
    pub recovery_codes: Sealed,
    /// The newest time step a code was accepted for: no code of it or before is again.
    pub last_step: u64,
    /// The positions of the recovery codes used.
    pub used_codes: BTreeSet<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingChange {
    pub id: Uuid,
    pub name: Option<Sealed>,
    pub phone: Option<Sealed>,
}

/// What registration established, as it stands now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub role: Role,
    pub status: AccountStatus,
    pub name: Sealed,
    pub email: Sealed,
    pub phone: Option<Sealed>,
    pub password_hash: Sealed,
}

impl User {
    /// The state of a stream with no events yet: the account does not exist.
    pub fn new(id: UserId) -> Self {
        Self {
            id,
            account: None,
            recent_failures: Vec::new(),
            sessions: BTreeMap::new(),
            pending_change: None,
            totp: None,
            recent_code_failures: Vec::new(),
            passkeys: BTreeMap::new(),
            proved: BTreeSet::new(),
            read_tokens: BTreeMap::new(),
        }
    }

    pub fn from_history<'a>(id: UserId, events: impl IntoIterator<Item = &'a UserEvent>) -> Self {
        let mut user = Self::new(id);
        for event in events {
            user.apply(event);
        }
        user
    }

    pub fn apply(&mut self, event: &UserEvent) {
        self.fold(event);
        let sessions = &self.sessions;
        self.proved.retain(|s| sessions.contains_key(s));
    }

    fn fold(&mut self, event: &UserEvent) {
        match event {
            UserEvent::UserRegistered(e) => self.account = Some(Account::from(e)),
            UserEvent::LoginSucceeded(e) => {
                // A session that ended before this one began can never be closed by
                // anyone (it is refused at sign-in already): forget it, so the state
                // does not grow with every sign-in nobody signed out of.
                let began_by = e.expires_at.plus_micros(-FORGET_SESSIONS_AFTER_MICROS);
                self.sessions.retain(|_, until| *until >= began_by);
                self.used(e.factor, e.session);
                self.sessions.insert(e.session, e.expires_at);
            }
            UserEvent::Reauthenticated(e) => self.used(e.factor, e.session),
            UserEvent::TotpEnrolled(e) => {
                self.totp = Some(Totp {
                    secret: e.secret.clone(),
                    recovery_codes: e.recovery_codes.clone(),
                    last_step: e.step,
                    used_codes: BTreeSet::new(),
                });
            }
            UserEvent::MfaReset(_) => {
                self.totp = None;
                self.passkeys.clear();
                self.sessions.clear();
            }
            UserEvent::PasskeyRegistered(e) => {
                self.passkeys.insert(
                    e.passkey,
                    StoredPasskey {
                        name: e.name.clone(),
                        credential: e.credential.clone(),
                        credential_hash: e.credential_hash.clone(),
                        created_at: e.at,
                        last_used_at: None,
                        counter: 0,
                    },
                );
            }
            UserEvent::ReadTokenCreated(e) => {
                self.read_tokens.insert(
                    e.token,
                    StoredReadToken {
                        name: e.name.clone(),
                        created_at: e.at,
                        expires_at: e.expires_at,
                        revoked: false,
                    },
                );
            }
            UserEvent::ReadTokenRevoked(e) => {
                if let Some(t) = self.read_tokens.get_mut(&e.token) {
                    t.revoked = true;
                }
            }
            UserEvent::PasskeyRemoved(e) => {
                self.passkeys.remove(&e.passkey);
                self.sessions.retain(|s, _| *s == e.kept_session);
            }
            UserEvent::TotpDisabled(e) => {
                self.totp = None;
                self.sessions.retain(|s, _| *s == e.kept_session);
            }
            UserEvent::RecoveryCodesRegenerated(e) => {
                if let Some(totp) = &mut self.totp {
                    totp.recovery_codes = e.recovery_codes.clone();
                    totp.used_codes.clear();
                }
                // The code that asked for them was a TOTP code or one of the old list.
                if let (Some(totp), FactorUsed::TotpStep(step)) = (&mut self.totp, e.factor) {
                    totp.last_step = totp.last_step.max(step);
                }
            }
            UserEvent::SecondFactorFailed(e) => {
                let at = self.recent_code_failures.partition_point(|t| *t <= e.at);
                self.recent_code_failures.insert(at, e.at);
                let excess = self
                    .recent_code_failures
                    .len()
                    .saturating_sub(MAX_FAILED_CODES);
                self.recent_code_failures.drain(..excess);
            }
            UserEvent::LoginFailed(e) => {
                // Sorted rather than appended: concurrent sign-ins may commit in another
                // order than their clocks read.
                let at = self.recent_failures.partition_point(|t| *t <= e.at);
                self.recent_failures.insert(at, e.at);
                let excess = self.recent_failures.len().saturating_sub(MAX_FAILED_LOGINS);
                self.recent_failures.drain(..excess);
            }
            UserEvent::LoggedOut(e) => {
                self.sessions.remove(&e.session);
            }
            UserEvent::SessionRevoked(e) => {
                self.sessions.remove(&e.session);
            }
            UserEvent::PasswordChanged(PasswordChanged {
                password_hash,
                kept_session,
            }) => {
                if let Some(account) = &mut self.account {
                    account.password_hash = password_hash.clone();
                }
                self.sessions.retain(|s, _| Some(*s) == *kept_session);
            }
            UserEvent::UserApproved(_) => self.set_status(AccountStatus::Active),
            UserEvent::UserRejected(_) => self.set_status(AccountStatus::Rejected),
            UserEvent::ProfileChangeRequested(e) => {
                self.pending_change = Some(PendingChange {
                    id: e.change,
                    name: e.name.clone(),
                    phone: e.phone.clone(),
                });
            }
            UserEvent::ProfileChangeDecided(e) => {
                if let Some(change) = self.pending_change.take_if(|c| c.id == e.change)
                    && e.approved
                    && let Some(account) = &mut self.account
                {
                    if let Some(name) = change.name {
                        account.name = name;
                    }
                    if let Some(phone) = change.phone {
                        account.phone = Some(phone);
                    }
                }
            }
            UserEvent::PasswordResetRequested(_)
            | UserEvent::ProfilePhotoChanged(_)
            | UserEvent::NotificationPreferencesSet(_)
            | UserEvent::NotificationsRead(_)
            | UserEvent::DataExported(_) => {}
            UserEvent::PasswordReset(e) => {
                if let Some(account) = &mut self.account {
                    account.password_hash = e.password_hash.clone();
                }
                self.sessions.clear();
            }
            UserEvent::UserErased(_) => {
                self.set_status(AccountStatus::Erased);
                self.sessions.clear();
                self.pending_change = None;
                self.totp = None;
                self.passkeys.clear();
            }
            UserEvent::UserSuspended(_) => {
                self.set_status(AccountStatus::Suspended);
                self.sessions.clear();
            }
        }
    }

    /// A factor accepted for `session`: its code is spent. A recovery code ends every
    /// other session (it is used when the device is lost, perhaps to someone).
    fn used(&mut self, factor: Option<FactorUsed>, session: Uuid) {
        if factor.is_some() {
            self.proved.insert(session);
        }
        if let Some(FactorUsed::Passkey {
            passkey,
            counter,
            at,
        }) = factor
            && let Some(stored) = self.passkeys.get_mut(&passkey)
        {
            stored.counter = stored.counter.max(counter);
            stored.last_used_at = Some(at);
            return;
        }
        let Some(totp) = &mut self.totp else {
            return;
        };
        match factor {
            Some(FactorUsed::TotpStep(step)) => totp.last_step = totp.last_step.max(step),
            Some(FactorUsed::RecoveryCode(index)) => {
                totp.used_codes.insert(index);
                self.sessions.retain(|s, _| *s == session);
            }
            Some(FactorUsed::Passkey { .. }) | None => {}
        }
    }

    fn set_status(&mut self, status: AccountStatus) {
        if let Some(account) = &mut self.account {
            account.status = status;
        }
    }

    pub fn id(&self) -> UserId {
        self.id
    }

    pub fn exists(&self) -> bool {
        self.account.is_some()
    }

    pub fn account(&self) -> Option<&Account> {
        self.account.as_ref()
    }

    pub fn role(&self) -> Option<Role> {
        self.account.as_ref().map(|a| a.role)
    }

    pub fn status(&self) -> Option<AccountStatus> {
        self.account.as_ref().map(|a| a.status)
    }

    pub fn pending_change(&self) -> Option<&PendingChange> {
        self.pending_change.as_ref()
    }

    pub fn totp(&self) -> Option<&Totp> {
        self.totp.as_ref()
    }

    pub fn passkeys(&self) -> &BTreeMap<Uuid, StoredPasskey> {
        &self.passkeys
    }

    pub fn read_tokens(&self) -> &BTreeMap<Uuid, StoredReadToken> {
        &self.read_tokens
    }

    /// The tokens an app could still use at `now`.
    pub fn live_read_tokens(
        &self,
        now: Timestamp,
    ) -> impl Iterator<Item = (&Uuid, &StoredReadToken)> {
        self.read_tokens
            .iter()
            .filter(move |(_, t)| !t.revoked && now < t.expires_at)
    }

    /// The latest wrong or reused codes (at most `MAX_FAILED_CODES`), oldest first.
    pub fn recent_failed_codes(&self) -> &[Timestamp] {
        &self.recent_code_failures
    }

    /// The latest failed sign-ins (at most `MAX_FAILED_LOGINS`), oldest first.
    pub fn recent_failed_logins(&self) -> &[Timestamp] {
        &self.recent_failures
    }

    /// Sessions opened and not yet closed by an event, with their expiry. An open
    /// session may still have expired: that takes the time, see `is_session_live`.
    pub fn open_sessions(&self) -> impl Iterator<Item = (Uuid, Timestamp)> + '_ {
        self.sessions.iter().map(|(s, until)| (*s, *until))
    }

    /// How many sessions are open (expired ones included): what the state's size grows with.
    pub fn open_session_count(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_session_open(&self, session: Uuid) -> bool {
        self.sessions.contains_key(&session)
    }

    /// The session proved a second factor or a passkey (at sign-in or since) and is open.
    pub fn session_proved_factor(&self, session: Uuid) -> bool {
        self.proved.contains(&session) && self.sessions.contains_key(&session)
    }

    /// Open and not yet expired at `now`.
    pub fn is_session_live(&self, session: Uuid, now: Timestamp) -> bool {
        self.sessions
            .get(&session)
            .is_some_and(|expires_at| now < *expires_at)
    }
}

impl crate::Aggregate for User {
    type Id = UserId;
    type Event = UserEvent;

    fn new(id: UserId) -> Self {
        User::new(id)
    }

    fn stream(id: UserId) -> crate::StreamName {
        id.stream()
    }

    fn apply(&mut self, event: &UserEvent) {
        User::apply(self, event)
    }

    /// A state is a few sealed fields plus its open sessions.
    fn weight(&self) -> usize {
        1 + self.sessions.len()
    }
}

impl From<&UserRegistered> for Account {
    fn from(e: &UserRegistered) -> Self {
        Self {
            role: e.role,
            status: e.status,
            name: e.name.clone(),
            email: e.email.clone(),
            phone: e.phone.clone(),
            password_hash: e.password_hash.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::events::{LoginFailed, LoginFailure, LoginSucceeded};
    use super::super::given::{USER, at, registered, sealed, session};
    use super::*;

    fn failed(minute: i64) -> UserEvent {
        LoginFailed {
            reason: LoginFailure::WrongPassword,
            at: at(minute),
        }
        .into()
    }

    #[test]
    fn an_empty_stream_is_no_account() {
        let user = User::new(USER);
        assert!(!user.exists());
        assert_eq!(user.id(), USER);
        assert_eq!(user.role(), None);
    }

    #[test]
    fn registration_sets_role_status_and_hash() {
        let user = User::from_history(USER, &[registered(Role::Doctor)]);
        let account = user.account().unwrap();
        assert_eq!(account.role, Role::Doctor);
        assert_eq!(account.status, AccountStatus::Pending);
        assert_eq!(account.password_hash, sealed("hash"));
    }

    #[test]
    fn keeps_only_the_latest_failures_in_time_order() {
        let mut history = vec![registered(Role::Patient)];
        history.extend((0..25).rev().map(failed));
        let user = User::from_history(USER, &history);
        let expected: Vec<_> = (15..25).map(at).collect();
        assert_eq!(user.recent_failed_logins(), expected);
    }

    #[test]
    fn sessions_that_ended_before_a_new_one_began_are_forgotten() {
        let day = 24 * 60;
        let lifetime_minutes = FORGET_SESSIONS_AFTER_MICROS / 60_000_000;
        let opened = |n: u128, minute: i64| -> UserEvent {
            LoginSucceeded {
                session: session(n),
                expires_at: at(minute),
                factor: None,
            }
            .into()
        };
        // Given a session that expired on day 1, and one expiring on day 40 ...
        let user = User::from_history(
            USER,
            &[
                registered(Role::Patient),
                opened(1, day),
                opened(2, 40 * day - lifetime_minutes + day),
                opened(3, 40 * day),
            ],
        );
        // ... the first had ended before the last began; the second may not have.
        assert!(!user.is_session_open(session(1)));
        assert!(user.is_session_open(session(2)));
        assert!(user.is_session_open(session(3)));
        assert_eq!(user.open_session_count(), 2);
    }

    #[test]
    fn a_session_is_live_until_it_expires() {
        let opened = LoginSucceeded {
            session: session(1),
            expires_at: at(30),
            factor: None,
        };
        let user = User::from_history(USER, &[registered(Role::Patient), opened.into()]);
        assert!(user.is_session_open(session(1)));
        assert!(user.is_session_live(session(1), at(29)));
        assert!(!user.is_session_live(session(1), at(30)));
        assert!(user.is_session_open(session(1)));
        assert!(!user.is_session_open(session(2)));
    }
}
