//! Meeting rooms of a site, with their booking policy.

use crate::access::Actor;
use crate::error::{DomainError, DomainResult};
use crate::ids::{OrganizationId, RoomId, SiteId};
use crate::model::*;
use crate::ops::Domain;
use crate::permissions::AccessLevel;
use crate::values::Name;

#[derive(Debug, Clone, Default)]
pub struct PolicyChanges {
    pub slot_minutes: Option<i32>,
    pub min_minutes: Option<i32>,
    pub max_minutes: Option<i32>,
    pub horizon_days: Option<i32>,
    pub check_in_required: Option<bool>,
    pub release_after_minutes: Option<i32>,
}

#[derive(Debug, Clone, Default)]
pub struct RoomFields {
    pub name: Option<String>,
    pub capacity: Option<i32>,
    pub equipment: Option<Vec<String>>,
    pub bookable: Option<bool>,
    pub policy: Option<PolicyChanges>,
}

const EQUIPMENT_MAX: usize = 50;

fn parse_equipment(raw: &[String]) -> DomainResult<Vec<String>> {
    if raw.len() > EQUIPMENT_MAX {
        return Err(DomainError::validation(
            "equipment",
            format!("at most {EQUIPMENT_MAX} items"),
        ));
    }
    let mut items = Vec::with_capacity(raw.len());
    for item in raw {
        let name = Name::parse("equipment", item)?.to_string();
        if !items.contains(&name) {
            items.push(name);
        }
    }
    Ok(items)
}

fn parse_capacity(raw: Option<i32>) -> DomainResult<Option<i32>> {
    match raw {
        Some(n) if !(1..=10_000).contains(&n) => Err(DomainError::validation(
            "capacity",
            "must be between 1 and 10000",
        )),
        other => Ok(other),
    }
}

fn apply_policy(
    policy: BookingPolicy,
    changes: Option<&PolicyChanges>,
) -> DomainResult<BookingPolicy> {
    let c = changes.cloned().unwrap_or_default();
    policy
        .with_changes(c.slot_minutes, c.min_minutes, c.max_minutes, c.horizon_days)?
        .with_check_in(c.check_in_required, c.release_after_minutes)
}

impl Domain {
    pub async fn room(&self, actor: &Actor, id: RoomId) -> DomainResult<Room> {
        self.room_and_site(actor, id).await.map(|(room, _)| room)
    }

    /// A room the actor may see, with its site (read once for both).
    pub(crate) async fn room_and_site(
        &self,
        actor: &Actor,
        id: RoomId,
    ) -> DomainResult<(Room, Site)> {
        let room = self
            .store
            .room(id)
            .await?
            .filter(|room| actor.allows_room(room))
            .ok_or(DomainError::NotFound("room"))?;
        let site = self
            .site(actor, room.site_id)
            .await
            .map_err(|_| DomainError::NotFound("room"))?;
        Ok((room, site))
    }

    /// A room the actor may see, to book for `[start, end)`: with its site and the confirmed
    /// bookings overlapping that interval, all in one read.
    pub(crate) async fn room_for_booking(
        &self,
        actor: &Actor,
        id: RoomId,
        start: chrono::DateTime<chrono::Utc>,
        end: chrono::DateTime<chrono::Utc>,
    ) -> DomainResult<RoomForBooking> {
        let found = self
            .store
            .room_for_booking(id, start, end)
            .await?
            .filter(|found| actor.allows_room(&found.room))
            .ok_or(DomainError::NotFound("room"))?;
        // The site's visibility, as `site` decides it, without reading the site again.
        let visible = self
            .visible_sites(actor, vec![found.site.clone()])
            .await?
            .pop()
            .is_some();
        if !visible {
            return Err(DomainError::NotFound("room"));
        }
        Ok(found)
    }

    pub async fn load_rooms(&self, actor: &Actor, ids: &[RoomId]) -> DomainResult<Vec<Room>> {
        let rooms = self.store.rooms_by_ids(ids).await?;
        // A room carries its site and organization: visibility needs no further read.
        let placed: Vec<(SiteId, OrganizationId)> = rooms
            .iter()
            .map(|r| (r.site_id, r.organization_id))
            .collect();
        let visible = self.visible_site_ids(actor, &placed).await?;
        Ok(rooms
            .into_iter()
            .filter(|r| visible.contains(&r.site_id) && actor.allows_room(r))
            .collect())
    }

    /// The rooms of a site the actor may use.
    pub async fn rooms(&self, actor: &Actor, site_id: SiteId) -> DomainResult<Vec<Room>> {
        let site = self.site(actor, site_id).await?;
        let rooms = self.store.rooms_of_sites(&[site.id]).await?;
        Ok(rooms.into_iter().filter(|r| actor.allows_room(r)).collect())
    }

    /// Rooms of many sites at once (DataLoader batches for `Site.rooms`).
    /// The rooms of sites the caller already holds (each with its organization, as stored):
    /// the sites' visibility is decided again on those ids, and a room is kept only if it
    /// belongs to the organization its site was given with (a key is checked, not trusted).
    pub async fn load_rooms_of_sites(
        &self,
        actor: &Actor,
        sites: &[(SiteId, OrganizationId)],
    ) -> DomainResult<Vec<Room>> {
        let visible = self.visible_site_ids(actor, sites).await?;
        if visible.is_empty() {
            return Ok(vec![]);
        }
        let rooms = self.store.rooms_of_sites(&visible).await?;
        Ok(rooms
            .into_iter()
            .filter(|r| {
                actor.allows_room(r)
                    && sites
                        .iter()
                        .any(|(site, org)| *site == r.site_id && *org == r.organization_id)
            })
            .collect())
    }

    async fn require_room_editor(&self, actor: &Actor, site: &Site) -> DomainResult<()> {
        let org = self
            .organization_of(&*self.store, site.organization_id)
            .await?;
        actor.require_write_in(&org)?;
        actor.require("rooms", actor.permissions.rooms, AccessLevel::Edit)
    }

    pub async fn create_room(
        &self,
        actor: &Actor,
        site_id: SiteId,
        fields: RoomFields,
    ) -> DomainResult<Room> {
        let site = self.site(actor, site_id).await?;
        self.require_room_editor(actor, &site).await?;
        let room = Room {
            id: RoomId::new(),
            site_id: site.id,
            organization_id: site.organization_id,
            name: Name::parse("name", fields.name.as_deref().unwrap_or_default())?,
            capacity: parse_capacity(fields.capacity)?,
            equipment: parse_equipment(fields.equipment.as_deref().unwrap_or_default())?,
            bookable: fields.bookable.unwrap_or(true),
            policy: apply_policy(BookingPolicy::default(), fields.policy.as_ref())?,
            created_at: self.now(),
        };
        let mut tx = self.store.begin().await?;
        tx.insert_room(&room).await?;
        tx.insert_audit_event(&self.audit(
            Some(actor),
            Some(room.organization_id),
            "room.created",
            Some(("Room", room.id.to_string())),
        ))
        .await?;
        tx.commit().await?;
        Ok(room)
    }

    pub async fn update_room(
        &self,
        actor: &Actor,
        id: RoomId,
        fields: RoomFields,
    ) -> DomainResult<Room> {
        let current = self.room(actor, id).await?;
        let site = self.site(actor, current.site_id).await?;
        self.require_room_editor(actor, &site).await?;
        self.retrying("id", || self.update_room_once(actor, id, &fields))
            .await
    }

    async fn update_room_once(
        &self,
        actor: &Actor,
        id: RoomId,
        fields: &RoomFields,
    ) -> DomainResult<Room> {
        let mut tx = self.store.begin().await?;
        let mut room = tx
            .lock_room(id)
            .await?
            .ok_or(DomainError::NotFound("room"))?;
        let current = Room::clone(&room);
        if let Some(raw) = fields.name.as_deref() {
            room.name = Name::parse("name", raw)?;
        }
        if fields.capacity.is_some() {
            room.capacity = parse_capacity(fields.capacity)?;
        }
        if let Some(raw) = fields.equipment.as_deref() {
            room.equipment = parse_equipment(raw)?;
        }
        if let Some(bookable) = fields.bookable {
            room.bookable = bookable;
        }
        room.policy = apply_policy(current.policy, fields.policy.as_ref())?;
        if *room == current {
            return Ok(current);
        }
        tx.update_room(&room).await?;
        tx.insert_audit_event(&self.audit(
            Some(actor),
            Some(room.organization_id),
            "room.updated",
            Some(("Room", id.to_string())),
        ))
        .await?;
        tx.commit().await?;
        Ok(room.into_inner())
    }
}
