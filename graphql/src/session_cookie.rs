//! The session cookie: HttpOnly (scripts cannot read it), SameSite=Strict (no other site
//! can make the browser send it), and over https `Secure` with the `__Host-` prefix, so a
//! sibling subdomain can neither set nor overwrite it (a `__Host-` cookie has no Domain
//! and Path=/, which browsers enforce). Over https only the prefixed name is read.

use std::time::Duration;

const PLAIN: &str = "medchain_session";
const HOST_ONLY: &str = "__Host-medchain_session";

fn name(secure: bool) -> &'static str {
    if secure { HOST_ONLY } else { PLAIN }
}

/// `max_age`: the session's absolute limit; the browser counts it from when it receives
/// the cookie, in its own time, so no clock needs to agree.
pub fn set(token: &str, max_age: Duration, secure: bool) -> String {
    let max_age = max_age.as_secs();
    format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        name(secure),
        if secure { "; Secure" } else { "" }
    )
}

pub fn clear(secure: bool) -> String {
    format!(
        "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        name(secure),
        if secure { "; Secure" } else { "" }
    )
}

/// The session token in a `Cookie` header, if there is one under this server's name.
pub fn token_in(cookie_header: &str, secure: bool) -> Option<&str> {
    let name = name(secure);
    cookie_header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_https_only_the_host_only_cookie_counts() {
        let set = set("abc", Duration::from_secs(60), true);
        assert!(
            set.starts_with("__Host-medchain_session=abc; Path=/;"),
            "{set}"
        );
        assert!(set.contains("; Secure") && !set.contains("Domain"), "{set}");
        let tossed = "medchain_session=planted; __Host-medchain_session=mine";
        assert_eq!(token_in(tossed, true), Some("mine"));
        assert_eq!(token_in("medchain_session=planted", true), None);
        assert_eq!(token_in("medchain_session=plain", false), Some("plain"));
    }
}
