//! A doctor's standing towards a patient, gathered from the ledger for the rules that ask
//! it: whether the doctor may add to the patient's file (`domain::record::may_add_for`)
//! and which emergency access of theirs is open (the content route's reads). The records
//! view only says which records to look at; each is then folded from its stream, so a
//! share revoked a moment ago counts as revoked however late the view is.

use super::Records;
use crate::{Caller, CommandError};
use domain::Aggregate as _;
use domain::account::{Recipient, Role, User, UserId};
use domain::emergency::Emergencies;
use domain::record::{
    Access, CareFacts, Record, RecordId, UploadError, access::standing, may_add_for,
};
use uuid::Uuid;

/// How many of the patient's records shared with the doctor are looked at: one live share
/// is enough, and the view lists live ones first.
const SHARES_LOOKED_AT: i64 = 8;

impl Records {
    /// A doctor's emergency accesses folded from their stream; `None` for anyone else.
    pub(crate) async fn emergencies_of(
        &self,
        caller: &Caller,
    ) -> Result<Option<Emergencies>, CommandError> {
        if caller.role != Role::Doctor {
            return Ok(None);
        }
        Ok(Some(
            self.kernel().load::<Emergencies>(caller.user).await?.state,
        ))
    }

    /// The caller's standing towards `patient` now.
    pub async fn care_facts(
        &self,
        caller: &Caller,
        patient: UserId,
    ) -> Result<CareFacts, CommandError> {
        let now = self.inner.clock.now();
        let person = Recipient::of(&self.kernel().load::<User>(patient).await?.state);
        let emergency = self
            .emergencies_of(caller)
            .await?
            .and_then(|e| e.open_for(patient, now));
        let live_share = emergency.is_none()
            && caller.role == Role::Doctor
            && self.holds_live_share(caller, patient).await?;
        Ok(CareFacts {
            patient: person,
            live_share,
            emergency,
        })
    }

    /// Refuses, before a byte of the file streams, a doctor who may not add to the
    /// patient's file.
    pub async fn check_care(
        &self,
        caller: &Caller,
        patient: UserId,
    ) -> Result<CareFacts, CommandError> {
        let facts = self.care_facts(caller, patient).await?;
        if may_add_for(caller.viewer(), &facts) {
            Ok(facts)
        } else {
            Err(CommandError::Forbidden(UploadError::NotInCare.to_string()))
        }
    }

    /// Refuses, before a byte streams, someone who may not add to the patient's file: a
    /// MANAGE proxy of theirs may (answered with the grant), else a doctor in their care.
    pub async fn check_on_behalf(
        &self,
        caller: &Caller,
        patient: UserId,
    ) -> Result<Option<(Uuid, domain::proxy::ProxyScope)>, CommandError> {
        let now = self.inner.clock.now();
        let proxy =
            crate::proxies::ProxyGrants::standing(self.kernel(), patient, caller.user, None, now)
                .await?;
        if matches!(proxy, Some((_, domain::proxy::ProxyScope::Manage))) {
            return Ok(proxy);
        }
        self.check_care(caller, patient).await?;
        Ok(None)
    }

    /// One of the patient's records is shared with the caller, live, as its stream says.
    async fn holds_live_share(
        &self,
        caller: &Caller,
        patient: UserId,
    ) -> Result<bool, CommandError> {
        let candidates: Vec<Uuid> = sqlx::query_scalar(
            "SELECT s.record_id FROM shares s JOIN records r ON r.id = s.record_id \
             WHERE r.owner_id = $1 AND s.doctor_id = $2 AND r.status = 'ACTIVE' \
             ORDER BY (s.revoked_at IS NULL AND s.expired_at IS NULL) DESC, s.granted_seq DESC \
             LIMIT $3",
        )
        .bind(patient.as_uuid())
        .bind(caller.user.as_uuid())
        .bind(SHARES_LOOKED_AT)
        .fetch_all(self.pool())
        .await?;
        let now = self.inner.clock.now();
        for id in candidates {
            let record: Record = self.kernel().load(RecordId::from_uuid(id)).await?.state;
            if record.owner() == Some(patient)
                && matches!(
                    standing(&record, caller.viewer(), now, None),
                    Some(Access::Shared(_))
                )
                && !record.is_erased()
            {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// The stream of a doctor's emergency accesses (for the views and logs).
pub fn emergency_stream(doctor: UserId) -> domain::StreamName {
    Emergencies::stream(doctor)
}
