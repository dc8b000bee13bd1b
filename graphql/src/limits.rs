//! Limits on what one request may ask, beyond async-graphql's depth and complexity
//! (which counts a connection's children `first` times; see `types::page`):
//!
//! - the number of aliased fields: aliases let one request run a field many times (200
//!   `login`s in one POST); counting them in the parsed document refuses that before
//!   anything runs;
//! - who may introspect: signed-in callers (and anyone with `MEDCHAIN_DEV_TOOLS=true`);
//! - what a subscription socket carries: subscriptions only. Queries and mutations go
//!   through POST /graphql, where the client address, the rate limits, the body cap and
//!   the cross-site check are applied; a second door for them would need every lock again.
//! - list arguments: `MAX_LIST` items.

use crate::error::Code;
use async_graphql::{
    ServerError, ServerResult, Variables,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery},
    parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet},
};
use std::sync::Arc;

pub const MAX_DEPTH: usize = 16;
pub const MAX_COMPLEXITY: usize = 2_000;
pub const MAX_ALIASES: usize = 20;
/// The largest POST body accepted at `/graphql`, and the largest socket message.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// The most items a list argument may hold (`markNotificationsRead(ids)`, …).
pub const MAX_LIST: usize = 100;

/// Request data: this request may not introspect (an anonymous caller).
#[derive(Debug, Clone, Copy)]
pub struct NoIntrospection;

/// Connection data of a subscription socket: it carries subscriptions only.
#[derive(Debug, Clone, Copy)]
pub struct OverSocket;

/// What the parsed document may ask, checked before anything runs: at most
/// `max_aliases` aliased fields; no introspection for `NoIntrospection` requests; nothing
/// but subscriptions on a socket.
pub struct DocumentLimits {
    pub max_aliases: usize,
}

impl ExtensionFactory for DocumentLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(DocumentLimits {
            max_aliases: self.max_aliases,
        })
    }
}

fn refusal(code: Code, message: impl Into<String>) -> ServerError {
    let mut e = ServerError::new(message, None);
    e.extensions
        .get_or_insert_with(Default::default)
        .set("code", code.as_str());
    e
}

#[async_graphql::async_trait::async_trait]
impl Extension for DocumentLimits {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let count: usize = document
            .operations
            .iter()
            .map(|(_, op)| aliases(&op.node.selection_set.node))
            .chain(
                document
                    .fragments
                    .values()
                    .map(|f| aliases(&f.node.selection_set.node)),
            )
            .sum();
        if count > self.max_aliases {
            return Err(refusal(
                Code::BadUserInput,
                format!(
                    "the request uses {count} aliases; at most {} are allowed",
                    self.max_aliases
                ),
            ));
        }
        if ctx.data_opt::<OverSocket>().is_some()
            && document
                .operations
                .iter()
                .any(|(_, op)| op.node.ty != OperationType::Subscription)
        {
            return Err(refusal(
                Code::BadUserInput,
                "this socket carries subscriptions only: send queries and mutations as POST /graphql",
            ));
        }
        if ctx.data_opt::<NoIntrospection>().is_some() && introspects(&document) {
            return Err(refusal(
                Code::Unauthenticated,
                "introspection is for signed-in callers: sign in first",
            ));
        }
        Ok(document)
    }
}

/// Whether the document asks `__schema` or `__type` anywhere (a fragment included).
fn introspects(document: &ExecutableDocument) -> bool {
    fn asks(set: &SelectionSet) -> bool {
        set.items.iter().any(|item| match &item.node {
            Selection::Field(field) => {
                let name = field.node.name.node.as_str();
                name == "__schema" || name == "__type" || asks(&field.node.selection_set.node)
            }
            Selection::InlineFragment(fragment) => asks(&fragment.node.selection_set.node),
            Selection::FragmentSpread(_) => false,
        })
    }
    document
        .operations
        .iter()
        .any(|(_, op)| asks(&op.node.selection_set.node))
        || document
            .fragments
            .values()
            .any(|f| asks(&f.node.selection_set.node))
}

/// A list argument's length, checked: BAD_USER_INPUT past `MAX_LIST`.
pub fn capped<T>(list: Vec<T>, name: &str) -> async_graphql::Result<Vec<T>> {
    if list.len() > MAX_LIST {
        return Err(crate::error::error(
            Code::BadUserInput,
            format!(
                "{name} holds {} items; at most {MAX_LIST} are allowed",
                list.len()
            ),
        ));
    }
    Ok(list)
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
