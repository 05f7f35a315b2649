//! Profiles' permission sets (DESIGN.md §3). Each area's levels are ordered: a level includes the
//! ones before it, so "at least" is a plain comparison.

use std::collections::BTreeSet;

use crate::error::{DomainError, DomainResult};
use crate::model::OrganizationKind;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum UsersPermission {
    None,
    Read,
    InviteWithApproval,
    Manage,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum AccessLevel {
    None,
    Read,
    Edit,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum BookingsPermission {
    None,
    SelfOnly,
    Others,
    All,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum ClientsPermission {
    None,
    Read,
    Manage,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum AuditPermission {
    None,
    Read,
}

/// The module keys of DESIGN.md §3.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Module {
    Rooms,
    Directory,
    Partner,
    Analytics,
}

impl Module {
    pub const ALL: [Module; 4] = [
        Module::Rooms,
        Module::Directory,
        Module::Partner,
        Module::Analytics,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Module::Rooms => "rooms",
            Module::Directory => "directory",
            Module::Partner => "partner",
            Module::Analytics => "analytics",
        }
    }

    pub fn parse(field: &str, key: &str) -> DomainResult<Self> {
        Module::ALL
            .into_iter()
            .find(|m| m.key() == key.trim())
            .ok_or_else(|| {
                DomainError::validation(
                    field,
                    format!("unknown module '{key}' (rooms, directory, partner, analytics)"),
                )
            })
    }
}

/// What a profile allows, area by area.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Permissions {
    pub users: UsersPermission,
    pub profiles: AccessLevel,
    pub sites: AccessLevel,
    pub rooms: AccessLevel,
    pub bookings: BookingsPermission,
    pub billing: AccessLevel,
    pub clients: ClientsPermission,
    pub audit: AuditPermission,
    pub modules: BTreeSet<Module>,
}

impl Permissions {
    /// Nothing at all.
    pub fn none() -> Self {
        Permissions {
            users: UsersPermission::None,
            profiles: AccessLevel::None,
            sites: AccessLevel::None,
            rooms: AccessLevel::None,
            bookings: BookingsPermission::None,
            billing: AccessLevel::None,
            clients: ClientsPermission::None,
            audit: AuditPermission::None,
            modules: BTreeSet::new(),
        }
    }

    /// The built-in Enterprise profile: the most an organization of this kind may hold.
    pub fn enterprise(kind: OrganizationKind) -> Self {
        let everything = Permissions {
            users: UsersPermission::Manage,
            profiles: AccessLevel::Edit,
            sites: AccessLevel::Edit,
            rooms: AccessLevel::Edit,
            bookings: BookingsPermission::All,
            billing: AccessLevel::Edit,
            clients: ClientsPermission::Manage,
            audit: AuditPermission::Read,
            modules: Module::ALL.into_iter().collect(),
        };
        match kind {
            OrganizationKind::Platform | OrganizationKind::Partner => everything,
            OrganizationKind::Company => Permissions {
                billing: AccessLevel::Read,
                clients: ClientsPermission::None,
                modules: [Module::Rooms, Module::Directory, Module::Analytics]
                    .into_iter()
                    .collect(),
                ..everything
            },
        }
    }

    /// True when every area of `other` is at most this set's level (no escalation).
    pub fn covers(&self, other: &Permissions) -> bool {
        other.users <= self.users
            && other.profiles <= self.profiles
            && other.sites <= self.sites
            && other.rooms <= self.rooms
            && other.bookings <= self.bookings
            && other.billing <= self.billing
            && other.clients <= self.clients
            && other.audit <= self.audit
            && other.modules.is_subset(&self.modules)
    }

    /// The first area in which `other` exceeds this set, for error messages.
    pub fn first_excess(&self, other: &Permissions) -> Option<&'static str> {
        [
            ("users", other.users <= self.users),
            ("profiles", other.profiles <= self.profiles),
            ("sites", other.sites <= self.sites),
            ("rooms", other.rooms <= self.rooms),
            ("bookings", other.bookings <= self.bookings),
            ("billing", other.billing <= self.billing),
            ("clients", other.clients <= self.clients),
            ("audit", other.audit <= self.audit),
            ("modules", other.modules.is_subset(&self.modules)),
        ]
        .into_iter()
        .find_map(|(area, ok)| (!ok).then_some(area))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enterprise_of_a_company_is_below_a_partner() {
        let company = Permissions::enterprise(OrganizationKind::Company);
        let partner = Permissions::enterprise(OrganizationKind::Partner);
        assert!(partner.covers(&company));
        assert!(!company.covers(&partner));
        assert_eq!(company.first_excess(&partner), Some("billing"));
        assert_eq!(company.billing, AccessLevel::Read);
        assert_eq!(company.clients, ClientsPermission::None);
        assert!(!company.modules.contains(&Module::Partner));
    }

    #[test]
    fn levels_are_ordered() {
        assert!(UsersPermission::Manage > UsersPermission::InviteWithApproval);
        assert!(BookingsPermission::Others > BookingsPermission::SelfOnly);
        let mut reader = Permissions::none();
        reader.users = UsersPermission::Read;
        assert!(!reader.covers(&Permissions {
            modules: [Module::Rooms].into(),
            ..Permissions::none()
        }));
    }
}
