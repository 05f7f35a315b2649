use chrono::{DateTime, Duration, Utc};
use concierge_domain::ids::{BookingId, RoomId, SiteId};
use concierge_domain::model::{Room, RoomForBooking, Site};
use concierge_domain::storage::StorageResult;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::{Conn, concierge_overlapping_booking_ids, convert, expect_one};
use crate::errors::IntoStorage;
use crate::rows::{RoomRow, SiteRow};
use crate::schema::{rooms, sites};

pub(crate) async fn by_id(conn: &mut Conn, id: RoomId) -> StorageResult<Option<Room>> {
    let row = rooms::table
        .find(id.0)
        .select(RoomRow::as_select())
        .first(conn)
        .await
        .optional()
        .storage()?;
    row.map(Room::try_from).transpose()
}

pub(crate) async fn by_ids(conn: &mut Conn, ids: &[RoomId]) -> StorageResult<Vec<Room>> {
    let ids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
    let rows = rooms::table
        .filter(rooms::id.eq_any(ids))
        .order(rooms::id)
        .select(RoomRow::as_select())
        .load(conn)
        .await
        .storage()?;
    convert(rows)
}

pub(crate) async fn of_sites(conn: &mut Conn, site_ids: &[SiteId]) -> StorageResult<Vec<Room>> {
    let ids: Vec<Uuid> = site_ids.iter().map(|id| id.0).collect();
    let rows = rooms::table
        .filter(rooms::site_id.eq_any(ids))
        .order(rooms::id)
        .select(RoomRow::as_select())
        .load(conn)
        .await
        .storage()?;
    convert(rows)
}

/// The sites of `site_ids`, each with its rooms: one statement, `sites LEFT JOIN rooms`
/// (a site without rooms still answers), `sites.id = ANY($1)`.
pub(crate) async fn sites_with_rooms(
    conn: &mut Conn,
    site_ids: &[SiteId],
) -> StorageResult<Vec<(Site, Vec<Room>)>> {
    if site_ids.is_empty() {
        return Ok(vec![]);
    }
    let ids: Vec<Uuid> = site_ids.iter().map(|id| id.0).collect();
    let rows: Vec<(SiteRow, Option<RoomRow>)> = sites::table
        .left_join(rooms::table.on(rooms::site_id.eq(sites::id)))
        .filter(sites::id.eq_any(ids))
        .order((sites::id, rooms::id.nullable()))
        .select((SiteRow::as_select(), Option::<RoomRow>::as_select()))
        .load(conn)
        .await
        .storage()?;
    let mut found: Vec<(Site, Vec<Room>)> = Vec::new();
    for (site, room) in rows {
        if found.last().is_none_or(|(last, _)| last.id.0 != site.id) {
            found.push((Site::try_from(site)?, Vec::new()));
        }
        if let (Some(room), Some((_, rooms))) = (room, found.last_mut()) {
            rooms.push(Room::try_from(room)?);
        }
    }
    Ok(found)
}

pub(crate) async fn insert(conn: &mut Conn, room: &Room) -> StorageResult<()> {
    diesel::insert_into(rooms::table)
        .values(RoomRow::from(room))
        .execute(conn)
        .await
        .storage()?;
    Ok(())
}

pub(crate) async fn update(conn: &mut Conn, room: &Room) -> StorageResult<()> {
    let affected = diesel::update(rooms::table.find(room.id.0))
        .set(RoomRow::from(room))
        .execute(conn)
        .await
        .storage()?;
    expect_one("room", affected)
}

/// The row of `id`, locked until the transaction ends (`SELECT … FOR UPDATE`).
pub(crate) async fn lock(conn: &mut Conn, id: RoomId) -> StorageResult<Option<Room>> {
    let row = rooms::table
        .find(id.0)
        .select(RoomRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
        .storage()?;
    row.map(Room::try_from).transpose()
}

/// The room, its site and the ids of the room's confirmed bookings overlapping `[start, end)`
/// (bounded below like `bookings::of_room`, over the (room_id, start_at) index): one statement.
pub(crate) async fn for_booking(
    conn: &mut Conn,
    id: RoomId,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> StorageResult<Option<RoomForBooking>> {
    let earliest = start - Duration::minutes(concierge_domain::model::MAX_BOOKING_MINUTES);
    let overlapping = concierge_overlapping_booking_ids(rooms::id, earliest, start, end);
    let row: Option<(RoomRow, SiteRow, Vec<Uuid>)> = rooms::table
        .inner_join(sites::table.on(sites::id.eq(rooms::site_id)))
        .filter(rooms::id.eq(id.0))
        .select((RoomRow::as_select(), SiteRow::as_select(), overlapping))
        .first(conn)
        .await
        .optional()
        .storage()?;
    row.map(|(room, site, overlapping)| {
        Ok(RoomForBooking {
            room: Room::try_from(room)?,
            site: Site::try_from(site)?,
            overlapping: overlapping.into_iter().map(BookingId).collect(),
        })
    })
    .transpose()
}
