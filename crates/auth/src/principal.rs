//! Who is calling, once authenticated, and the one place permissions are checked.

use crate::{AuthError, Permission, Role};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: String,
    pub org_id: String,
    pub role: Role,
    /// Set when the caller used an API key: the key and the scopes it was given.
    pub api_key: Option<ApiKeyGrant>,
    /// False while a role that needs a second factor has none: only enrolment is allowed.
    pub mfa_satisfied: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyGrant {
    pub id: String,
    pub scopes: Vec<Permission>,
}

impl Principal {
    /// Deny by default: the role must have the permission, an API key must carry it as a
    /// scope, and a role that needs a second factor must have one.
    pub fn require(&self, permission: Permission) -> Result<(), AuthError> {
        if !self.mfa_satisfied {
            return Err(AuthError::Forbidden(
                "enrol a second factor (TOTP) first".into(),
            ));
        }
        if !self.role.can(permission) {
            return Err(AuthError::Forbidden(format!(
                "your role does not allow {permission}"
            )));
        }
        if let Some(key) = &self.api_key
            && !key.scopes.contains(&permission)
        {
            return Err(AuthError::Forbidden(format!(
                "this API key lacks the scope {permission}"
            )));
        }
        Ok(())
    }

    /// For managing one's own credentials (API keys, password): a signed-in person, not a
    /// script's API key, who has passed the second-factor rule.
    pub fn require_session(&self) -> Result<(), AuthError> {
        self.require_person()?;
        if !self.mfa_satisfied {
            return Err(AuthError::Forbidden(
                "enrol a second factor (TOTP) first".into(),
            ));
        }
        Ok(())
    }

    /// A signed-in person, second factor or not: enrolling one, signing out. Also what
    /// keeps API keys off a person's own settings (credentials, subscriptions).
    pub fn require_person(&self) -> Result<(), AuthError> {
        if self.api_key.is_some() {
            return Err(AuthError::Forbidden(
                "this needs a signed-in person's access token, not an API key".into(),
            ));
        }
        Ok(())
    }

    /// Whether `require(permission)` would pass.
    pub fn has(&self, permission: Permission) -> bool {
        self.require(permission).is_ok()
    }

    pub fn audit_actor(
        &self,
        ip: Option<String>,
        request_id: Option<String>,
    ) -> compact_db::audit::Actor {
        compact_db::audit::Actor {
            user_id: Some(self.user_id.clone()),
            org_id: Some(self.org_id.clone()),
            api_key_id: self.api_key.as_ref().map(|k| k.id.clone()),
            ip,
            request_id,
        }
    }
}
