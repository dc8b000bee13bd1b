//! Searching people by name, case- and accent-insensitively: "jose" finds "José", "MÜLLER"
//! finds "Müller". Both sides are folded the same way: canonical decomposition (NFD), the
//! combining marks dropped, then lowercase.

use unicode_normalization::{UnicodeNormalization as _, char::is_combining_mark};

/// The form names and searches are compared in.
pub fn fold(text: &str) -> String {
    text.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether `name` contains `search` (already folded with `fold`).
pub fn matches(name: &str, folded_search: &str) -> bool {
    fold(name).contains(folded_search)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignores_case_and_accents() {
        assert!(matches("José Álvarez", &fold("jose al")));
        assert!(matches("Anna Müller", &fold("MULLER")));
        assert!(matches("Zoë Ångström", &fold("zoe angstrom")));
        assert!(!matches("Anna Miller", &fold("müller")));
        assert!(matches("Anyone", &fold("")));
    }
}
