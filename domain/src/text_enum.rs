//! `text_forms!`: the text form of an enum the ledger, the tables and the API spell in
//! capitals (`ACTIVE`, `DOCTOR`), said once per variant, with every value (`ALL`), its
//! text (`as_str`, `Display`), and reading it back (`parse`, refusing anything else with
//! the enum's own error), and a test helper that holds the text to the serde form.

/// `text_forms!(Role, InvalidRole { Patient => "PATIENT", … })` for an enum whose serde
/// form is the same text, and an error type made from the refused `String`.
#[macro_export]
macro_rules! text_forms {
    ($name:ident, $error:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            pub fn parse(raw: &str) -> Result<Self, $error> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|value| value.as_str() == raw)
                    .ok_or_else(|| $error(raw.to_owned()))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// Every value of a `text_forms!` enum reads back from its text, and its serde JSON is
/// that text.
#[cfg(test)]
pub(crate) fn assert_text_and_json_agree<T>(
    all: &[T],
    as_str: fn(T) -> &'static str,
    parse: fn(&str) -> Option<T>,
) where
    T: Copy + PartialEq + std::fmt::Debug + serde::Serialize + serde::de::DeserializeOwned,
{
    for &value in all {
        assert_eq!(parse(as_str(value)), Some(value));
        let json = serde_json::to_string(&value).unwrap();
        assert_eq!(json, format!("\"{}\"", as_str(value)));
        assert_eq!(serde_json::from_str::<T>(&json).unwrap(), value);
    }
}
