//! Limits on what one request may ask, beyond async-graphql's depth and complexity: the
//! number of aliased fields. Aliases let one request run a field many times (200 `login`s
//! in one POST); counting them in the parsed document refuses that before anything runs.

use async_graphql::{
    ServerError, ServerResult, Variables,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery},
    parser::types::{ExecutableDocument, Selection, SelectionSet},
};
use std::sync::Arc;

pub const MAX_DEPTH: usize = 16;
pub const MAX_COMPLEXITY: usize = 2_000;
pub const MAX_ALIASES: usize = 20;
/// The largest POST body accepted at `/graphql`.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

pub struct AliasLimit(pub usize);

impl ExtensionFactory for AliasLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AliasLimitExtension(self.0))
    }
}

struct AliasLimitExtension(usize);

#[async_graphql::async_trait::async_trait]
impl Extension for AliasLimitExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let mut count = 0;
        for (_, operation) in document.operations.iter() {
            count += aliases(&operation.node.selection_set.node);
        }
        for fragment in document.fragments.values() {
            count += aliases(&fragment.node.selection_set.node);
        }
        if count > self.0 {
            return Err(ServerError::new(
                format!(
                    "the request uses {count} aliases; at most {} are allowed",
                    self.0
                ),
                None,
            ));
        }
        Ok(document)
    }
}

fn aliases(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(field) => {
                usize::from(field.node.alias.is_some()) + aliases(&field.node.selection_set.node)
            }
            Selection::InlineFragment(fragment) => aliases(&fragment.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}
