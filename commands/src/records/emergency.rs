//! Emergency access (break-glass) as commands: the decisions of `domain::emergency` on the
//! doctor's stream. Opening gathers its facts from the ledger (the doctor's account and
//! whether this session proved a second factor, the patient's account) and seals the
//! reason under the patient's key; review seals its note the same way. Expiry is
//! recorded by the background sweep, once, whichever process gets there first.

use super::Records;
use crate::accounts::factors::MFA_REQUIRED;
use crate::{Caller, CommandError, Decision};
use domain::Aggregate as _;
use domain::account::{AccountStatus, Reason, Recipient, User, UserId};
use domain::emergency::{
    Emergencies, EmergencyError, EmergencyId, EmergencyLimits, OpenEmergency, close, expire, open,
    review,
};
use std::time::Duration;
use uuid::Uuid;

/// How emergency access is bounded (`MEDCHAIN_EMERGENCY_TTL`, `..._MAX_OPEN`,
/// `..._PER_DAY`).
#[derive(Debug, Clone, Copy)]
pub struct EmergencySettings {
    pub ttl: Duration,
    pub limits: EmergencyLimits,
}

impl Default for EmergencySettings {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(3600),
            limits: EmergencyLimits::default(),
        }
    }
}

/// The sealed fields' names (with the doctor's stream, the associated data).
pub const REASON_FIELD: &str = "emergencyReason";
pub const REVIEW_NOTE_FIELD: &str = "reviewNote";

fn refused(e: EmergencyError) -> CommandError {
    match e {
        EmergencyError::NotADoctor | EmergencyError::NotAnAdmin => {
            CommandError::Forbidden(e.to_string())
        }
        EmergencyError::SecondFactorRequired => CommandError::ForbiddenBecause {
            reason: MFA_REQUIRED,
            message: e.to_string(),
        },
        EmergencyError::NoSuchPatient | EmergencyError::NotFound => {
            CommandError::NotFound(e.to_string())
        }
        EmergencyError::AlreadyOpen | EmergencyError::AlreadyReviewed => {
            CommandError::Conflict(e.to_string())
        }
        EmergencyError::TooManyOpen(_) | EmergencyError::TooManyToday(_) => {
            CommandError::RateLimited(e.to_string())
        }
    }
}

impl Records {
    pub fn emergency_settings(&self) -> EmergencySettings {
        self.inner.emergency
    }

    /// Opens emergency access to `patient`; returns its id and the seq of the opening.
    pub async fn open_emergency(
        &self,
        caller: &Caller,
        patient: UserId,
        reason: &Reason,
    ) -> Result<(EmergencyId, i64), CommandError> {
        let me = self.kernel().load::<User>(caller.user).await?.state;
        let person = Recipient::of(&self.kernel().load::<User>(patient).await?.state);
        let stream = Emergencies::stream(caller.user);
        let sealed = self
            .inner
            .keys
            .seal_about(
                self.pool(),
                patient.as_uuid(),
                stream.as_str(),
                REASON_FIELD,
                reason.as_str(),
            )
            .await?;
        let id = EmergencyId::from_uuid(Uuid::now_v7());
        let now = self.inner.clock.now();
        let settings = self.inner.emergency;
        let decide = |state: &Emergencies| {
            let cmd = OpenEmergency {
                by: caller.viewer(),
                by_active: me.status() == Some(AccountStatus::Active),
                session_proved: me.session_proved_factor(caller.session),
                patient: person,
                access: id,
                reason: sealed.clone(),
                now,
                ttl_micros: settings.ttl.as_micros() as i64,
                limits: settings.limits,
            };
            open(state, cmd).map(Decision::events).map_err(refused)
        };
        let done = self
            .kernel()
            .execute(caller.user, Some(caller.user), decide)
            .await?;
        // No names or reasons in the log: the ids say who and whom.
        tracing::warn!(emergency.id = %id, doctor.id = %caller.user, patient.id = %patient, "emergency access opened");
        Ok((id, done.seq))
    }

    /// Closes the caller's own emergency access early; returns the seq of the closing (or
    /// of the stream's newest event when it had ended already).
    pub async fn close_emergency(
        &self,
        caller: &Caller,
        access: EmergencyId,
    ) -> Result<i64, CommandError> {
        let now = self.inner.clock.now();
        if caller.role != domain::account::Role::Doctor {
            return Err(refused(EmergencyError::NotFound));
        }
        let decide = |state: &Emergencies| {
            close(state, caller.viewer(), access, now)
                .map(Decision::events)
                .map_err(refused)
        };
        let done = self
            .kernel()
            .execute(caller.user, Some(caller.user), decide)
            .await?;
        if done.appended {
            tracing::info!(emergency.id = %access, "emergency access closed");
        }
        Ok(done.seq)
    }

    /// An administrator's review of `doctor`'s emergency access; the note is sealed under
    /// the patient's key.
    pub async fn review_emergency(
        &self,
        caller: &Caller,
        doctor: UserId,
        access: EmergencyId,
        justified: bool,
        note: Option<&Reason>,
    ) -> Result<i64, CommandError> {
        caller.require_admin()?;
        let state = self.kernel().load::<Emergencies>(doctor).await?.state;
        let patient = state
            .get(access)
            .ok_or_else(|| refused(EmergencyError::NotFound))?
            .patient;
        let sealed = match note {
            Some(note) => Some(
                self.inner
                    .keys
                    .seal_about(
                        self.pool(),
                        patient.as_uuid(),
                        Emergencies::stream(doctor).as_str(),
                        REVIEW_NOTE_FIELD,
                        note.as_str(),
                    )
                    .await?,
            ),
            None => None,
        };
        let decide = |state: &Emergencies| {
            review(state, caller.viewer(), access, justified, sealed.clone())
                .map(Decision::events)
                .map_err(refused)
        };
        let done = self
            .kernel()
            .execute(doctor, Some(caller.user), decide)
            .await?;
        tracing::info!(emergency.id = %access, justified, "emergency access reviewed");
        Ok(done.seq)
    }

    /// Records that an emergency access's time passed; `Some(seq)` when this call did.
    pub async fn expire_emergency(
        &self,
        doctor: UserId,
        access: EmergencyId,
    ) -> Result<Option<i64>, CommandError> {
        let now = self.inner.clock.now();
        let decide = |state: &Emergencies| Ok(Decision::events(expire(state, access, now)));
        let done = match self.kernel().execute(doctor, None, decide).await {
            Ok(done) => done,
            // Another process is recording it; the next round looks again.
            Err(CommandError::Conflict(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        if !done.appended {
            return Ok(None);
        }
        tracing::info!(emergency.id = %access, "emergency access expired");
        Ok(Some(done.seq))
    }
}
