//! Roles and permissions: the one table that decides what a role may do (DESIGN §2).
//! Everything not listed is denied.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Member,
    FocalPoint,
    Coordinator,
    Secretariat,
    Admin,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::Secretariat,
        Role::Coordinator,
        Role::FocalPoint,
        Role::Member,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Secretariat => "secretariat",
            Role::Coordinator => "coordinator",
            Role::FocalPoint => "focal_point",
            Role::Member => "member",
        }
    }

    pub fn permissions(self) -> &'static [Permission] {
        use Permission::*;
        const MEMBER: &[Permission] = &[DocumentsRead, UpdatesRead, Search, RegistryRead];
        const FOCAL_POINT: &[Permission] = &[
            DocumentsRead,
            UpdatesRead,
            Search,
            RegistryRead,
            DocumentsWrite,
            UpdatesWrite,
        ];
        const COORDINATOR: &[Permission] = &[
            DocumentsRead,
            UpdatesRead,
            Search,
            RegistryRead,
            DocumentsWrite,
            UpdatesWrite,
            UsersManageOwnOrg,
            NominationsCreate,
            AuditReadOwnOrg,
        ];
        const SECRETARIAT: &[Permission] = &[
            DocumentsRead,
            UpdatesRead,
            Search,
            RegistryRead,
            DocumentsWrite,
            UpdatesWrite,
            UsersManageOwnOrg,
            NominationsCreate,
            NominationsDecide,
            RegistryManage,
            AuditReadAll,
        ];
        const ADMIN: &[Permission] = &[
            DocumentsRead,
            UpdatesRead,
            Search,
            RegistryRead,
            DocumentsWrite,
            UpdatesWrite,
            UsersManageOwnOrg,
            NominationsCreate,
            NominationsDecide,
            RegistryManage,
            AuditReadAll,
            UsersManageAny,
        ];
        match self {
            Role::Member => MEMBER,
            Role::FocalPoint => FOCAL_POINT,
            Role::Coordinator => COORDINATOR,
            Role::Secretariat => SECRETARIAT,
            Role::Admin => ADMIN,
        }
    }

    pub fn can(self, permission: Permission) -> bool {
        self.permissions().contains(&permission)
    }

    /// Roles that require a second factor before anything but enrolling one.
    pub fn requires_mfa(self) -> bool {
        matches!(self, Role::Admin | Role::Secretariat)
    }

    /// Whether a user of this role, with or without an enrolled second factor, has met the
    /// second-factor rule: until then they may only enrol one, and receive no platform
    /// content by mail. (`users::second_factor_rule_met_sql` is the same rule in SQL.)
    pub fn second_factor_rule_met(self, enrolled: bool) -> bool {
        !self.requires_mfa() || enrolled
    }

    /// The highest role this role may give to a user: coordinators and the secretariat up to
    /// coordinator, admins anything.
    pub fn max_assignable(self) -> Option<Role> {
        match self {
            Role::Admin => Some(Role::Admin),
            Role::Secretariat | Role::Coordinator => Some(Role::Coordinator),
            Role::FocalPoint | Role::Member => None,
        }
    }

    pub fn may_assign(self, target: Role) -> bool {
        self.max_assignable().is_some_and(|max| target <= max)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role {s:?}"))
    }
}

/// What a route needs. Also the scopes an API key can carry (a subset of its owner's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Permission {
    /// Read documents within one's audience.
    #[serde(rename = "documents:read")]
    DocumentsRead,
    /// Share and edit documents for one's own organization.
    #[serde(rename = "documents:write")]
    DocumentsWrite,
    #[serde(rename = "updates:read")]
    UpdatesRead,
    /// Post updates for one's own organization.
    #[serde(rename = "updates:write")]
    UpdatesWrite,
    #[serde(rename = "search")]
    Search,
    /// List organizations, groups, focal points and statistics.
    #[serde(rename = "registry:read")]
    RegistryRead,
    /// Manage organizations and groups.
    #[serde(rename = "registry:manage")]
    RegistryManage,
    /// Invite, deactivate and set roles (up to coordinator) in one's own organization.
    #[serde(rename = "users:manage")]
    UsersManageOwnOrg,
    /// Manage any user, roles up to admin.
    #[serde(rename = "users:manage-any")]
    UsersManageAny,
    #[serde(rename = "nominations:create")]
    NominationsCreate,
    #[serde(rename = "nominations:decide")]
    NominationsDecide,
    #[serde(rename = "audit:read-own-org")]
    AuditReadOwnOrg,
    #[serde(rename = "audit:read")]
    AuditReadAll,
}

impl Permission {
    pub const ALL: [Permission; 13] = [
        Permission::DocumentsRead,
        Permission::DocumentsWrite,
        Permission::UpdatesRead,
        Permission::UpdatesWrite,
        Permission::Search,
        Permission::RegistryRead,
        Permission::RegistryManage,
        Permission::UsersManageOwnOrg,
        Permission::UsersManageAny,
        Permission::NominationsCreate,
        Permission::NominationsDecide,
        Permission::AuditReadOwnOrg,
        Permission::AuditReadAll,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::DocumentsRead => "documents:read",
            Permission::DocumentsWrite => "documents:write",
            Permission::UpdatesRead => "updates:read",
            Permission::UpdatesWrite => "updates:write",
            Permission::Search => "search",
            Permission::RegistryRead => "registry:read",
            Permission::RegistryManage => "registry:manage",
            Permission::UsersManageOwnOrg => "users:manage",
            Permission::UsersManageAny => "users:manage-any",
            Permission::NominationsCreate => "nominations:create",
            Permission::NominationsDecide => "nominations:decide",
            Permission::AuditReadOwnOrg => "audit:read-own-org",
            Permission::AuditReadAll => "audit:read",
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Permission {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Permission::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown scope {s:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DESIGN §2, written out plainly as the oracle for the table above.
    #[test]
    fn the_permission_table_is_the_design_table() {
        use Permission::*;
        let expect = |p: Permission, roles: &[Role]| {
            for role in Role::ALL {
                assert_eq!(role.can(p), roles.contains(&role), "{role} / {p}");
            }
        };
        let everyone = &Role::ALL[..];
        expect(DocumentsRead, everyone);
        expect(UpdatesRead, everyone);
        expect(Search, everyone);
        expect(RegistryRead, everyone);
        let posters = &[
            Role::Admin,
            Role::Secretariat,
            Role::Coordinator,
            Role::FocalPoint,
        ][..];
        expect(DocumentsWrite, posters);
        expect(UpdatesWrite, posters);
        let managers = &[Role::Admin, Role::Secretariat, Role::Coordinator][..];
        expect(UsersManageOwnOrg, managers);
        expect(NominationsCreate, managers);
        expect(NominationsDecide, &[Role::Admin, Role::Secretariat]);
        expect(RegistryManage, &[Role::Admin, Role::Secretariat]);
        expect(UsersManageAny, &[Role::Admin]);
        expect(AuditReadAll, &[Role::Admin, Role::Secretariat]);
        expect(AuditReadOwnOrg, &[Role::Coordinator]);
    }

    #[test]
    fn role_assignment_is_capped() {
        assert!(Role::Coordinator.may_assign(Role::Coordinator));
        assert!(!Role::Coordinator.may_assign(Role::Secretariat));
        assert!(!Role::Secretariat.may_assign(Role::Admin));
        assert!(Role::Admin.may_assign(Role::Admin));
        assert!(!Role::FocalPoint.may_assign(Role::Member));
    }

    #[test]
    fn names_round_trip() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        for p in Permission::ALL {
            assert_eq!(p.as_str().parse::<Permission>(), Ok(p));
            assert_eq!(serde_json::to_value(p).expect("json"), p.as_str());
        }
    }
}
