//! Which roles must have a second factor (DESIGN.md §10, `MEDCHAIN_MFA_REQUIRED`): a
//! comma list of roles, `admin` by default, empty for none. A person of such a role
//! without a factor signs in to a session that may only enrol one: the rule is said here
//! once, and the HTTP surface asks it for every request.

use super::Role;
use std::collections::BTreeSet;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaPolicy(BTreeSet<RoleKey>);

/// `Role` has no order of its own; the policy keeps its text.
type RoleKey = &'static str;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "MEDCHAIN_MFA_REQUIRED lists roles (patient, doctor, admin) separated by commas; {0:?} is none of them"
)]
pub struct InvalidMfaPolicy(String);

impl MfaPolicy {
    /// No role must: every account may sign in with a password alone.
    pub fn none() -> Self {
        Self(BTreeSet::new())
    }

    /// `admin,doctor` (case and spaces do not matter); an empty text is no role.
    pub fn parse(text: &str) -> Result<Self, InvalidMfaPolicy> {
        let mut roles = BTreeSet::new();
        for word in text.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            let role = Role::parse(&word.to_ascii_uppercase())
                .map_err(|_| InvalidMfaPolicy(word.to_owned()))?;
            roles.insert(role.as_str());
        }
        Ok(Self(roles))
    }

    pub fn requires(&self, role: Role) -> bool {
        self.0.contains(role.as_str())
    }

    /// Whether a session of `role`, whose person has a factor or not, may only enrol one.
    pub fn must_enrol(&self, role: Role, has_factor: bool) -> bool {
        self.requires(role) && !has_factor
    }
}

impl Default for MfaPolicy {
    /// DESIGN.md §10: administrators.
    fn default() -> Self {
        Self::parse("admin").expect("a valid policy")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_administrators_and_empty_is_nobody() {
        let policy = MfaPolicy::default();
        assert!(policy.requires(Role::Admin));
        assert!(!policy.requires(Role::Doctor));
        assert!(policy.must_enrol(Role::Admin, false));
        assert!(!policy.must_enrol(Role::Admin, true));
        assert_eq!(MfaPolicy::parse(""), Ok(MfaPolicy::none()));
        assert!(!MfaPolicy::none().must_enrol(Role::Admin, false));
    }

    #[test]
    fn a_list_of_roles_in_any_case() {
        let policy = MfaPolicy::parse(" Admin, doctor ").unwrap();
        assert!(policy.requires(Role::Admin) && policy.requires(Role::Doctor));
        assert!(!policy.requires(Role::Patient));
        assert_eq!(
            MfaPolicy::parse("admin,nurse"),
            Err(InvalidMfaPolicy("nurse".into()))
        );
    }
}
