//! The API's object types, apart from the domain's: each is built from a view or a
//! command's answer and decides, field by field, what its viewer may see.

pub mod admin;
pub mod care;
pub mod enums;
pub mod factors;
pub mod keys;
pub mod ledger_event;
pub mod legal_hold;
pub mod link;
pub mod notification;
pub mod page;
pub mod profile_change;
pub mod proxy;
pub mod read_token;
pub mod record;
pub mod session;
pub mod transparency;
pub mod user;

page::edges!(
    admin::LedgerEventEdge,
    care::EmergencyAccessEdge,
    notification::NotificationEdge,
    profile_change::ProfileChangeEdge,
    record::AccessEntryEdge,
    record::RecordEdge,
    user::UserEdge,
);
