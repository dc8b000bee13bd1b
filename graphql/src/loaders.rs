//! Per-object lookups batched: a request that shows 100 records with their owners, or an
//! access log with its actors, reads the users it names in one query rather than one each
//! (async-graphql's `DataLoader`, made per request so nothing outlives it; no cache, so a
//! mutation's own read afterwards is never stale).

use crate::context::Services;
use async_graphql::{Context, dataloader::DataLoader, dataloader::Loader};
use projections::users::{self, ReadError, UserView};
use std::{collections::HashMap, sync::Arc};
use uuid::Uuid;

pub struct UserLoader(Services);

impl Loader<Uuid> for UserLoader {
    type Value = UserView;
    type Error = Arc<ReadError>;

    async fn load(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, UserView>, Self::Error> {
        users::find_many(&self.0.pool, &self.0.keys, ids)
            .await
            .map_err(Arc::new)
    }
}

/// A request's loaders, to add to its data.
pub fn for_request(services: &Services) -> DataLoader<UserLoader> {
    DataLoader::new(UserLoader(services.clone()), tokio::spawn)
}

/// A user from the view, through the request's loader (or directly, where a request has
/// none).
pub async fn user(ctx: &Context<'_>, id: Uuid) -> Result<Option<UserView>, Arc<ReadError>> {
    match ctx.data_opt::<DataLoader<UserLoader>>() {
        Some(loader) => loader.load_one(id).await,
        None => {
            let s = crate::context::services(ctx);
            users::find(&s.pool, &s.keys, domain::account::UserId::from_uuid(id))
                .await
                .map_err(Arc::new)
        }
    }
}
