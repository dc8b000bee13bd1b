//! Key epochs and erasure certificates in `Query` and `Mutation` (DESIGN.md §11):
//! `keyEpochs` and `rotateKeyEpoch` for administrators; `erasureCertificate` for
//! administrators and for a patient about their own records. None of it reads medical
//! content.

use crate::{
    context::{admin, caller, services},
    error::ToGql as _,
    types::keys::{ErasureCertificate, KeyEpoch},
};
use async_graphql::{Context, Object, Result};
use commands::CommandError;
use domain::erasure::ErasureSubject;

#[derive(Default)]
pub struct KeysQuery;

#[Object]
impl KeysQuery {
    /// Administrators: every key epoch, oldest first.
    async fn key_epochs(&self, ctx: &Context<'_>) -> Result<Vec<KeyEpoch>> {
        admin(ctx)?;
        let status = services(ctx)
            .key_epochs
            .status()
            .await
            .map_err(|e| e.gql())?;
        Ok(status.epochs.into_iter().map(Into::into).collect())
    }

    /// The signed certificate of an erasure (`user-<id>` or `record-<id>`):
    /// administrators about anyone, a patient about their own records.
    async fn erasure_certificate(
        &self,
        ctx: &Context<'_>,
        subject: String,
    ) -> Result<ErasureCertificate> {
        let caller = caller(ctx)?;
        let subject =
            ErasureSubject::parse(&subject).map_err(|e| CommandError::bad_input(e).gql())?;
        let s = services(ctx);
        let certificate = s
            .key_epochs
            .certificate(Some(&caller), subject, &s.ledger_key)
            .await
            .map_err(|e| e.gql())?;
        ErasureCertificate::from_command(certificate).map_err(|e| CommandError::internal(e).gql())
    }
}

#[derive(Default)]
pub struct KeysMutation;

#[Object]
impl KeysMutation {
    /// Administrators: rotate now (a new epoch; every key moved under it; the older
    /// epochs' keys destroyed), answered when it is done. CONFLICT while another
    /// rotation runs.
    async fn rotate_key_epoch(&self, ctx: &Context<'_>) -> Result<KeyEpoch> {
        admin(ctx)?;
        let epochs = &services(ctx).key_epochs;
        let done = epochs.rotate().await.map_err(|e| e.gql())?;
        let status = epochs.status().await.map_err(|e| e.gql())?;
        status
            .epochs
            .into_iter()
            .find(|e| e.number == done.current)
            .map(Into::into)
            .ok_or_else(|| {
                CommandError::internal(std::io::Error::other("the new epoch is not listed")).gql()
            })
    }
}
