//! GraphQL enums, mirroring the domain's (the `remote` attribute generates both conversions).

use async_graphql::Enum;
use concierge_domain as d;

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "d::OrganizationKind")]
pub enum OrganizationKind {
    Platform,
    Partner,
    Company,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "d::UserStatus")]
pub enum UserStatus {
    Invited,
    PendingApproval,
    Active,
    Inactive,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "d::UsersPermission")]
pub enum UsersPermission {
    None,
    Read,
    InviteWithApproval,
    Manage,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "d::AccessLevel")]
pub enum AccessLevel {
    None,
    Read,
    Edit,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "d::BookingsPermission")]
pub enum BookingsPermission {
    None,
    #[graphql(name = "SELF")]
    SelfOnly,
    Others,
    All,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "d::ClientsPermission")]
pub enum ClientsPermission {
    None,
    Read,
    Manage,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "d::AuditPermission")]
pub enum AuditPermission {
    None,
    Read,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "d::Language")]
pub enum Language {
    En,
    Fr,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "d::CredentialsRecipient")]
pub enum CredentialsRecipient {
    None,
    User,
    OrganizationAdmin,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "d::PasswordResetMethod")]
pub enum PasswordResetMethod {
    EmailLink,
    Set,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "d::InvitationStatus")]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Expired,
    Revoked,
}
