//! A patient's export (DESIGN.md §12): the right of access and portability (GDPR 15 and
//! 20, HIPAA 164.524). Who may take it is the rules about people's (`exporter`); the
//! decision here only refuses an account that is not a patient's or is gone, and
//! records what left: who took it and which records' content.

use super::events::{DataExported, UserEvent};
use super::state::User;
use crate::account::{AccountStatus, Exporter, Role, UserId};
use crate::record::RecordId;

#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
pub enum ExportError {
    #[error("there is no such patient")]
    NoSuchPatient,
    #[error("this patient was erased: there is nothing left to export")]
    Erased,
}

pub fn export_data(
    state: &User,
    by: UserId,
    exporter: Exporter,
    records: Vec<RecordId>,
) -> Result<Vec<UserEvent>, ExportError> {
    if state.role() != Some(Role::Patient) {
        return Err(ExportError::NoSuchPatient);
    }
    if state.status() == Some(AccountStatus::Erased) {
        return Err(ExportError::Erased);
    }
    let proxy = match exporter {
        Exporter::Patient => None,
        Exporter::Proxy(grant) => Some(grant),
    };
    Ok(vec![DataExported { by, proxy, records }.into()])
}

#[cfg(test)]
mod tests {
    use super::super::events::UserErased;
    use super::super::given::{USER, given, registered, registered_with};
    use super::*;

    const RECORD: RecordId = RecordId::from_uuid(uuid::Uuid::from_u128(0x4ec));

    #[test]
    fn a_patient_exports_and_the_ledger_says_what_left() {
        given([registered_with(Role::Patient, AccountStatus::Active)])
            .when(|u| export_data(u, USER, Exporter::Patient, vec![RECORD]))
            .then([DataExported {
                by: USER,
                proxy: None,
                records: vec![RECORD],
            }
            .into()]);
    }

    #[test]
    fn a_proxy_export_names_the_grant() {
        let kin = UserId::from_uuid(uuid::Uuid::from_u128(0xc1));
        let grant = uuid::Uuid::from_u128(0x9a);
        given([registered_with(Role::Patient, AccountStatus::Active)])
            .when(|u| export_data(u, kin, Exporter::Proxy(grant), vec![]))
            .then([DataExported {
                by: kin,
                proxy: Some(grant),
                records: vec![],
            }
            .into()]);
    }

    #[test]
    fn nothing_is_exported_of_a_doctor_or_an_erased_patient() {
        given([registered(Role::Doctor)])
            .when(|u| export_data(u, USER, Exporter::Patient, vec![]))
            .then_err(ExportError::NoSuchPatient);
        given([
            registered_with(Role::Patient, AccountStatus::Active),
            UserErased {
                basis: crate::ErasureBasis::PatientRequest,
                reason: crate::samples::sealed("asked"),
            }
            .into(),
        ])
        .when(|u| export_data(u, USER, Exporter::Patient, vec![]))
        .then_err(ExportError::Erased);
    }
}
