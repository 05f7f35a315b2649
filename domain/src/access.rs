//! Who is acting, and how far their reach goes (DESIGN.md §3): their own organization, the
//! organizations they act for (a partner's clients, the platform's partners), and within those
//! the sites they may use.

use std::collections::BTreeSet;

use tokio::sync::OnceCell;

use crate::error::{DomainError, DomainResult};
use crate::ids::{OrganizationId, RoomId, SessionId, SiteId, UserId};
use crate::model::{Device, Organization, Profile, Room, SiteGroup, User};
use crate::permissions::{AccessLevel, ClientsPermission, Permissions};
use crate::storage::Reads;

/// An authenticated person, resolved freshly for each request.
#[derive(Debug)]
pub struct Actor {
    pub user: User,
    pub organization: Organization,
    pub permissions: Permissions,
    pub session_id: Option<SessionId>,
    /// The client's address, for the audit log and throttles.
    pub ip: Option<String>,
    /// Set when a room tablet acts: it reaches only its site (or its one room), on behalf of
    /// the person who registered it.
    pub device: Option<Device>,
    /// Their organization requires a second factor of them and they have none yet: they may
    /// only enrol one (see [`Authenticated::for_second_factor_enrollment`]), see themselves and
    /// sign out.
    pub must_enroll_second_factor: bool,
    /// The person's profile, when authentication read it: never read again in the request.
    pub own_profile: Option<Profile>,
    /// The sites granted to the user, computed once per request.
    granted_sites: OnceCell<BTreeSet<SiteId>>,
}

/// A signed-in person as the bearer token proves them. Someone whose password must change first
/// (a temporary password, a PIN set by an administrator) gets no [`Actor`] for ordinary
/// operations: only for seeing themselves, changing the password and signing out.
#[derive(Debug, Clone)]
pub struct Authenticated(std::sync::Arc<Actor>);

/// Why [`Authenticated::actor`] refuses.
pub const PASSWORD_CHANGE_REQUIRED: &str = "you must change your password first (changePassword)";

/// Why a room tablet's token is refused (every operation but those of the room display).
pub const TABLET_LIMITED: &str = "a room tablet's token only reads its rooms' schedules and events and books with a person's code";

/// What a bearer token may do (DESIGN.md §3, §4), decided here for every operation: a person
/// gets an [`Actor`] for anything (see [`Authenticated::actor`]); a room tablet only for what
/// the room display does (see [`Authenticated::for_room_display`]), and is FORBIDDEN the rest.
impl Authenticated {
    pub fn new(actor: Actor) -> Self {
        Authenticated(std::sync::Arc::new(actor))
    }

    /// The actor for any operation of a person; FORBIDDEN for a room tablet and while a password
    /// change is pending.
    pub fn actor(&self) -> DomainResult<std::sync::Arc<Actor>> {
        self.require_person()?;
        if self.0.user.must_change_password {
            return Err(DomainError::forbidden(PASSWORD_CHANGE_REQUIRED));
        }
        if self.0.must_enroll_second_factor {
            return Err(DomainError::forbidden(
                crate::ops::SECOND_FACTOR_ENROLLMENT_REQUIRED,
            ));
        }
        Ok(std::sync::Arc::clone(&self.0))
    }

    /// The actor for enrolling a second factor (and seeing one's own): open to a person who
    /// must enrol before anything else; FORBIDDEN for a room tablet.
    pub fn for_second_factor_enrollment(&self) -> DomainResult<std::sync::Arc<Actor>> {
        self.require_person()?;
        Ok(std::sync::Arc::clone(&self.0))
    }

    /// The actor for what a room tablet needs, and only that: its rooms (or room), their
    /// schedules, bookings and booking events, booking with a person's code, checking in,
    /// extending or ending a booking with its holder's code, and the free rooms of its own site.
    /// A person gets the same actor as from [`Authenticated::actor`].
    pub fn for_room_display(&self) -> DomainResult<std::sync::Arc<Actor>> {
        if self.0.device.is_some() {
            return Ok(std::sync::Arc::clone(&self.0));
        }
        self.actor()
    }

    /// The actor for `me`, `changePassword` and `logout`, which stay open during a pending
    /// change; FORBIDDEN for a room tablet (it is nobody's session: it must not read nor change
    /// the details or password of the person who registered it).
    pub fn even_with_pending_password_change(&self) -> DomainResult<std::sync::Arc<Actor>> {
        self.require_person()?;
        Ok(std::sync::Arc::clone(&self.0))
    }

    /// The actor whose visibility rules govern the relations of what was allowed at the root
    /// (DataLoaders): anyone authenticated, a tablet included (its reads are scoped to its site
    /// and show people by their names only).
    pub fn reader(&self) -> std::sync::Arc<Actor> {
        std::sync::Arc::clone(&self.0)
    }

    fn require_person(&self) -> DomainResult<()> {
        self.0.require_person()
    }
}

/// How the actor relates to an organization it can see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    Own,
    /// A direct child organization: a partner's client, or a partner for the platform.
    Client {
        manage: bool,
    },
}

/// Which sites of one organization the actor may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiteAccess {
    All,
    Only(BTreeSet<SiteId>),
}

impl SiteAccess {
    pub fn allows(&self, site: SiteId) -> bool {
        match self {
            SiteAccess::All => true,
            SiteAccess::Only(sites) => sites.contains(&site),
        }
    }
}

impl Actor {
    pub fn new(
        user: User,
        organization: Organization,
        permissions: Permissions,
        session_id: Option<SessionId>,
        ip: Option<String>,
    ) -> Self {
        Actor {
            user,
            organization,
            permissions,
            session_id,
            ip,
            device: None,
            must_enroll_second_factor: false,
            own_profile: None,
            granted_sites: OnceCell::new(),
        }
    }

    /// Records the site groups granted to the user, read with them: their sites are then known
    /// without another read (see [`Actor::site_access`]).
    pub fn know_site_groups(&mut self, groups: &[SiteGroup]) {
        let sites = effective_sites(&self.user, groups);
        self.granted_sites = OnceCell::new_with(Some(sites));
    }

    /// A room tablet acting for its registrant: it reads its site's rooms (or its one room) and
    /// books only through `createBookingWithCode`.
    pub fn for_device(
        registrant: User,
        organization: Organization,
        device: Device,
        ip: Option<String>,
    ) -> Self {
        let permissions = Permissions {
            rooms: AccessLevel::Read,
            ..Permissions::none()
        };
        let mut actor = Actor::new(registrant, organization, permissions, None, ip);
        actor.device = Some(device);
        actor
    }

    /// FORBIDDEN for a room tablet: for what only a person may do for themselves.
    pub fn require_person(&self) -> DomainResult<()> {
        match self.device {
            Some(_) => Err(DomainError::forbidden(TABLET_LIMITED)),
            None => Ok(()),
        }
    }

    /// Whether the actor is the person `id` acting for themselves (never a tablet, which acts
    /// for its registrant without being them).
    pub fn is_self(&self, id: UserId) -> bool {
        self.device.is_none() && self.user.id == id
    }

    /// Whether `profile`'s permission set may be shown to the actor: with `profiles: READ`, or
    /// their own profile (DESIGN.md §3). A tablet sees none.
    pub fn may_see_permissions_of(&self, profile: &Profile) -> bool {
        self.device.is_none()
            && (self.permissions.profiles >= AccessLevel::Read
                || profile.id == self.user.profile_id)
    }

    /// Whether a tablet scoped to one room may see `room` (always true for people).
    pub fn allows_room(&self, room: &Room) -> bool {
        self.allows_room_id(room.id, room.site_id)
    }

    /// [`Actor::allows_room`] for the room `room` of site `site`.
    pub fn allows_room_id(&self, room: RoomId, site: SiteId) -> bool {
        self.device
            .as_ref()
            .is_none_or(|d| d.site_id == site && d.room_id.is_none_or(|r| r == room))
    }

    /// How the actor reaches `org`, or `None` when it is invisible to them.
    pub fn reach(&self, org: &Organization) -> Option<Reach> {
        self.reach_by_ids(org.id, org.parent_id)
    }

    pub fn reach_by_ids(
        &self,
        org: OrganizationId,
        parent: Option<OrganizationId>,
    ) -> Option<Reach> {
        if org == self.organization.id {
            return Some(Reach::Own);
        }
        if parent == Some(self.organization.id)
            && self.permissions.clients >= ClientsPermission::Read
        {
            return Some(Reach::Client {
                manage: self.permissions.clients == ClientsPermission::Manage,
            });
        }
        None
    }

    pub fn can_read_in(&self, org: &Organization) -> bool {
        self.reach(org).is_some()
    }

    /// NOT_FOUND when the organization is invisible, FORBIDDEN when it may only be read.
    pub fn require_write_in(&self, org: &Organization) -> DomainResult<()> {
        match self.reach(org) {
            None => Err(DomainError::NotFound("organization")),
            Some(_) => self.require_write_in_seen(org.id),
        }
    }

    /// [`Actor::require_write_in`] for an organization already known to be in reach (an object
    /// of it was seen): one's own, or a client's with `clients: MANAGE`.
    pub fn require_write_in_seen(&self, org: OrganizationId) -> DomainResult<()> {
        if org == self.organization.id || self.permissions.clients == ClientsPermission::Manage {
            Ok(())
        } else {
            Err(DomainError::forbidden(
                "your access to this client organization is read-only (clients: READ)",
            ))
        }
    }

    pub fn require<T: PartialOrd + std::fmt::Debug>(
        &self,
        area: &str,
        held: T,
        needed: T,
    ) -> DomainResult<()> {
        if held >= needed {
            Ok(())
        } else {
            Err(DomainError::forbidden(format!(
                "your profile does not allow this ({area}: {held:?} needed {needed:?})"
            )))
        }
    }

    /// The sites the actor may use in `org` (which the caller has checked is visible).
    pub async fn site_access(
        &self,
        store: &dyn Reads,
        org: OrganizationId,
    ) -> DomainResult<SiteAccess> {
        if let Some(device) = &self.device {
            let sites = if device.organization_id == org {
                BTreeSet::from([device.site_id])
            } else {
                BTreeSet::new()
            };
            return Ok(SiteAccess::Only(sites));
        }
        if self.permissions.sites >= AccessLevel::Edit {
            return Ok(SiteAccess::All);
        }
        if org != self.organization.id {
            return Ok(SiteAccess::Only(BTreeSet::new()));
        }
        let granted = self
            .granted_sites
            .get_or_try_init(|| async { effective_site_ids(store, &self.user).await })
            .await?;
        Ok(SiteAccess::Only(granted.clone()))
    }
}

/// A user's sites: granted directly or through a site group, computed at read time.
pub async fn effective_site_ids(store: &dyn Reads, user: &User) -> DomainResult<BTreeSet<SiteId>> {
    let groups = if user.site_group_ids.is_empty() {
        Vec::new()
    } else {
        store.site_groups_by_ids(&user.site_group_ids).await?
    };
    Ok(effective_sites(user, &groups))
}

/// The one rule of a person's sites: those granted directly, and those of the site groups
/// granted to them that belong to their organization. `groups` may hold other groups too.
pub fn effective_sites(user: &User, groups: &[SiteGroup]) -> BTreeSet<SiteId> {
    let mut sites: BTreeSet<SiteId> = user.site_ids.iter().copied().collect();
    for group in groups {
        if user.site_group_ids.contains(&group.id) && group.organization_id == user.organization_id
        {
            sites.extend(group.site_ids.iter().copied());
        }
    }
    sites
}
