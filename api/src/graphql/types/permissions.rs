use async_graphql::{InputObject, SimpleObject};
use concierge_domain as d;
use concierge_domain::DomainResult;

use super::enums::*;

#[derive(SimpleObject, Clone)]
#[graphql(name = "Permissions")]
pub struct PermissionsObject {
    pub users: UsersPermission,
    pub profiles: AccessLevel,
    pub sites: AccessLevel,
    pub rooms: AccessLevel,
    pub bookings: BookingsPermission,
    pub billing: AccessLevel,
    pub clients: ClientsPermission,
    pub audit: AuditPermission,
    pub modules: Vec<String>,
}

impl From<&d::Permissions> for PermissionsObject {
    fn from(p: &d::Permissions) -> Self {
        PermissionsObject {
            users: p.users.into(),
            profiles: p.profiles.into(),
            sites: p.sites.into(),
            rooms: p.rooms.into(),
            bookings: p.bookings.into(),
            billing: p.billing.into(),
            clients: p.clients.into(),
            audit: p.audit.into(),
            modules: p.modules.iter().map(|m| m.key().to_owned()).collect(),
        }
    }
}

#[derive(InputObject, Clone)]
pub struct PermissionsInput {
    pub users: UsersPermission,
    pub profiles: AccessLevel,
    pub sites: AccessLevel,
    pub rooms: AccessLevel,
    pub bookings: BookingsPermission,
    pub billing: AccessLevel,
    pub clients: ClientsPermission,
    pub audit: AuditPermission,
    pub modules: Vec<String>,
}

impl PermissionsInput {
    pub fn into_domain(self) -> DomainResult<d::Permissions> {
        let modules = self
            .modules
            .iter()
            .map(|key| d::Module::parse("permissions.modules", key))
            .collect::<DomainResult<_>>()?;
        Ok(d::Permissions {
            users: self.users.into(),
            profiles: self.profiles.into(),
            sites: self.sites.into(),
            rooms: self.rooms.into(),
            bookings: self.bookings.into(),
            billing: self.billing.into(),
            clients: self.clients.into(),
            audit: self.audit.into(),
            modules,
        })
    }
}
