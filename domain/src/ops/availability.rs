//! Finding a room (issue 14, item 2): the rooms of a site, or of a site group, that the caller
//! could book for themselves right now for `[start, end)`. Every rule is the booking's own:
//! the sites the caller may use ([`Actor::site_access`], as `create_booking` decides for a
//! person booking for themselves), `bookings` ≥ SELF, the room's policy in its site's time zone
//! ([`check_policy`]) and no confirmed booking overlapping (back-to-back is free).
//!
//! Cost: whatever the number of rooms, one read for the sites with their rooms
//! ([`Reads::sites_with_rooms`](crate::storage::Reads::sites_with_rooms)) and one for the busy
//! ones among the candidates ([`Reads::busy_rooms`](crate::storage::Reads::busy_rooms)); a site
//! group adds the read of the group.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use crate::access::Actor;
use crate::booking_rules::check_policy;
use crate::error::{DomainError, DomainResult};
use crate::ids::{RoomId, SiteGroupId, SiteId};
use crate::model::*;
use crate::ops::Domain;
use crate::permissions::BookingsPermission;
use crate::values::Name;

/// What `availableRooms` asks: exactly one of `site_id` and `site_group_id`.
#[derive(Debug, Clone, Default)]
pub struct RoomSearch {
    pub site_id: Option<SiteId>,
    pub site_group_id: Option<SiteGroupId>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// At least this many seats; a room of unknown capacity only matches none (or 0).
    pub min_capacity: Option<i32>,
    /// Every one of these (compared without regard to case).
    pub equipment: Vec<String>,
}

/// The most equipment items one search may ask for (as many as a room may have).
const EQUIPMENT_MAX: usize = 50;

struct Wanted {
    scope: Scope,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    min_capacity: i32,
    equipment: Vec<String>,
}

enum Scope {
    Site(SiteId),
    Group(SiteGroupId),
}

fn parse(search: RoomSearch) -> DomainResult<Wanted> {
    let scope = match (search.site_id, search.site_group_id) {
        (Some(site), None) => Scope::Site(site),
        (None, Some(group)) => Scope::Group(group),
        (Some(_), Some(_)) => {
            return Err(DomainError::validation(
                "siteGroupId",
                "give either siteId or siteGroupId, not both",
            ));
        }
        (None, None) => {
            return Err(DomainError::validation(
                "siteId",
                "give either siteId or siteGroupId",
            ));
        }
    };
    let (start, end) = (search.start, search.end);
    if end <= start {
        return Err(DomainError::validation("end", "must be after start"));
    }
    let min_capacity = search.min_capacity.unwrap_or(0);
    if min_capacity < 0 {
        return Err(DomainError::validation(
            "minCapacity",
            "must not be negative",
        ));
    }
    if search.equipment.len() > EQUIPMENT_MAX {
        return Err(DomainError::validation(
            "equipment",
            format!("at most {EQUIPMENT_MAX} items"),
        ));
    }
    let mut equipment = Vec::with_capacity(search.equipment.len());
    for item in &search.equipment {
        let item = Name::parse("equipment", item)?.to_string().to_lowercase();
        if !equipment.contains(&item) {
            equipment.push(item);
        }
    }
    Ok(Wanted {
        scope,
        start,
        end,
        min_capacity,
        equipment,
    })
}

impl Wanted {
    fn fits(&self, room: &Room) -> bool {
        let seats = self.min_capacity == 0 || room.capacity.is_some_and(|c| c >= self.min_capacity);
        seats
            && self.equipment.iter().all(|wanted| {
                room.equipment
                    .iter()
                    .any(|item| item.to_lowercase() == *wanted)
            })
    }
}

impl Domain {
    /// The rooms of a site or site group that the actor could book for themselves for
    /// `[start, end)`: free for the whole interval and allowed by their policy, smallest
    /// adequate capacity first (then by name). NOT_FOUND for a site or group the actor may not
    /// see; FORBIDDEN without `bookings` ≥ SELF.
    ///
    /// A room tablet (its "Find a room" panel) may search its own site only, and there sees
    /// every free room, its own room's scope notwithstanding: the person at its door books
    /// with their code, under their own rights, wherever they go.
    pub async fn available_rooms(
        &self,
        actor: &Actor,
        search: RoomSearch,
    ) -> DomainResult<Vec<Room>> {
        let wanted = parse(search)?;
        let tablet = actor.device.as_ref().map(|device| device.site_id);
        if let Some(own) = tablet
            && !matches!(wanted.scope, Scope::Site(site) if site == own)
        {
            return Err(DomainError::NotFound("site"));
        }
        let found = match wanted.scope {
            Scope::Site(id) => {
                let found = self.store.sites_with_rooms(&[id]).await?;
                if found.is_empty() {
                    return Err(DomainError::NotFound("site"));
                }
                found
            }
            Scope::Group(id) => {
                let group = self
                    .store
                    .site_group(id)
                    .await?
                    .ok_or(DomainError::NotFound("site group"))?;
                let visible = group.organization_id == actor.organization.id
                    || !self
                        .load_organizations(actor, &[group.organization_id])
                        .await?
                        .is_empty();
                if !visible {
                    return Err(DomainError::NotFound("site group"));
                }
                self.store.sites_with_rooms(&group.site_ids).await?
            }
        };
        // The sites the actor may use, as for reading them (NOT_FOUND for a single site that
        // is not one of them).
        let (sites, mut rooms): (Vec<Site>, Vec<Vec<Room>>) = found.into_iter().unzip();
        let usable: BTreeSet<SiteId> = self
            .visible_sites(actor, sites.clone())
            .await?
            .iter()
            .map(|site| site.id)
            .collect();
        if usable.is_empty() && matches!(wanted.scope, Scope::Site(_)) {
            return Err(DomainError::NotFound("site"));
        }
        if tablet.is_none() {
            actor.require(
                "bookings",
                actor.permissions.bookings,
                BookingsPermission::SelfOnly,
            )?;
        }
        // A person books for themselves only in their own organization's rooms (see `book`).
        let now = self.now();
        let mut candidates: Vec<Room> = Vec::new();
        for (site, rooms) in sites.iter().zip(rooms.iter_mut()) {
            if !usable.contains(&site.id)
                || site.organization_id != actor.user.organization_id
                || actor.require_write_in_seen(site.organization_id).is_err()
            {
                continue;
            }
            candidates.extend(std::mem::take(rooms).into_iter().filter(|room| {
                (tablet.is_some() || actor.allows_room(room))
                    && wanted.fits(room)
                    && check_policy(room, site.time_zone, wanted.start, wanted.end, now).is_ok()
            }));
        }
        if candidates.is_empty() {
            return Ok(vec![]);
        }
        let ids: Vec<RoomId> = candidates.iter().map(|r| r.id).collect();
        let busy: BTreeSet<RoomId> = self
            .store
            .busy_rooms(&ids, wanted.start, wanted.end)
            .await?
            .into_iter()
            .collect();
        candidates.retain(|room| !busy.contains(&room.id));
        candidates.sort_by(|a, b| {
            let seats = |r: &Room| r.capacity.unwrap_or(i32::MAX);
            seats(a)
                .cmp(&seats(b))
                .then_with(|| a.name.to_string().cmp(&b.name.to_string()))
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(candidates)
    }
}
