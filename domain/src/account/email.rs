//! An e-mail address, trimmed and lowercased (DESIGN.md §7): the only way to make one is
//! `parse`, so every comparison and every blind index sees the same normal form.
//!
//! The check is deliberately loose (one `@`, a dotted domain, no spaces or controls):
//! the only real proof of an address is mail reaching it.

use std::fmt;

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidEmail {
    #[error("the e-mail address is empty")]
    Empty,
    #[error("the e-mail address is longer than 254 characters")]
    TooLong,
    #[error("the e-mail address must look like name@example.org")]
    Shape,
}

impl Email {
    pub fn parse(raw: &str) -> Result<Self, InvalidEmail> {
        let normal = raw.trim().to_lowercase();
        if normal.is_empty() {
            return Err(InvalidEmail::Empty);
        }
        if normal.chars().count() > 254 {
            return Err(InvalidEmail::TooLong);
        }
        let (local, domain) = normal.rsplit_once('@').ok_or(InvalidEmail::Shape)?;
        let plain = |s: &str| !s.chars().any(|c| c.is_whitespace() || c.is_control());
        let domain_ok = domain.contains('.') && domain.split('.').all(|label| !label.is_empty());
        if local.is_empty()
            || local.contains('@')
            || local.chars().count() > 64
            || !domain_ok
            || !plain(&normal)
        {
            return Err(InvalidEmail::Shape);
        }
        Ok(Self(normal))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the `@`, which the password policy keeps out of passwords.
    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(local, _)| local)
    }
}

/// Personal data: never printed by `Debug`, so it cannot reach a log by accident.
impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Email(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_trimmed_and_lowercased() {
        let e = Email::parse("  Alice.Example@Hospital.ORG ").unwrap();
        assert_eq!(e.as_str(), "alice.example@hospital.org");
        assert_eq!(e.local_part(), "alice.example");
        assert_eq!(e, Email::parse("alice.example@hospital.org").unwrap());
    }

    #[test]
    fn refuses_what_is_not_an_address() {
        assert_eq!(Email::parse("   "), Err(InvalidEmail::Empty));
        for bad in [
            "alice",
            "alice@",
            "@hospital.org",
            "alice@hospital",
            "a b@x.org",
            "a@x..org",
            "a@b@x.org",
        ] {
            assert_eq!(Email::parse(bad), Err(InvalidEmail::Shape), "{bad}");
        }
        let long = format!("{}@example.org", "a".repeat(250));
        assert_eq!(Email::parse(&long), Err(InvalidEmail::TooLong));
    }

    #[test]
    fn debug_hides_the_address() {
        let e = Email::parse("alice@example.org").unwrap();
        assert_eq!(format!("{e:?}"), "Email(***)");
    }
}
