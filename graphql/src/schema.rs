//! The schema, built by a library function so the server, the tests and the SDL printer
//! share one definition, with its limits.

use crate::{
    api::{
        accounts::{AccountMutation, AccountQuery},
        administration::{AdministrationMutation, AdministrationQuery},
        care::{CareMutation, CareQuery},
        compliance::ComplianceQuery,
        factors::{FactorMutation, FactorQuery},
        keys::{KeysMutation, KeysQuery},
        ledger::{LedgerMutation, LedgerQuery},
        legal_holds::{LegalHoldMutation, LegalHoldQuery},
        links::{LinkMutation, LinkQuery},
        notifications::{NotificationMutation, NotificationQuery},
        proxies::{ProxyMutation, ProxyQuery},
        read_tokens::{ReadTokenMutation, ReadTokenQuery},
        records::{RecordMutation, RecordQuery},
        transparency::TransparencyQuery,
    },
    context::Services,
    limits::{DocumentLimits, MAX_ALIASES, MAX_COMPLEXITY, MAX_DEPTH},
    subscription::Subscription,
};
use async_graphql::{MergedObject, Schema};

/// `Query` of the contract, from the parts that own each area.
#[derive(MergedObject, Default)]
pub struct Query(
    AccountQuery,
    RecordQuery,
    NotificationQuery,
    AdministrationQuery,
    LedgerQuery,
    ComplianceQuery,
    TransparencyQuery,
    FactorQuery,
    KeysQuery,
    LegalHoldQuery,
    CareQuery,
    LinkQuery,
    ProxyQuery,
    ReadTokenQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    AccountMutation,
    RecordMutation,
    NotificationMutation,
    AdministrationMutation,
    LedgerMutation,
    FactorMutation,
    KeysMutation,
    LegalHoldMutation,
    CareMutation,
    LinkMutation,
    ProxyMutation,
    ReadTokenMutation,
);

pub type MedSchema = Schema<Query, Mutation, Subscription>;

pub fn build_schema(services: Services) -> MedSchema {
    Schema::build(Query::default(), Mutation::default(), Subscription)
        .data(services)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .extension(DocumentLimits {
            max_aliases: MAX_ALIASES,
        })
        .finish()
}

/// The schema as SDL, for `contract-check` and for readers.
pub fn sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), Subscription)
        .finish()
        .sdl()
}
