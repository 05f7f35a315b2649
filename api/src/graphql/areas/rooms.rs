//! Rooms and their booking policy.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use concierge_domain as d;

use crate::graphql::context::{acting, acting_for_room_display};
use crate::graphql::errors::{GqlResult, nullable, parse_id, parse_opt_id};
use crate::graphql::types::*;

#[derive(InputObject, Clone)]
pub struct BookingPolicyInput {
    pub slot_minutes: Option<i32>,
    pub min_minutes: Option<i32>,
    pub max_minutes: Option<i32>,
    pub horizon_days: Option<i32>,
    /// Whether the holder must check in; `releaseAfterMinutes` (0 to 240, 10 by default) after
    /// the start a booking not checked in is released.
    pub check_in_required: Option<bool>,
    pub release_after_minutes: Option<i32>,
}

impl From<BookingPolicyInput> for d::PolicyChanges {
    fn from(p: BookingPolicyInput) -> Self {
        d::PolicyChanges {
            slot_minutes: p.slot_minutes,
            min_minutes: p.min_minutes,
            max_minutes: p.max_minutes,
            horizon_days: p.horizon_days,
            check_in_required: p.check_in_required,
            release_after_minutes: p.release_after_minutes,
        }
    }
}

#[derive(InputObject)]
pub struct CreateRoomInput {
    pub site_id: ID,
    pub name: String,
    pub capacity: Option<i32>,
    pub equipment: Option<Vec<String>>,
    pub bookable: Option<bool>,
    pub policy: Option<BookingPolicyInput>,
}

#[derive(InputObject)]
pub struct UpdateRoomInput {
    pub id: ID,
    pub name: Option<String>,
    pub capacity: Option<i32>,
    pub equipment: Option<Vec<String>>,
    pub bookable: Option<bool>,
    pub policy: Option<BookingPolicyInput>,
}

#[derive(SimpleObject)]
pub struct RoomPayload {
    pub room: RoomObject,
}

#[derive(Default)]
pub struct RoomsQuery;

#[Object]
impl RoomsQuery {
    async fn room(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<RoomObject>> {
        let (domain, actor) = acting_for_room_display(ctx)?;
        let result = match parse_id(&id, "room") {
            Ok(id) => domain.room(&actor, id).await,
            Err(_) => Err(concierge_domain::DomainError::NotFound("room")),
        };
        Ok(nullable(ctx, result)?.map(RoomObject))
    }

    async fn rooms(
        &self,
        ctx: &Context<'_>,
        site_id: ID,
    ) -> async_graphql::Result<Vec<RoomObject>> {
        let (domain, actor) = acting_for_room_display(ctx)?;
        let site_id = parse_id(&site_id, "site")?;
        Ok(domain
            .rooms(&actor, site_id)
            .await
            .gql()?
            .into_iter()
            .map(RoomObject)
            .collect())
    }

    /// The rooms of a site (`siteId`) or of a site group (`siteGroupId`; exactly one of the
    /// two) that the caller may book for themselves for the whole of `[start, end)`: free (no
    /// confirmed booking overlaps; back-to-back is free), allowed by the room's policy, with at
    /// least `minCapacity` seats and every item of `equipment`. Smallest adequate capacity
    /// first, then by name.
    #[allow(clippy::too_many_arguments)]
    async fn available_rooms(
        &self,
        ctx: &Context<'_>,
        site_id: Option<ID>,
        site_group_id: Option<ID>,
        start: DateTime,
        end: DateTime,
        min_capacity: Option<i32>,
        equipment: Option<Vec<String>>,
    ) -> async_graphql::Result<Vec<RoomObject>> {
        // A tablet too: its "Find a room" panel, on its own site (the domain decides).
        let (domain, actor) = acting_for_room_display(ctx)?;
        let search = d::RoomSearch {
            site_id: parse_opt_id(site_id.as_ref(), "site")?,
            site_group_id: parse_opt_id(site_group_id.as_ref(), "site group")?,
            start: start.0,
            end: end.0,
            min_capacity,
            equipment: equipment.unwrap_or_default(),
        };
        Ok(domain
            .available_rooms(&actor, search)
            .await
            .gql()?
            .into_iter()
            .map(RoomObject)
            .collect())
    }
}

#[derive(Default)]
pub struct RoomsMutation;

#[Object]
impl RoomsMutation {
    async fn create_room(
        &self,
        ctx: &Context<'_>,
        input: CreateRoomInput,
    ) -> async_graphql::Result<RoomPayload> {
        let (domain, actor) = acting(ctx)?;
        let site_id = parse_id(&input.site_id, "site")?;
        let fields = d::RoomFields {
            name: Some(input.name),
            capacity: input.capacity,
            equipment: input.equipment,
            bookable: input.bookable,
            policy: input.policy.map(Into::into),
        };
        Ok(RoomPayload {
            room: RoomObject(domain.create_room(&actor, site_id, fields).await.gql()?),
        })
    }

    async fn update_room(
        &self,
        ctx: &Context<'_>,
        input: UpdateRoomInput,
    ) -> async_graphql::Result<RoomPayload> {
        let (domain, actor) = acting(ctx)?;
        let id = parse_id(&input.id, "room")?;
        let fields = d::RoomFields {
            name: input.name,
            capacity: input.capacity,
            equipment: input.equipment,
            bookable: input.bookable,
            policy: input.policy.map(Into::into),
        };
        Ok(RoomPayload {
            room: RoomObject(domain.update_room(&actor, id, fields).await.gql()?),
        })
    }
}
