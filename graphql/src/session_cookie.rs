//! The session cookie: HttpOnly (scripts cannot read it), SameSite=Strict (no other site
//! can make the browser send it), `Secure` when the public URL is https.

use std::time::Duration;

pub const NAME: &str = "medchain_session";

/// `max_age`: the session's absolute limit; the browser counts it from when it receives
/// the cookie, in its own time, so no clock needs to agree.
pub fn set(token: &str, max_age: Duration, secure: bool) -> String {
    let max_age = max_age.as_secs();
    format!(
        "{NAME}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    )
}

pub fn clear(secure: bool) -> String {
    format!(
        "{NAME}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The session token in a `Cookie` header, if there is one.
pub fn token_in(cookie_header: &str) -> Option<&str> {
    cookie_header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == NAME)
        .map(|(_, value)| value)
}
