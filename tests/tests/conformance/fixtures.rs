//! Entities for the cases: valid, consistent graphs (the Postgres backend checks foreign keys),
//! with timestamps at microsecond precision (what PostgreSQL stores).

use chrono::{DateTime, Duration, Utc};
use concierge_domain::ids::*;
use concierge_domain::model::*;
use concierge_domain::permissions::*;
use concierge_domain::storage::{Locked, Storage, StorageResult, Transaction};
use concierge_domain::values::{EmailAddress, Language, Name, Secret, TimeZone, Username};

pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).expect("now is in range")
}

/// A fixed instant plus `minutes`, for time-range cases.
pub fn at(minutes: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(1_767_225_600_000_000).expect("in range")
        + Duration::minutes(minutes)
}

pub fn name(raw: &str) -> Name {
    Name::parse("name", raw).expect("valid name")
}

pub fn email(raw: &str) -> EmailAddress {
    EmailAddress::parse("email", raw).expect("valid e-mail")
}

pub fn username(raw: &str) -> Username {
    Username::parse("username", raw).expect("valid username")
}

/// An organization and its built-in profile, which is its default.
#[derive(Debug, Clone)]
pub struct Org {
    pub org: Organization,
    pub enterprise: Profile,
}

impl Org {
    pub fn id(&self) -> OrganizationId {
        self.org.id
    }
}

pub fn organization(kind: OrganizationKind, parent: Option<&Org>, org_name: &str) -> Org {
    let id = OrganizationId::new();
    let enterprise = Profile {
        id: ProfileId::new(),
        organization_id: id,
        name: name(ENTERPRISE_PROFILE_NAME),
        built_in: true,
        permissions: Permissions::enterprise(kind),
        created_at: now(),
    };
    let org = Organization {
        id,
        kind,
        name: name(org_name),
        parent_id: parent.map(Org::id),
        admin_email: Some(email(&format!("admin@{}.test", id.0.simple()))),
        external_contact: Some("Front desk".into()),
        default_language: Language::Fr,
        time_zone: TimeZone::parse("timeZone", "Europe/Paris").expect("valid zone"),
        default_profile_id: enterprise.id,
        price_list_id: None,
        created_at: now(),
    };
    Org { org, enterprise }
}

pub fn profile(org: &Org, profile_name: &str, permissions: Permissions) -> Profile {
    Profile {
        id: ProfileId::new(),
        organization_id: org.id(),
        name: name(profile_name),
        built_in: false,
        permissions,
        created_at: now(),
    }
}

/// A mixed permission set, so every column round-trips a value other than the extremes.
pub fn reader_permissions() -> Permissions {
    Permissions {
        users: UsersPermission::InviteWithApproval,
        profiles: AccessLevel::Read,
        sites: AccessLevel::None,
        rooms: AccessLevel::Edit,
        bookings: BookingsPermission::SelfOnly,
        billing: AccessLevel::Read,
        clients: ClientsPermission::Read,
        audit: AuditPermission::Read,
        modules: [Module::Rooms, Module::Analytics].into_iter().collect(),
    }
}

pub fn site(org: &Org, site_name: &str) -> Site {
    Site {
        id: SiteId::new(),
        organization_id: org.id(),
        name: name(site_name),
        time_zone: TimeZone::parse("timeZone", "America/New_York").expect("valid zone"),
        address: Some("1 Main Street".into()),
        created_at: now(),
    }
}

/// A group holding `sites`, kept in id order as the domain does.
pub fn site_group(org: &Org, group_name: &str, sites: &[&Site]) -> SiteGroup {
    let mut site_ids: Vec<SiteId> = sites.iter().map(|s| s.id).collect();
    site_ids.sort();
    SiteGroup {
        id: SiteGroupId::new(),
        organization_id: org.id(),
        name: name(group_name),
        site_ids,
        created_at: now(),
    }
}

pub fn room(site: &Site, room_name: &str) -> Room {
    Room {
        id: RoomId::new(),
        site_id: site.id,
        organization_id: site.organization_id,
        name: name(room_name),
        capacity: Some(8),
        equipment: vec!["screen".into(), "whiteboard".into()],
        bookable: true,
        policy: BookingPolicy {
            slot_minutes: 30,
            min_minutes: 30,
            max_minutes: 240,
            horizon_days: 60,
            check_in_required: false,
            release_after_minutes: 10,
        },
        created_at: now(),
    }
}

pub fn price_list(org: &Org, list_name: &str, is_default: bool) -> PriceList {
    PriceList {
        id: PriceListId::new(),
        organization_id: org.id(),
        name: name(list_name),
        is_default,
        created_at: now(),
    }
}

/// A plain active user of `org` with the Enterprise profile; cases set what they need.
pub fn user(
    org: &Org,
    first: &str,
    last: &str,
    login_email: Option<&str>,
    login_username: Option<&str>,
) -> User {
    User {
        id: UserId::new(),
        organization_id: org.id(),
        first_name: name(first),
        last_name: name(last),
        email: login_email.map(email),
        username: login_username.map(username),
        language: Language::En,
        status: UserStatus::Active,
        profile_id: org.enterprise.id,
        site_ids: vec![],
        site_group_ids: vec![],
        default_site_id: None,
        external_contact: None,
        price_list_id: None,
        photo_url: None,
        password_hash: None,
        must_change_password: false,
        booking_code_hash: None,
        session_epoch: 0,
        created_by: None,
        created_at: now(),
    }
}

pub fn session(user: &User, token_hash: &str) -> Session {
    Session {
        id: SessionId::new(),
        user_id: user.id,
        refresh_token_hash: Secret::new(token_hash.into()),
        previous_token_hash: None,
        epoch: user.session_epoch,
        created_at: now(),
        expires_at: now() + Duration::days(30),
        revoked_at: None,
    }
}

pub fn audit_event(
    org: Option<&Org>,
    actor: Option<&User>,
    action: &str,
    when: DateTime<Utc>,
) -> AuditEvent {
    AuditEvent {
        id: AuditEventId::new(),
        at: when,
        actor_id: actor.map(|u| u.id),
        organization_id: org.map(Org::id),
        action: action.into(),
        target_type: Some("User".into()),
        target_id: actor.map(|u| u.id.to_string()),
        ip: Some("203.0.113.7".into()),
    }
}

pub async fn begin(store: &dyn Storage) -> Box<dyn Transaction + '_> {
    store.begin().await.expect("begin")
}

pub async fn commit(tx: Box<dyn Transaction + '_>) {
    tx.commit().await.expect("commit");
}

pub async fn insert_org(tx: &mut (dyn Transaction + '_), org: &Org) {
    tx.insert_organization(&org.org)
        .await
        .expect("insert organization");
    tx.insert_profile(&org.enterprise)
        .await
        .expect("insert its profile");
}

/// Commits `orgs` (with their profiles) in one transaction.
pub async fn seed_orgs(store: &dyn Storage, orgs: &[&Org]) {
    let mut tx = begin(store).await;
    for org in orgs {
        insert_org(&mut *tx, org).await;
    }
    commit(tx).await;
}

/// A platform, a partner and a company under it, committed.
pub async fn seed_tree(store: &dyn Storage) -> (Org, Org, Org) {
    let platform = organization(OrganizationKind::Platform, None, "Platform");
    let partner = organization(OrganizationKind::Partner, Some(&platform), "Partner");
    let company = organization(OrganizationKind::Company, Some(&partner), "Company");
    seed_orgs(store, &[&platform, &partner, &company]).await;
    (platform, partner, company)
}

/// `items` sorted by `key`, to compare results whose order the trait leaves open.
pub fn sorted<T, K: Ord>(mut items: Vec<T>, key: impl Fn(&T) -> K) -> Vec<T> {
    items.sort_by_key(|item| key(item));
    items
}

/// Writes a row as a case built it, the way operations must: locked in the transaction first,
/// then written back (`update_*` takes only what a locking read returned). A row that does not
/// exist is passed as it is, for the cases that prove an update of a missing row fails.
macro_rules! write_back {
    ($($method:ident($ty:ty, $update:ident, |$tx:ident, $row:ident| $lock:expr)),+ $(,)?) => {
        #[async_trait::async_trait]
        pub trait WriteBack {
            $(async fn $method(&mut self, row: &$ty) -> StorageResult<()>;)+
        }

        #[async_trait::async_trait]
        impl<T: Transaction + ?Sized> WriteBack for T {
            $(
                async fn $method(&mut self, row: &$ty) -> StorageResult<()> {
                    let ($tx, $row) = (&mut *self, row);
                    let mut locked = match $lock {
                        Some(locked) => locked,
                        None => return self.$update(&Locked::by_locking_read(row.clone())).await,
                    };
                    *locked = row.clone();
                    self.$update(&locked).await
                }
            )+
        }
    };
}

write_back! {
    write_back_organization(Organization, update_organization, |tx, row| tx.lock_organization(row.id).await?),
    write_back_profile(Profile, update_profile, |tx, row| tx.lock_profile(row.id).await?),
    write_back_site(Site, update_site, |tx, row| tx.lock_site(row.id).await?),
    write_back_site_group(SiteGroup, update_site_group, |tx, row| tx.lock_site_group(row.id).await?),
    write_back_room(Room, update_room, |tx, row| tx.lock_room(row.id).await?),
    write_back_price_list(PriceList, update_price_list, |tx, row| tx.lock_price_list(row.id).await?),
    write_back_user(User, update_user, |tx, row| tx.lock_user(row.id).await?),
    write_back_session(Session, update_session, |tx, row| tx.lock_session(row.id).await?),
    write_back_booking(Booking, update_booking, |tx, row| tx.lock_bookings(&[row.id]).await?.pop()),
    write_back_device(Device, update_device, |tx, row| tx.lock_device(row.id).await?),
    write_back_invitation(Invitation, update_invitation, |tx, row| tx.lock_invitations(&[row.id]).await?.pop()),
    write_back_password_reset(
        PasswordResetToken,
        update_password_reset,
        |tx, row| tx.lock_password_reset_by_token_hash(row.token_hash.expose()).await?
    ),
}
