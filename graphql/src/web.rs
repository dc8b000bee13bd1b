//! The web app (`web/` at the workspace root), embedded in the binary at build time so
//! `medchain serve` needs no Node toolchain and no files beside it. `/` and any other
//! path outside `/api`, `/graphql` and `/assets` serve the app's page (its router reads
//! the path, e.g. `/reset?token=…` from a mail); `/assets/…` serve its modules and styles.
//!
//! Every answer carries a strict Content-Security-Policy: scripts and styles only from
//! this origin (no inline script, no eval), connections only back to it (the API and the
//! subscription socket), no framing.
//!
//! GraphiQL (`GET /graphql`, `web/graphiql/`) is served the same way, from files vendored
//! at pinned versions (`web/graphiql/VERSIONS.md`), never from a CDN, so it runs no
//! third-party script on this origin and works without internet. Its policy differs from
//! the app's in two sources only: fonts from `data:` URLs (inlined in GraphiQL's CSS)
//! and one inline `<style>` element, allowed by its hash rather than 'unsafe-inline'.

use axum::{
    extract::Path,
    http::{HeaderValue, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};

#[derive(rust_embed::Embed)]
#[folder = "../web/"]
#[exclude = "*.md"]
struct Assets;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' blob: data:; connect-src 'self'; frame-src 'self'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const GRAPHIQL_CSP: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self' 'sha256-Y/huXlwoYkVyQlxwSVcCi1RCDGDCSVBzDt0hYP9qlTc='; \
    img-src 'self' data:; font-src data:; connect-src 'self'; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";

fn serve(path: &str) -> Response {
    serve_with(path, CSP)
}

fn serve_with(path: &str, csp: &'static str) -> Response {
    let Some(file) = Assets::get(path) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let mime = file.metadata.mimetype().to_owned();
    let mut response = (StatusCode::OK, file.data.into_owned()).into_response();
    let headers = response.headers_mut();
    if let Ok(mime) = HeaderValue::from_str(&mime) {
        headers.insert(header::CONTENT_TYPE, mime);
    }
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // A new binary may bring new assets: the browser asks again (cheaply) each time.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// `GET /assets/{*path}`.
pub async fn asset(Path(path): Path<String>) -> Response {
    serve(&format!("assets/{path}"))
}

/// `GET /graphql`: GraphiQL's page. It runs nothing: operations are POSTed.
pub async fn graphiql() -> Response {
    serve_with("graphiql/index.html", GRAPHIQL_CSP)
}

/// `GET /graphql/assets/{file}`: GraphiQL's vendored files (a plain name, no path).
pub async fn graphiql_asset(Path(file): Path<String>) -> Response {
    if file.contains('/') || file.contains("..") || file.ends_with(".md") {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    serve_with(&format!("graphiql/{file}"), GRAPHIQL_CSP)
}

/// The app's page, for `/` and every path the app routes itself.
pub async fn page(uri: Uri) -> Response {
    let path = uri.path();
    // Unknown API paths stay errors, never the page.
    if path.starts_with("/api/") || path.starts_with("/graphql") {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    serve("index.html")
}

#[cfg(test)]
mod tests {
    use super::Assets;

    #[test]
    fn the_page_and_its_modules_are_embedded() {
        assert!(Assets::get("index.html").is_some());
        assert!(Assets::get("assets/app.js").is_some());
        let page = String::from_utf8(Assets::get("index.html").unwrap().data.into_owned()).unwrap();
        assert!(!page.contains("<script>"), "no inline script");
        let graphiql = String::from_utf8(
            Assets::get("graphiql/index.html")
                .unwrap()
                .data
                .into_owned(),
        )
        .unwrap();
        assert!(
            !graphiql.contains("<script>") && !graphiql.contains("http"),
            "{graphiql}"
        );
        for file in [
            "graphiql.min.js",
            "graphiql.min.css",
            "init.js",
            "react.production.min.js",
        ] {
            assert!(Assets::get(&format!("graphiql/{file}")).is_some(), "{file}");
        }
    }
}
