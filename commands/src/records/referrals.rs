//! Referrals as commands: the decisions of `domain::record::referral` on the record's
//! stream. The note is sealed under the record's data key (stream + `referralNote`), so
//! it dies with the record; whether the doctor it goes to may receive it is what that
//! doctor's own stream says, asked at the request and again at the approval.

use super::Records;
use crate::keys::DataKeyState;
use crate::{Caller, CommandError, Decision};
use domain::account::{Recipient, User, UserId};
use domain::record::{
    DecideReferral, Record, RecordId, Refer, ReferralError, ReferralId, ShareId, decide_referral,
    refer,
};
use uuid::Uuid;

/// The sealed note's field name.
pub const NOTE_FIELD: &str = "referralNote";
/// A note is a few lines for a colleague, not a document.
pub const MAX_NOTE_CHARS: usize = 2000;

fn refused(e: ReferralError) -> CommandError {
    match e {
        ReferralError::NotFound | ReferralError::NoSuchReferral => {
            CommandError::NotFound(e.to_string())
        }
        ReferralError::NotReferrer | ReferralError::NotOwner => {
            CommandError::Forbidden(e.to_string())
        }
        ReferralError::NotAnActiveDoctor => CommandError::BadInput(e.to_string()),
        ReferralError::AlreadyShared
        | ReferralError::AlreadyReferred
        | ReferralError::AlreadyDecided
        | ReferralError::ReferrerLapsed => CommandError::Conflict(e.to_string()),
    }
}

/// A referral's note as the edge takes it: trimmed, bounded, no control characters but
/// line breaks; empty means none.
pub fn parse_note(raw: Option<&str>) -> Result<Option<String>, CommandError> {
    let Some(text) = raw.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if text.chars().count() > MAX_NOTE_CHARS {
        return Err(CommandError::BadInput(format!(
            "a referral's note is at most {MAX_NOTE_CHARS} characters"
        )));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(CommandError::BadInput(
            "the note contains control characters".into(),
        ));
    }
    Ok(Some(text.to_owned()))
}

impl Records {
    /// A doctor with a live share asks the owner to let `to` read the record; returns the
    /// referral's id and the seq of the request.
    pub async fn refer(
        &self,
        caller: &Caller,
        record: RecordId,
        to: UserId,
        note: Option<String>,
    ) -> Result<(ReferralId, i64), CommandError> {
        let to = Recipient::of(&self.kernel().load::<User>(to).await?.state);
        let note = match note {
            None => None,
            Some(text) => match self
                .inner
                .keys
                .data_key(self.pool(), record.as_uuid())
                .await?
            {
                DataKeyState::Live(key) => {
                    Some(key.seal_str(record.stream().as_str(), NOTE_FIELD, &text))
                }
                DataKeyState::Destroyed | DataKeyState::Missing => {
                    return Err(refused(ReferralError::NotFound));
                }
            },
        };
        let id = ReferralId::from_uuid(Uuid::now_v7());
        let now = self.inner.clock.now();
        let decide = |state: &Record| {
            let cmd = Refer {
                by: caller.viewer(),
                referral: id,
                to,
                note: note.clone(),
                now,
            };
            refer(state, cmd).map(Decision::events).map_err(refused)
        };
        let done = self
            .kernel()
            .execute(record, Some(caller.user), decide)
            .await?;
        tracing::info!(record.id = %record, referral.id = %id, "referral requested");
        Ok((id, done.seq))
    }

    /// The owner approves or declines; returns the share an approval made (if it made
    /// one) and the seq of the decision's last event.
    pub async fn decide_referral(
        &self,
        caller: &Caller,
        record: RecordId,
        referral: ReferralId,
        approve: bool,
    ) -> Result<(Option<ShareId>, i64), CommandError> {
        let loaded = self.kernel().load::<Record>(record).await?.state;
        let to = loaded
            .referral(referral)
            .ok_or_else(|| refused(ReferralError::NoSuchReferral))?
            .to;
        let to = Recipient::of(&self.kernel().load::<User>(to).await?.state);
        let share = ShareId::from_uuid(Uuid::now_v7());
        let now = self.inner.clock.now();
        let proxy = self.proxy_of(caller.user, record).await?;
        let decide = |state: &Record| {
            let cmd = DecideReferral {
                by: caller.viewer(),
                referral,
                approve,
                share,
                to,
                now,
                proxy,
            };
            let events = decide_referral(state, cmd).map_err(refused)?;
            let made = events.len() > 1;
            Ok(Decision::new(events, made))
        };
        let done = self
            .kernel()
            .execute(record, Some(caller.user), decide)
            .await?;
        tracing::info!(record.id = %record, referral.id = %referral, approve, "referral decided");
        Ok((done.outcome.then_some(share), done.seq))
    }
}
