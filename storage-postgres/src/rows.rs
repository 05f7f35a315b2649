//! Table rows and their conversions to and from the domain's entities. Writing never fails;
//! reading re-parses every value type, so a row that no longer holds a valid value is an error
//! rather than a silently invalid entity.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use concierge_domain::ids::*;
use concierge_domain::model::*;
use concierge_domain::permissions::*;
use concierge_domain::storage::StorageResult;
use concierge_domain::values::{EmailAddress, Language, Name, Secret, TimeZone, Username};
use diesel::prelude::*;
use uuid::Uuid;

use crate::errors::corrupt;
use crate::schema::*;

/// An enum stored as a fixed text label (the table's CHECK constraint lists the same labels).
pub(crate) trait Label: Sized {
    fn label(self) -> &'static str;
    fn from_label(raw: &str) -> StorageResult<Self>;
}

macro_rules! labels {
    ($ty:ty, $what:literal, { $($variant:path => $label:literal),+ $(,)? }) => {
        impl Label for $ty {
            fn label(self) -> &'static str {
                match self {
                    $($variant => $label),+
                }
            }

            fn from_label(raw: &str) -> StorageResult<Self> {
                match raw {
                    $($label => Ok($variant),)+
                    other => Err(corrupt($what, other)),
                }
            }
        }
    };
}

labels!(OrganizationKind, "organization kind", {
    OrganizationKind::Platform => "PLATFORM",
    OrganizationKind::Partner => "PARTNER",
    OrganizationKind::Company => "COMPANY",
});
labels!(UserStatus, "user status", {
    UserStatus::Invited => "INVITED",
    UserStatus::PendingApproval => "PENDING_APPROVAL",
    UserStatus::Active => "ACTIVE",
    UserStatus::Inactive => "INACTIVE",
});
labels!(Language, "language", { Language::En => "en", Language::Fr => "fr" });
labels!(UsersPermission, "users permission", {
    UsersPermission::None => "NONE",
    UsersPermission::Read => "READ",
    UsersPermission::InviteWithApproval => "INVITE_WITH_APPROVAL",
    UsersPermission::Manage => "MANAGE",
});
labels!(AccessLevel, "access level", {
    AccessLevel::None => "NONE",
    AccessLevel::Read => "READ",
    AccessLevel::Edit => "EDIT",
});
labels!(BookingsPermission, "bookings permission", {
    BookingsPermission::None => "NONE",
    BookingsPermission::SelfOnly => "SELF",
    BookingsPermission::Others => "OTHERS",
    BookingsPermission::All => "ALL",
});
labels!(ClientsPermission, "clients permission", {
    ClientsPermission::None => "NONE",
    ClientsPermission::Read => "READ",
    ClientsPermission::Manage => "MANAGE",
});
labels!(AuditPermission, "audit permission", {
    AuditPermission::None => "NONE",
    AuditPermission::Read => "READ",
});
labels!(BookingSource, "booking source", {
    BookingSource::Admin => "ADMIN",
    BookingSource::App => "APP",
    BookingSource::Tablet => "TABLET",
});
labels!(BookingStatus, "booking status", {
    BookingStatus::Confirmed => "CONFIRMED",
    BookingStatus::Cancelled => "CANCELLED",
    BookingStatus::Released => "RELEASED",
});
labels!(BookingEventKind, "booking event kind", {
    BookingEventKind::Created => "CREATED",
    BookingEventKind::Updated => "UPDATED",
    BookingEventKind::Cancelled => "CANCELLED",
    BookingEventKind::Released => "RELEASED",
});
labels!(EmailKind, "e-mail kind", {
    EmailKind::Credentials => "CREDENTIALS",
    EmailKind::Invitation => "INVITATION",
    EmailKind::PasswordReset => "PASSWORD_RESET",
    EmailKind::PasswordChanged => "PASSWORD_CHANGED",
    EmailKind::SecondFactorReset => "SECOND_FACTOR_RESET",
    EmailKind::BookingReleased => "BOOKING_RELEASED",
    EmailKind::SsoWelcome => "SSO_WELCOME",
    EmailKind::SsoLinked => "SSO_LINKED",
    EmailKind::BookingConfirmed => "BOOKING_CONFIRMED",
    EmailKind::BookingChanged => "BOOKING_CHANGED",
    EmailKind::BookingCancelled => "BOOKING_CANCELLED",
});
labels!(Module, "module", {
    Module::Rooms => "rooms",
    Module::Directory => "directory",
    Module::Partner => "partner",
    Module::Analytics => "analytics",
});

fn name(what: &str, raw: &str) -> StorageResult<Name> {
    Name::parse(what, raw).map_err(|e| corrupt(what, e))
}

fn time_zone(raw: &str) -> StorageResult<TimeZone> {
    TimeZone::parse("time_zone", raw).map_err(|e| corrupt("time zone", e))
}

fn email(raw: Option<String>) -> StorageResult<Option<EmailAddress>> {
    raw.map(|raw| EmailAddress::parse("email", &raw).map_err(|e| corrupt("e-mail", e)))
        .transpose()
}

fn required_email(raw: &str) -> StorageResult<EmailAddress> {
    EmailAddress::parse("email", raw).map_err(|e| corrupt("e-mail", e))
}

fn secret(raw: Option<String>) -> Option<Secret> {
    raw.map(Secret::new)
}

fn expose(secret: &Option<Secret>) -> Option<String> {
    secret.as_ref().map(|s| s.expose().to_owned())
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = organizations, check_for_backend(diesel::pg::Pg), treat_none_as_null = true)]
pub(crate) struct OrganizationRow {
    pub id: Uuid,
    pub kind: String,
    pub name: String,
    /// Written for search, never read back.
    pub name_lower: String,
    pub parent_id: Option<Uuid>,
    pub admin_email: Option<String>,
    pub external_contact: Option<String>,
    pub default_language: String,
    pub time_zone: String,
    pub default_profile_id: Uuid,
    pub price_list_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl From<&Organization> for OrganizationRow {
    fn from(o: &Organization) -> Self {
        OrganizationRow {
            id: o.id.0,
            kind: o.kind.label().to_owned(),
            name: o.name.as_str().to_owned(),
            name_lower: o.name.as_str().to_lowercase(),
            parent_id: o.parent_id.map(|id| id.0),
            admin_email: o.admin_email.as_ref().map(|e| e.as_str().to_owned()),
            external_contact: o.external_contact.clone(),
            default_language: o.default_language.label().to_owned(),
            time_zone: o.time_zone.name().to_owned(),
            default_profile_id: o.default_profile_id.0,
            price_list_id: o.price_list_id.map(|id| id.0),
            created_at: o.created_at,
        }
    }
}

impl TryFrom<OrganizationRow> for Organization {
    type Error = concierge_domain::storage::StorageError;

    fn try_from(row: OrganizationRow) -> StorageResult<Self> {
        Ok(Organization {
            id: OrganizationId(row.id),
            kind: OrganizationKind::from_label(&row.kind)?,
            name: name("organization name", &row.name)?,
            parent_id: row.parent_id.map(OrganizationId),
            admin_email: email(row.admin_email)?,
            external_contact: row.external_contact,
            default_language: Language::from_label(&row.default_language)?,
            time_zone: time_zone(&row.time_zone)?,
            default_profile_id: ProfileId(row.default_profile_id),
            price_list_id: row.price_list_id.map(PriceListId),
            created_at: row.created_at,
        })
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = profiles, check_for_backend(diesel::pg::Pg), treat_none_as_null = true)]
pub(crate) struct ProfileRow {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub built_in: bool,
    pub perm_users: String,
    pub perm_profiles: String,
    pub perm_sites: String,
    pub perm_rooms: String,
    pub perm_bookings: String,
    pub perm_billing: String,
    pub perm_clients: String,
    pub perm_audit: String,
    pub modules: Vec<String>,
    pub created_at: DateTime<Utc>,
}

impl From<&Profile> for ProfileRow {
    fn from(p: &Profile) -> Self {
        let perms = &p.permissions;
        ProfileRow {
            id: p.id.0,
            organization_id: p.organization_id.0,
            name: p.name.as_str().to_owned(),
            built_in: p.built_in,
            perm_users: perms.users.label().to_owned(),
            perm_profiles: perms.profiles.label().to_owned(),
            perm_sites: perms.sites.label().to_owned(),
            perm_rooms: perms.rooms.label().to_owned(),
            perm_bookings: perms.bookings.label().to_owned(),
            perm_billing: perms.billing.label().to_owned(),
            perm_clients: perms.clients.label().to_owned(),
            perm_audit: perms.audit.label().to_owned(),
            modules: perms.modules.iter().map(|m| m.label().to_owned()).collect(),
            created_at: p.created_at,
        }
    }
}

impl TryFrom<ProfileRow> for Profile {
    type Error = concierge_domain::storage::StorageError;

    fn try_from(row: ProfileRow) -> StorageResult<Self> {
        let modules = row
            .modules
            .iter()
            .map(|m| Module::from_label(m))
            .collect::<StorageResult<BTreeSet<_>>>()?;
        Ok(Profile {
            id: ProfileId(row.id),
            organization_id: OrganizationId(row.organization_id),
            name: name("profile name", &row.name)?,
            built_in: row.built_in,
            permissions: Permissions {
                users: UsersPermission::from_label(&row.perm_users)?,
                profiles: AccessLevel::from_label(&row.perm_profiles)?,
                sites: AccessLevel::from_label(&row.perm_sites)?,
                rooms: AccessLevel::from_label(&row.perm_rooms)?,
                bookings: BookingsPermission::from_label(&row.perm_bookings)?,
                billing: AccessLevel::from_label(&row.perm_billing)?,
                clients: ClientsPermission::from_label(&row.perm_clients)?,
                audit: AuditPermission::from_label(&row.perm_audit)?,
                modules,
            },
            created_at: row.created_at,
        })
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = price_lists, check_for_backend(diesel::pg::Pg), treat_none_as_null = true)]
pub(crate) struct PriceListRow {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub is_default: bool,
    pub created_at: DateTime<Utc>,
}

impl From<&PriceList> for PriceListRow {
    fn from(p: &PriceList) -> Self {
        PriceListRow {
            id: p.id.0,
            organization_id: p.organization_id.0,
            name: p.name.as_str().to_owned(),
            is_default: p.is_default,
            created_at: p.created_at,
        }
    }
}

impl TryFrom<PriceListRow> for PriceList {
    type Error = concierge_domain::storage::StorageError;

    fn try_from(row: PriceListRow) -> StorageResult<Self> {
        Ok(PriceList {
            id: PriceListId(row.id),
            organization_id: OrganizationId(row.organization_id),
            name: name("price list name", &row.name)?,
            is_default: row.is_default,
            created_at: row.created_at,
        })
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = sites, check_for_backend(diesel::pg::Pg), treat_none_as_null = true)]
pub(crate) struct SiteRow {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub time_zone: String,
    pub address: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<&Site> for SiteRow {
    fn from(s: &Site) -> Self {
        SiteRow {
            id: s.id.0,
            organization_id: s.organization_id.0,
            name: s.name.as_str().to_owned(),
            time_zone: s.time_zone.name().to_owned(),
            address: s.address.clone(),
            created_at: s.created_at,
        }
    }
}

impl TryFrom<SiteRow> for Site {
    type Error = concierge_domain::storage::StorageError;

    fn try_from(row: SiteRow) -> StorageResult<Self> {
        Ok(Site {
            id: SiteId(row.id),
            organization_id: OrganizationId(row.organization_id),
            name: name("site name", &row.name)?,
            time_zone: time_zone(&row.time_zone)?,
            address: row.address,
            created_at: row.created_at,
        })
    }
}

/// A site group without its sites, which live in `site_group_sites`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = site_groups, check_for_backend(diesel::pg::Pg), treat_none_as_null = true)]
pub(crate) struct SiteGroupRow {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl From<&SiteGroup> for SiteGroupRow {
    fn from(g: &SiteGroup) -> Self {
        SiteGroupRow {
            id: g.id.0,
            organization_id: g.organization_id.0,
            name: g.name.as_str().to_owned(),
            created_at: g.created_at,
        }
    }
}

impl SiteGroupRow {
    /// `site_ids` in id order (the set's canonical order).
    pub(crate) fn into_site_group(self, site_ids: Vec<SiteId>) -> StorageResult<SiteGroup> {
        Ok(SiteGroup {
            id: SiteGroupId(self.id),
            organization_id: OrganizationId(self.organization_id),
            name: name("site group name", &self.name)?,
            site_ids,
            created_at: self.created_at,
        })
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = rooms, check_for_backend(diesel::pg::Pg), treat_none_as_null = true)]
pub(crate) struct RoomRow {
    pub id: Uuid,
    pub site_id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub capacity: Option<i32>,
    pub equipment: Vec<String>,
    pub bookable: bool,
    pub slot_minutes: i32,
    pub min_minutes: i32,
    pub max_minutes: i32,
    pub horizon_days: i32,
    pub created_at: DateTime<Utc>,
    pub check_in_required: bool,
    pub release_after_minutes: i32,
}

impl From<&Room> for RoomRow {
    fn from(r: &Room) -> Self {
        RoomRow {
            id: r.id.0,
            site_id: r.site_id.0,
            organization_id: r.organization_id.0,
            name: r.name.as_str().to_owned(),
            capacity: r.capacity,
            equipment: r.equipment.clone(),
            bookable: r.bookable,
            slot_minutes: r.policy.slot_minutes,
            min_minutes: r.policy.min_minutes,
            max_minutes: r.policy.max_minutes,
            horizon_days: r.policy.horizon_days,
            created_at: r.created_at,
            check_in_required: r.policy.check_in_required,
            release_after_minutes: r.policy.release_after_minutes,
        }
    }
}

impl TryFrom<RoomRow> for Room {
    type Error = concierge_domain::storage::StorageError;

    fn try_from(row: RoomRow) -> StorageResult<Self> {
        Ok(Room {
            id: RoomId(row.id),
            site_id: SiteId(row.site_id),
            organization_id: OrganizationId(row.organization_id),
            name: name("room name", &row.name)?,
            capacity: row.capacity,
            equipment: row.equipment,
            bookable: row.bookable,
            policy: BookingPolicy {
                slot_minutes: row.slot_minutes,
                min_minutes: row.min_minutes,
                max_minutes: row.max_minutes,
                horizon_days: row.horizon_days,
                check_in_required: row.check_in_required,
                release_after_minutes: row.release_after_minutes,
            },
            created_at: row.created_at,
        })
    }
}

/// A user without their site grants, which live in `user_sites` and `user_site_groups`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg), treat_none_as_null = true)]
pub(crate) struct UserRow {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub first_name: String,
    pub last_name: String,
    /// Written for search, never read back.
    pub first_name_lower: String,
    pub last_name_lower: String,
    pub email: Option<String>,
    pub username: Option<String>,
    pub language: String,
    pub status: String,
    pub profile_id: Uuid,
    pub default_site_id: Option<Uuid>,
    pub external_contact: Option<String>,
    pub price_list_id: Option<Uuid>,
    pub photo_url: Option<String>,
    pub password_hash: Option<String>,
    pub must_change_password: bool,
    pub booking_code_hash: Option<String>,
    pub session_epoch: i64,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl From<&User> for UserRow {
    fn from(u: &User) -> Self {
        UserRow {
            id: u.id.0,
            organization_id: u.organization_id.0,
            first_name: u.first_name.as_str().to_owned(),
            last_name: u.last_name.as_str().to_owned(),
            first_name_lower: u.first_name.as_str().to_lowercase(),
            last_name_lower: u.last_name.as_str().to_lowercase(),
            email: u.email.as_ref().map(|e| e.as_str().to_owned()),
            username: u.username.as_ref().map(|n| n.as_str().to_owned()),
            language: u.language.label().to_owned(),
            status: u.status.label().to_owned(),
            profile_id: u.profile_id.0,
            default_site_id: u.default_site_id.map(|id| id.0),
            external_contact: u.external_contact.clone(),
            price_list_id: u.price_list_id.map(|id| id.0),
            photo_url: u.photo_url.clone(),
            password_hash: expose(&u.password_hash),
            must_change_password: u.must_change_password,
            booking_code_hash: expose(&u.booking_code_hash),
            session_epoch: u.session_epoch,
            created_by: u.created_by.map(|id| id.0),
            created_at: u.created_at,
        }
    }
}

impl UserRow {
    /// Grants in id order (the sets' canonical order).
    pub(crate) fn into_user(
        self,
        site_ids: Vec<SiteId>,
        site_group_ids: Vec<SiteGroupId>,
    ) -> StorageResult<User> {
        let username = self
            .username
            .map(|raw| Username::parse("username", &raw).map_err(|e| corrupt("username", e)))
            .transpose()?;
        Ok(User {
            id: UserId(self.id),
            organization_id: OrganizationId(self.organization_id),
            first_name: name("first name", &self.first_name)?,
            last_name: name("last name", &self.last_name)?,
            email: email(self.email)?,
            username,
            language: Language::from_label(&self.language)?,
            status: UserStatus::from_label(&self.status)?,
            profile_id: ProfileId(self.profile_id),
            site_ids,
            site_group_ids,
            default_site_id: self.default_site_id.map(SiteId),
            external_contact: self.external_contact,
            price_list_id: self.price_list_id.map(PriceListId),
            photo_url: self.photo_url,
            password_hash: secret(self.password_hash),
            must_change_password: self.must_change_password,
            booking_code_hash: secret(self.booking_code_hash),
            session_epoch: self.session_epoch,
            created_by: self.created_by.map(UserId),
            created_at: self.created_at,
        })
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = sessions, check_for_backend(diesel::pg::Pg), treat_none_as_null = true)]
pub(crate) struct SessionRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub refresh_token_hash: String,
    pub previous_token_hash: Option<String>,
    pub epoch: i64,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<&Session> for SessionRow {
    fn from(s: &Session) -> Self {
        SessionRow {
            id: s.id.0,
            user_id: s.user_id.0,
            refresh_token_hash: s.refresh_token_hash.expose().to_owned(),
            previous_token_hash: expose(&s.previous_token_hash),
            epoch: s.epoch,
            created_at: s.created_at,
            expires_at: s.expires_at,
            revoked_at: s.revoked_at,
        }
    }
}

impl From<SessionRow> for Session {
    fn from(row: SessionRow) -> Self {
        Session {
            id: SessionId(row.id),
            user_id: UserId(row.user_id),
            refresh_token_hash: Secret::new(row.refresh_token_hash),
            previous_token_hash: secret(row.previous_token_hash),
            epoch: row.epoch,
            created_at: row.created_at,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_events, check_for_backend(diesel::pg::Pg))]
pub(crate) struct AuditEventRow {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub actor_id: Option<Uuid>,
    pub organization_id: Option<Uuid>,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub ip: Option<String>,
}

impl From<&AuditEvent> for AuditEventRow {
    fn from(e: &AuditEvent) -> Self {
        AuditEventRow {
            id: e.id.0,
            at: e.at,
            actor_id: e.actor_id.map(|id| id.0),
            organization_id: e.organization_id.map(|id| id.0),
            action: e.action.clone(),
            target_type: e.target_type.clone(),
            target_id: e.target_id.clone(),
            ip: e.ip.clone(),
        }
    }
}

impl From<AuditEventRow> for AuditEvent {
    fn from(row: AuditEventRow) -> Self {
        AuditEvent {
            id: AuditEventId(row.id),
            at: row.at,
            actor_id: row.actor_id.map(UserId),
            organization_id: row.organization_id.map(OrganizationId),
            action: row.action,
            target_type: row.target_type,
            target_id: row.target_id,
            ip: row.ip,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = bookings, check_for_backend(diesel::pg::Pg), treat_none_as_null = true)]
pub(crate) struct BookingRow {
    pub id: Uuid,
    pub room_id: Uuid,
    pub site_id: Uuid,
    pub organization_id: Uuid,
    pub user_id: Uuid,
    pub created_by: Uuid,
    pub title: Option<String>,
    pub start_at: DateTime<Utc>,
    pub end_at: DateTime<Utc>,
    pub source: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub checked_in_at: Option<DateTime<Utc>>,
    pub release_at: Option<DateTime<Utc>>,
    pub series_id: Option<Uuid>,
}

impl From<&Booking> for BookingRow {
    fn from(b: &Booking) -> Self {
        BookingRow {
            id: b.id.0,
            room_id: b.room_id.0,
            site_id: b.site_id.0,
            organization_id: b.organization_id.0,
            user_id: b.user_id.0,
            created_by: b.created_by.0,
            title: b.title.clone(),
            start_at: b.start,
            end_at: b.end,
            source: b.source.label().to_owned(),
            status: b.status.label().to_owned(),
            created_at: b.created_at,
            checked_in_at: b.checked_in_at,
            release_at: b.release_at,
            series_id: b.series_id.map(|id| id.0),
        }
    }
}

impl TryFrom<BookingRow> for Booking {
    type Error = concierge_domain::storage::StorageError;

    fn try_from(row: BookingRow) -> StorageResult<Self> {
        Ok(Booking {
            id: BookingId(row.id),
            room_id: RoomId(row.room_id),
            site_id: SiteId(row.site_id),
            organization_id: OrganizationId(row.organization_id),
            user_id: UserId(row.user_id),
            created_by: UserId(row.created_by),
            title: row.title,
            start: row.start_at,
            end: row.end_at,
            source: BookingSource::from_label(&row.source)?,
            status: BookingStatus::from_label(&row.status)?,
            checked_in_at: row.checked_in_at,
            release_at: row.release_at,
            created_at: row.created_at,
            series_id: row.series_id.map(BookingSeriesId),
        })
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = devices, check_for_backend(diesel::pg::Pg), treat_none_as_null = true)]
pub(crate) struct DeviceRow {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub site_id: Uuid,
    pub room_id: Option<Uuid>,
    pub name: String,
    pub token_hash: String,
    pub registered_by: Uuid,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<&Device> for DeviceRow {
    fn from(d: &Device) -> Self {
        DeviceRow {
            id: d.id.0,
            organization_id: d.organization_id.0,
            site_id: d.site_id.0,
            room_id: d.room_id.map(|id| id.0),
            name: d.name.as_str().to_owned(),
            token_hash: d.token_hash.expose().to_owned(),
            registered_by: d.registered_by.0,
            revoked_at: d.revoked_at,
            created_at: d.created_at,
        }
    }
}

impl TryFrom<DeviceRow> for Device {
    type Error = concierge_domain::storage::StorageError;

    fn try_from(row: DeviceRow) -> StorageResult<Self> {
        Ok(Device {
            id: DeviceId(row.id),
            organization_id: OrganizationId(row.organization_id),
            site_id: SiteId(row.site_id),
            room_id: row.room_id.map(RoomId),
            name: name("device name", &row.name)?,
            token_hash: Secret::new(row.token_hash),
            registered_by: UserId(row.registered_by),
            revoked_at: row.revoked_at,
            created_at: row.created_at,
        })
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = invitations, check_for_backend(diesel::pg::Pg), treat_none_as_null = true)]
pub(crate) struct InvitationRow {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub user_id: Uuid,
    pub email: String,
    pub token_hash: String,
    pub accepted_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
}

impl From<&Invitation> for InvitationRow {
    fn from(i: &Invitation) -> Self {
        InvitationRow {
            id: i.id.0,
            organization_id: i.organization_id.0,
            user_id: i.user_id.0,
            email: i.email.as_str().to_owned(),
            token_hash: i.token_hash.expose().to_owned(),
            accepted_at: i.accepted_at,
            revoked_at: i.revoked_at,
            expires_at: i.expires_at,
            created_by: i.created_by.0,
            created_at: i.created_at,
        }
    }
}

impl TryFrom<InvitationRow> for Invitation {
    type Error = concierge_domain::storage::StorageError;

    fn try_from(row: InvitationRow) -> StorageResult<Self> {
        Ok(Invitation {
            id: InvitationId(row.id),
            organization_id: OrganizationId(row.organization_id),
            user_id: UserId(row.user_id),
            email: required_email(&row.email)?,
            token_hash: Secret::new(row.token_hash),
            accepted_at: row.accepted_at,
            revoked_at: row.revoked_at,
            expires_at: row.expires_at,
            created_by: UserId(row.created_by),
            created_at: row.created_at,
        })
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = password_resets, check_for_backend(diesel::pg::Pg), treat_none_as_null = true)]
pub(crate) struct PasswordResetRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub token_hash: String,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<&PasswordResetToken> for PasswordResetRow {
    fn from(r: &PasswordResetToken) -> Self {
        PasswordResetRow {
            id: r.id.0,
            user_id: r.user_id.0,
            token_hash: r.token_hash.expose().to_owned(),
            expires_at: r.expires_at,
            used_at: r.used_at,
            created_at: r.created_at,
        }
    }
}

impl From<PasswordResetRow> for PasswordResetToken {
    fn from(row: PasswordResetRow) -> Self {
        PasswordResetToken {
            id: PasswordResetId(row.id),
            user_id: UserId(row.user_id),
            token_hash: Secret::new(row.token_hash),
            expires_at: row.expires_at,
            used_at: row.used_at,
            created_at: row.created_at,
        }
    }
}

/// An outbox message. Also `QueryableByName`: the claim is raw SQL (see `queries::emails`).
/// No `Debug`, as the entity shows none of its parameters.
#[derive(Clone, Queryable, QueryableByName, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = outbox_emails, check_for_backend(diesel::pg::Pg), treat_none_as_null = true)]
pub(crate) struct OutboxEmailRow {
    pub id: Uuid,
    pub organization_id: Option<Uuid>,
    pub recipient: String,
    pub language: String,
    pub kind: String,
    pub sealed_params: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub abandoned_at: Option<DateTime<Utc>>,
}

impl From<&OutboundEmail> for OutboxEmailRow {
    fn from(e: &OutboundEmail) -> Self {
        OutboxEmailRow {
            id: e.id.0,
            organization_id: e.organization_id.map(|id| id.0),
            recipient: e.to.as_str().to_owned(),
            language: e.language.label().to_owned(),
            kind: e.kind.label().to_owned(),
            sealed_params: e.sealed_params.clone(),
            attempts: e.attempts,
            next_attempt_at: e.next_attempt_at,
            sent_at: e.sent_at,
            last_error: e.last_error.clone(),
            created_at: e.created_at,
            abandoned_at: e.abandoned_at,
        }
    }
}

impl TryFrom<OutboxEmailRow> for OutboundEmail {
    type Error = concierge_domain::storage::StorageError;

    fn try_from(row: OutboxEmailRow) -> StorageResult<Self> {
        Ok(OutboundEmail {
            id: EmailId(row.id),
            organization_id: row.organization_id.map(OrganizationId),
            to: required_email(&row.recipient)?,
            language: Language::from_label(&row.language)?,
            kind: EmailKind::from_label(&row.kind)?,
            sealed_params: row.sealed_params,
            attempts: row.attempts,
            next_attempt_at: row.next_attempt_at,
            sent_at: row.sent_at,
            abandoned_at: row.abandoned_at,
            last_error: row.last_error,
            created_at: row.created_at,
        })
    }
}
