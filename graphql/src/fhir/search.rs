//! Searches answer with a `searchset` Bundle: `_count` entries from `_offset`, a `self`
//! link and a `next` link while more remain. Paging by offset is what lets every search
//! here page the same way; the lists it pages are a patient's own (their records, their
//! consents, their access log), ordered by what never changes under them.

use super::outcome::Outcome;
use super::resources::instant;
use domain::Timestamp;
use fhir::r4::{
    coded::Coded,
    codes::{BundleType, SearchEntryMode},
    resources::{
        Bundle, Resource,
        bundle::{BundleEntry, BundleEntrySearch, BundleLink},
    },
    types::{String as FhirString, UnsignedInt, Uri},
};
use serde::Deserialize;
use uuid::Uuid;

pub const DEFAULT_COUNT: usize = 50;
pub const MAX_COUNT: usize = 200;

/// The parameters every search here takes; others are ignored (FHIR's lenient default).
#[derive(Debug, Default, Deserialize)]
pub struct SearchParams {
    pub patient: Option<String>,
    #[serde(rename = "_count")]
    pub count: Option<String>,
    #[serde(rename = "_offset")]
    pub offset: Option<String>,
}

/// A page asked for: where it starts and how long it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub offset: usize,
    pub count: usize,
}

impl SearchParams {
    pub fn page(&self) -> Result<Page, Outcome> {
        let count = match self.count.as_deref() {
            None => DEFAULT_COUNT,
            Some(raw) => raw
                .parse::<usize>()
                .ok()
                .filter(|n| *n <= MAX_COUNT)
                .ok_or_else(|| {
                    Outcome::bad_request(format!("_count is a whole number up to {MAX_COUNT}"))
                })?,
        };
        let offset = match self.offset.as_deref() {
            None => 0,
            Some(raw) => raw
                .parse::<usize>()
                .ok()
                .filter(|n| *n <= 1_000_000)
                .ok_or_else(|| Outcome::bad_request("_offset is a whole number"))?,
        };
        Ok(Page { offset, count })
    }

    /// The patient searched for: `patient=<id>` or `patient=Patient/<id>`; required.
    pub fn patient(&self) -> Result<Uuid, Outcome> {
        let raw = self
            .patient
            .as_deref()
            .ok_or_else(|| Outcome::bad_request("name the patient: ?patient=<id>"))?;
        let id = raw.strip_prefix("Patient/").unwrap_or(raw);
        Uuid::try_parse(id).map_err(|_| Outcome::bad_request("patient is a patient's id (a UUID)"))
    }
}

/// A page of results: the entries (`fullUrl`, resource) and whether more follow.
pub struct Found {
    pub entries: Vec<(String, Resource)>,
    pub more: bool,
    /// The number of matches in all, when it is known without counting twice.
    pub total: Option<usize>,
}

/// The searchset Bundle of a page; `path` is the search's own path and query without
/// the paging parameters (`/fhir/R4/DocumentReference?patient=…`).
pub fn searchset(
    base: &str,
    path_and_query: &str,
    page: Page,
    found: Found,
    now: Timestamp,
) -> Result<Resource, Outcome> {
    let sep = if path_and_query.contains('?') {
        '&'
    } else {
        '?'
    };
    let link = |relation: &str, offset: usize| BundleLink {
        relation: FhirString(relation.into()),
        url: Uri(format!(
            "{base}{path_and_query}{sep}_count={}&_offset={offset}",
            page.count
        )),
        ..Default::default()
    };
    let mut links = vec![link("self", page.offset)];
    if found.more {
        links.push(link("next", page.offset + page.count));
    }
    let entry = found
        .entries
        .into_iter()
        .map(|(full_url, resource)| {
            Ok(BundleEntry {
                full_url: Some(Uri(full_url)),
                resource: Some(serde_json::to_value(resource).map_err(Outcome::internal)?),
                search: Some(BundleEntrySearch {
                    mode: Some(Coded::Known(SearchEntryMode::Match)),
                    ..Default::default()
                }),
                ..Default::default()
            })
        })
        .collect::<Result<Vec<_>, Outcome>>()?;
    let bundle = Bundle {
        id: Some(FhirString(Uuid::new_v4().to_string())),
        r#type: Coded::Known(BundleType::Searchset),
        timestamp: Some(instant(now)),
        total: found
            .total
            .map(|t| UnsignedInt(u32::try_from(t).unwrap_or(u32::MAX))),
        link: links,
        entry,
        ..Default::default()
    };
    Ok(Resource::Bundle(Box::new(bundle)))
}

/// One page of an in-memory list of matches.
pub fn paged<T>(all: Vec<T>, page: Page) -> (Vec<T>, bool, usize) {
    let total = all.len();
    let more = total > page.offset + page.count;
    let items = all.into_iter().skip(page.offset).take(page.count).collect();
    (items, more, total)
}
