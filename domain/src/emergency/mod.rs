//! Emergency access ("break-glass", HIPAA 164.312(a)(2)(ii)): a doctor who cannot ask a
//! patient's consent opens access to all of that patient's records, for a short time,
//! with a reason the patient and the administrators read. The pure part:
//!
//! - `events`, `state`: one stream per doctor (`emergency-<doctor id>`), holding every
//!   access that doctor ever opened. Per doctor, because the rules that bound an opening
//!   (how many are open, how many today) are about the doctor, and a read asks "does this
//!   doctor hold an open access to this patient", one stream's fold either way.
//! - `decide`: opening (a second factor, the limits), closing early, expiry, review.
//!
//! Whether an open access lets its doctor read a record is the access rules' to say
//! (`record::access`): they take the access this state finds as a fact.

mod decide;
mod emergency_id;
mod events;
mod state;

pub use decide::{EmergencyError, EmergencyLimits, OpenEmergency, close, expire, open, review};
pub use emergency_id::{EMERGENCY_CATEGORY, EmergencyId};
pub use events::{
    EmergencyAccessClosed, EmergencyAccessExpired, EmergencyAccessOpened, EmergencyAccessReviewed,
    EmergencyEvent,
};
pub use state::{Emergencies, EmergencyAccess, EmergencyEnd, EmergencyStanding};
