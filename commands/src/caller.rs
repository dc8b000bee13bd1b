//! Who is calling, once their session has been checked: what every command that a person
//! asks for takes, and its one conversion into the domain's `Viewer`, the shape the
//! access rules ask about.

use crate::CommandError;
use domain::{
    account::{Role, UserId, require_admin},
    record::Viewer,
};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub user: UserId,
    pub role: Role,
    pub session: Uuid,
}

impl Caller {
    /// The caller as the domain's rules see them.
    pub fn viewer(&self) -> Viewer {
        Viewer {
            id: self.user,
            role: self.role,
        }
    }

    /// `domain::account::require_admin`, as this layer's error.
    pub fn require_admin(&self) -> Result<(), CommandError> {
        require_admin(self.viewer()).map_err(|e| CommandError::Forbidden(e.to_string()))
    }
}
