//! Cross-site requests (API.graphql, "Auth"): a request the browser authenticated with the
//! session cookie is refused when it says it comes from another origin. SameSite=Strict
//! does not cover this: a sibling subdomain is the same *site*, so its pages' requests
//! carry the cookie.
//!
//! - A state-changing request (POST /graphql, the upload and photo routes) must come from
//!   the public URL's origin: an `Origin` naming another one (`null` included) or a
//!   `Sec-Fetch-Site` other than `same-origin`/`none` refuses it.
//! - A cookie-authenticated GET that records a read (the content route) is refused unless
//!   `Sec-Fetch-Site` is `same-origin` or `none` (or absent: not a browser, or an old
//!   one), so a sibling site's `<img>` cannot write reads into a patient's access log.
//!
//! A request with a Bearer token is not checked: a browser never adds one by itself.

use axum::http::{HeaderMap, header};

/// What a cookie-authenticated request is about to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// Change something (a mutation, an upload, a photo).
    Change,
    /// Read content and record that read.
    RecordedRead,
    /// Read without a trace (a photo): nothing to protect beyond SameSite.
    Read,
}

/// Whether the request may go on; `public_origin` is `scheme://host[:port]`.
pub fn allowed(headers: &HeaderMap, own_origins: &[String], intent: Intent) -> bool {
    let fetch_site = headers
        .get("sec-fetch-site")
        .map(|v| v.to_str().unwrap_or("cross-site"));
    let same_or_user = fetch_site.is_none_or(|s| s == "same-origin" || s == "none");
    match intent {
        Intent::Read => true,
        Intent::RecordedRead => same_or_user,
        Intent::Change => {
            let origin_ok = headers.get(header::ORIGIN).is_none_or(|o| {
                o.to_str()
                    .is_ok_and(|o| own_origins.iter().any(|own| own == o))
            });
            origin_ok && same_or_user
        }
    }
}

pub const REFUSED: &str = "this request came from another site than MedChain's own pages, \
    with the session cookie: refused (sign in on the app itself, or send a Bearer token)";

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const ORIGIN: &str = "https://medchain.example.org";

    fn with(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn a_change_must_come_from_the_public_origin() {
        assert!(allowed(&with(&[]), &[ORIGIN.to_owned()], Intent::Change));
        assert!(allowed(
            &with(&[("origin", ORIGIN)]),
            &[ORIGIN.to_owned()],
            Intent::Change
        ));
        assert!(allowed(
            &with(&[("origin", ORIGIN), ("sec-fetch-site", "same-origin")]),
            &[ORIGIN.to_owned()],
            Intent::Change
        ));
        for refused in [
            with(&[("origin", "https://evil.example.org")]),
            with(&[("origin", "null")]),
            with(&[("sec-fetch-site", "same-site")]),
            with(&[("sec-fetch-site", "cross-site")]),
            with(&[("origin", ORIGIN), ("sec-fetch-site", "same-site")]),
        ] {
            assert!(
                !allowed(&refused, &[ORIGIN.to_owned()], Intent::Change),
                "{refused:?}"
            );
        }
    }

    #[test]
    fn a_recorded_read_must_be_same_origin_or_the_users_own() {
        assert!(allowed(
            &with(&[]),
            &[ORIGIN.to_owned()],
            Intent::RecordedRead
        ));
        assert!(allowed(
            &with(&[("sec-fetch-site", "none")]),
            &[ORIGIN.to_owned()],
            Intent::RecordedRead
        ));
        assert!(allowed(
            &with(&[("sec-fetch-site", "same-origin")]),
            &[ORIGIN.to_owned()],
            Intent::RecordedRead
        ));
        assert!(!allowed(
            &with(&[("sec-fetch-site", "same-site")]),
            &[ORIGIN.to_owned()],
            Intent::RecordedRead
        ));
        assert!(allowed(
            &with(&[("sec-fetch-site", "cross-site")]),
            &[ORIGIN.to_owned()],
            Intent::Read
        ));
    }
}
