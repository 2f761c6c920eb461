use serde::{Deserialize, Serialize};
use std::fmt;

/// What a person may do in Belay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum Role {
    Admin,
    Lead,
    Reviewer,
    Auditor,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Lead, Role::Reviewer, Role::Auditor];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Lead => "lead",
            Role::Reviewer => "reviewer",
            Role::Auditor => "auditor",
        }
    }

    pub fn parse(s: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role {s:?}: expected admin, lead, reviewer or auditor"))
    }

    /// Every signed-in person sees the queue, agents, policy and evidence.
    pub fn can_see(self) -> bool {
        true
    }

    /// Auditors, leads and admins read the audit trail.
    pub fn can_audit(self) -> bool {
        matches!(self, Role::Admin | Role::Lead | Role::Auditor)
    }

    /// Reviewers, leads and admins decide approval requests.
    pub fn can_decide_actions(self) -> bool {
        matches!(self, Role::Admin | Role::Lead | Role::Reviewer)
    }

    /// Admins change how Belay itself is governed (one-person changes).
    pub fn can_administer(self) -> bool {
        matches!(self, Role::Admin)
    }

    /// Leads and admins register agents and manage their keys.
    pub fn can_manage_agents(self) -> bool {
        matches!(self, Role::Admin | Role::Lead)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_unknown_roles_are_refused() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Ok(role));
        }
        assert!(Role::parse("root").is_err());
        assert!(Role::parse("Admin").is_err());
    }

    #[test]
    fn only_leads_and_admins_manage_agents() {
        assert!(Role::Lead.can_manage_agents());
        assert!(Role::Admin.can_manage_agents());
        assert!(!Role::Reviewer.can_manage_agents());
        assert!(!Role::Auditor.can_manage_agents());
        assert!(!Role::Auditor.can_decide_actions());
        assert!(Role::Reviewer.can_decide_actions());
    }
}
