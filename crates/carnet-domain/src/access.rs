//! Roles and what each may do. Checked on the server for every route.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Manager,
    Sales,
    Marketing,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Manager, Role::Sales, Role::Marketing];

    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "admin" | "administrator" => Ok(Role::Admin),
            "manager" => Ok(Role::Manager),
            "sales" => Ok(Role::Sales),
            "marketing" => Ok(Role::Marketing),
            _ => Err("must be one of admin, manager, sales, marketing".into()),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Sales => "sales",
            Role::Marketing => "marketing",
        }
    }
    pub fn can(self, p: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Admin => true,
            Role::Manager => matches!(
                p,
                ReadRecords | WriteAccounts | WriteContacts | WriteOpportunities | DeleteRecords | Comment | ManageMarketing
            ),
            Role::Sales => matches!(p, ReadRecords | WriteAccounts | WriteContacts | WriteOpportunities | Comment),
            Role::Marketing => matches!(p, ReadRecords | WriteContacts | Comment | ManageMarketing),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Statuses, tag categories, custom fields, mandatory rules, contact roles.
    ManageSettings,
    ManageUsers,
    ReadRecords,
    WriteAccounts,
    WriteContacts,
    /// Opportunities, their stage moves and orders.
    WriteOpportunities,
    DeleteRecords,
    Comment,
    /// Campaigns and their costs, forms and landing pages.
    ManageMarketing,
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn matrix() {
        assert!(Role::Admin.can(Permission::ManageSettings));
        assert!(!Role::Manager.can(Permission::ManageSettings));
        assert!(!Role::Sales.can(Permission::ManageUsers));
        assert!(!Role::Sales.can(Permission::DeleteRecords));
        assert!(!Role::Marketing.can(Permission::WriteAccounts));
        assert!(Role::Marketing.can(Permission::WriteContacts));
        assert!(!Role::Marketing.can(Permission::WriteOpportunities));
        assert!(Role::Sales.can(Permission::WriteOpportunities));
        assert!(Role::Marketing.can(Permission::ManageMarketing));
        assert!(!Role::Sales.can(Permission::ManageMarketing));
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Ok(r));
            assert!(r.can(Permission::ReadRecords));
        }
    }
}
