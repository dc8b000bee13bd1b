//! The password policy, in one place: registration, `medchain admin create` and password
//! changes all call `Password::new_checked`; sign-in calls `Password::for_login`.
//!
//! Length is counted in Unicode scalar values and any character is allowed, so a
//! passphrase in any script works. Nothing is ever truncated: a long password is hashed
//! whole or refused whole. Sign-in applies no policy, only the bounds, because it must
//! keep accepting every password an older, looser policy once accepted.

use super::{Email, PersonName};
use std::fmt;
use zxcvbn::{Score, zxcvbn};

pub const MIN_PASSWORD_CHARS: usize = 12;
/// Well above the 128 every password manager needs, and low enough that Argon2 never
/// hashes a megabyte someone posted to slow the server down.
pub const MAX_PASSWORD_CHARS: usize = 1024;
/// zxcvbn's own advice: below 3 is too weak (3 means about 10^10 guesses).
pub const MIN_STRENGTH: Score = Score::Three;
/// Shorter parts of a name or address ("Li", "Jo") are too common to forbid.
const MIN_FORBIDDEN_CHARS: usize = 3;

/// A password in clear, between the request and the hasher. A secret: no `Display`, no
/// serde, and `Debug` prints `Password(***)`.
pub struct Password(String);

/// Who is choosing the password: the policy keeps their name and e-mail out of it.
#[derive(Debug, Clone, Copy)]
pub struct PolicySubject<'a> {
    pub email: &'a Email,
    pub name: &'a PersonName,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    #[error("the password is empty")]
    Empty,
    #[error("the password must be at least 12 characters long")]
    TooShort,
    #[error("the password must be at most 1024 characters long")]
    TooLong,
    #[error("the password must not contain your name")]
    ContainsName,
    #[error("the password must not contain your e-mail address")]
    ContainsEmail,
    /// `hint` is zxcvbn's advice, the reason the person sees.
    #[error("the password is too easy to guess: {hint}")]
    TooEasyToGuess { hint: String },
}

impl Password {
    /// For sign-in: refuses only what no policy ever accepted (empty, over 1024).
    pub fn for_login(raw: String) -> Result<Self, PasswordError> {
        if raw.is_empty() {
            return Err(PasswordError::Empty);
        }
        if raw.chars().count() > MAX_PASSWORD_CHARS {
            return Err(PasswordError::TooLong);
        }
        Ok(Self(raw))
    }

    /// For a new password: the whole policy, the cheap and specific checks first so the
    /// person is told the most useful reason.
    pub fn new_checked(raw: String, about: &PolicySubject<'_>) -> Result<Self, PasswordError> {
        let chars = raw.chars().count();
        if chars < MIN_PASSWORD_CHARS {
            return Err(PasswordError::TooShort);
        }
        if chars > MAX_PASSWORD_CHARS {
            return Err(PasswordError::TooLong);
        }
        let lower = raw.to_lowercase();
        let forbidden = |part: &&str| part.chars().count() >= MIN_FORBIDDEN_CHARS;
        if about
            .name
            .parts()
            .filter(forbidden)
            .any(|part| lower.contains(&part.to_lowercase()))
        {
            return Err(PasswordError::ContainsName);
        }
        let local = about.email.local_part();
        if forbidden(&local) && lower.contains(local) {
            return Err(PasswordError::ContainsEmail);
        }
        let user_inputs: Vec<&str> = std::iter::once(local).chain(about.name.parts()).collect();
        let estimate = zxcvbn(&raw, &user_inputs);
        if estimate.score() < MIN_STRENGTH {
            return Err(PasswordError::TooEasyToGuess {
                hint: hint(estimate.feedback()),
            });
        }
        Ok(Self(raw))
    }

    /// The clear text, for the hasher and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// zxcvbn's warning, or else its first suggestion, as a clause: "this is a very common
/// password".
fn hint(feedback: Option<&zxcvbn::feedback::Feedback>) -> String {
    let said = feedback.and_then(|f| {
        f.warning()
            .map(|w| w.to_string())
            .or_else(|| f.suggestions().first().map(|s| s.to_string()))
    });
    let said = said.unwrap_or_else(|| "Add another word or two.".to_owned());
    let said = said.trim_end_matches('.');
    let mut chars = said.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_lowercase().chain(chars).collect()
    })
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRONG: &str = "correct horse battery staple tidal quince";

    fn alice() -> (Email, PersonName) {
        (
            Email::parse("alice.smith@hospital.org").unwrap(),
            PersonName::parse("Alice Van-Der O'Neil").unwrap(),
        )
    }

    /// Why the policy refuses `raw` for Alice, if it does.
    fn refused(raw: &str) -> Option<PasswordError> {
        check(raw).err()
    }

    fn check(raw: &str) -> Result<Password, PasswordError> {
        let (email, name) = alice();
        Password::new_checked(
            raw.to_owned(),
            &PolicySubject {
                email: &email,
                name: &name,
            },
        )
    }

    #[test]
    fn a_strong_passphrase_is_accepted() {
        assert_eq!(check(STRONG).unwrap().expose(), STRONG);
        assert!(check("v8#Kq2!zRt9@Lm").is_ok());
    }

    #[test]
    fn long_unicode_passwords_are_accepted_whole() {
        let raw: String = "Ωmega→σ日本語パスワード🔐ñ"
            .chars()
            .cycle()
            .take(200)
            .collect();
        assert_eq!(raw.chars().count(), 200);
        assert!(raw.len() > 200);
        assert_eq!(check(&raw).unwrap().expose(), raw);
        let longest: String = STRONG.chars().cycle().take(MAX_PASSWORD_CHARS).collect();
        assert_eq!(check(&longest).unwrap().expose(), longest);
    }

    #[test]
    fn length_is_counted_in_characters() {
        assert_eq!(refused("xK9#mQ2$vL7"), Some(PasswordError::TooShort));
        // 12 characters, 24 bytes.
        assert_ne!(refused("ñçøþßðæłŋħĸŧ"), Some(PasswordError::TooShort));
        let over: String = STRONG
            .chars()
            .cycle()
            .take(MAX_PASSWORD_CHARS + 1)
            .collect();
        assert_eq!(refused(&over), Some(PasswordError::TooLong));
    }

    #[test]
    fn a_common_password_is_too_easy_to_guess() {
        for weak in ["password1234", "qwertyuiopasdf", "aaaaaaaaaaaaaaaa"] {
            assert!(
                matches!(refused(weak), Some(PasswordError::TooEasyToGuess { .. })),
                "{weak}"
            );
        }
        assert_eq!(
            refused("password1234").unwrap().to_string(),
            "the password is too easy to guess: this is a very common password"
        );
    }

    #[test]
    fn the_name_is_refused_whatever_its_case() {
        assert_eq!(
            refused("tidal quince ALICE battery"),
            Some(PasswordError::ContainsName)
        );
        assert_eq!(
            refused("tidal quince oneil battery"),
            Some(PasswordError::ContainsName)
        );
        assert_eq!(
            refused("tidal quince NeIl battery"),
            Some(PasswordError::ContainsName)
        );
        // Every part of three letters or more counts ("Van"); "O" is too short to forbid.
        assert_eq!(
            refused("tidal quince van battery"),
            Some(PasswordError::ContainsName)
        );
        assert!(check("tidal quince o battery staple").is_ok());
    }

    #[test]
    fn the_email_local_part_is_refused_whatever_its_case() {
        // "alice" is also a part of her name, which is reported first.
        assert_eq!(
            refused("tidal Alice.Smith quince"),
            Some(PasswordError::ContainsName)
        );
        let email = Email::parse("zq.wx@hospital.org").unwrap();
        let name = PersonName::parse("Bo Li").unwrap();
        let about = PolicySubject {
            email: &email,
            name: &name,
        };
        assert_eq!(
            Password::new_checked("tidal ZQ.WX quince battery".into(), &about).unwrap_err(),
            PasswordError::ContainsEmail
        );
        // A local part under three characters is not forbidden.
        let short = Email::parse("bo@hospital.org").unwrap();
        let about = PolicySubject {
            email: &short,
            name: &name,
        };
        assert!(Password::new_checked("tidal bo quince battery".into(), &about).is_ok());
    }

    #[test]
    fn login_takes_any_password_within_bounds() {
        assert_eq!(Password::for_login("a".into()).unwrap().expose(), "a");
        assert_eq!(
            Password::for_login("password".into()).unwrap().expose(),
            "password"
        );
        assert_eq!(
            Password::for_login(String::new()).unwrap_err(),
            PasswordError::Empty
        );
        let longest = "é".repeat(MAX_PASSWORD_CHARS);
        assert!(Password::for_login(longest.clone()).is_ok());
        assert_eq!(
            Password::for_login(longest + "é").unwrap_err(),
            PasswordError::TooLong
        );
    }

    #[test]
    fn debug_hides_the_password() {
        let password = Password::for_login(STRONG.into()).unwrap();
        assert_eq!(format!("{password:?}"), "Password(***)");
    }
}
