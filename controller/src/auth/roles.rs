//! Who may see and do what: the access policy, as pure functions of a [`Principal`].
//!
//! The ledger keeps staff records and their roles; the request layer turns the signed-in
//! staff member into a [`Principal`] and asks here. Keeping the rules in one small place makes
//! them easy to read and to test: super admins see and manage everything; staff see the routers
//! they are assigned and the vouchers they issued, and manage nothing.

/// What a staff account is allowed to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoleKind {
    SuperAdmin,
    Staff,
}

/// The caller of a request, as far as the policy needs to know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub staff_id: u64,
    pub role: RoleKind,
    /// Routers this staff member is assigned to (ignored for super admins).
    pub routers: Vec<u64>,
}

/// Refusal by the policy. Maps to HTTP 403 `forbidden`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Forbidden(pub &'static str);

impl Principal {
    pub fn is_admin(&self) -> bool {
        self.role == RoleKind::SuperAdmin
    }

    /// Add, change and remove routers, packages, staff and sites; read all vouchers.
    pub fn can_manage_routers(&self) -> bool {
        self.is_admin()
    }

    /// See the router and issue vouchers on it.
    pub fn can_see_router(&self, router_id: u64) -> bool {
        self.is_admin() || self.routers.contains(&router_id)
    }

    /// See a voucher issued by `owner_staff_id`.
    pub fn can_see_voucher(&self, owner_staff_id: u64) -> bool {
        self.is_admin() || self.staff_id == owner_staff_id
    }

    /// `Ok` if admin, else a [`Forbidden`] naming what was asked.
    pub fn require_admin(&self, what: &'static str) -> Result<(), Forbidden> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(Forbidden(what))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staff_see_only_their_routers_and_vouchers() {
        let staff = Principal {
            staff_id: 7,
            role: RoleKind::Staff,
            routers: vec![1, 3],
        };
        assert!(!staff.is_admin() && !staff.can_manage_routers());
        assert!(staff.can_see_router(3) && !staff.can_see_router(2));
        assert!(staff.can_see_voucher(7) && !staff.can_see_voucher(8));
        assert_eq!(
            staff.require_admin("listing all vouchers needs a super admin"),
            Err(Forbidden("listing all vouchers needs a super admin"))
        );
        let admin = Principal {
            staff_id: 1,
            role: RoleKind::SuperAdmin,
            routers: vec![],
        };
        assert!(admin.can_manage_routers() && admin.can_see_router(99));
        assert!(admin.can_see_voucher(7) && admin.require_admin("x").is_ok());
    }
}
