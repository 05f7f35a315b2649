//! DataLoaders: relation fields of a page are fetched in one batched domain read per relation,
//! through the same visibility rules as single reads.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use concierge_domain::*;

pub struct DomainLoader {
    pub domain: Domain,
    pub actor: Arc<Actor>,
}

/// Key for "the organization owning a price list the caller sees".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PriceListOwner(pub OrganizationId);

impl Loader<PriceListOwner> for DomainLoader {
    type Value = Organization;
    type Error = DomainError;

    async fn load(
        &self,
        keys: &[PriceListOwner],
    ) -> Result<HashMap<PriceListOwner, Organization>, DomainError> {
        let ids: Vec<OrganizationId> = keys.iter().map(|k| k.0).collect();
        let owners = self
            .domain
            .load_price_list_owners(&self.actor, &ids)
            .await?;
        Ok(index(owners, |o| PriceListOwner(o.id)))
    }
}

/// Key for "a person met through a booking": the user, as far as the caller may see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Person(pub UserId);

impl Loader<Person> for DomainLoader {
    type Value = User;
    type Error = DomainError;

    async fn load(&self, keys: &[Person]) -> Result<HashMap<Person, User>, DomainError> {
        let ids: Vec<UserId> = keys.iter().map(|k| k.0).collect();
        let people = self.domain.load_people(&self.actor, &ids).await?;
        Ok(index(people, |user| Person(user.id)))
    }
}

/// Key for "the schedule of this room (of this site) on this day of the site's calendar".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RoomDay(pub RoomId, pub SiteId, pub chrono::NaiveDate);

impl Loader<RoomDay> for DomainLoader {
    type Value = Vec<Booking>;
    type Error = DomainError;

    async fn load(&self, keys: &[RoomDay]) -> Result<HashMap<RoomDay, Vec<Booking>>, DomainError> {
        let keys: Vec<(RoomId, SiteId, chrono::NaiveDate)> =
            keys.iter().map(|k| (k.0, k.1, k.2)).collect();
        let schedules = self.domain.load_room_schedules(&self.actor, &keys).await?;
        Ok(schedules
            .into_iter()
            .map(|((room, site, date), bookings)| (RoomDay(room, site, date), bookings))
            .collect())
    }
}

/// Key for "the rooms of this site (of this organization)".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RoomsOfSite(pub SiteId, pub OrganizationId);

fn index<K: Eq + Hash, V>(items: Vec<V>, key: impl Fn(&V) -> K) -> HashMap<K, V> {
    items.into_iter().map(|v| (key(&v), v)).collect()
}

macro_rules! by_id_loader {
    ($($key:ty => $value:ty, $method:ident;)+) => {$(
        impl Loader<$key> for DomainLoader {
            type Value = $value;
            type Error = DomainError;

            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, $value>, DomainError> {
                Ok(index(self.domain.$method(&self.actor, keys).await?, |v| v.id))
            }
        }
    )+};
}

by_id_loader! {
    OrganizationId => Organization, load_organizations;
    UserId => User, load_users;
    ProfileId => Profile, load_profiles;
    SiteId => Site, load_sites;
    SiteGroupId => SiteGroup, load_site_groups;
    RoomId => Room, load_rooms;
    BookingSeriesId => BookingSeries, load_booking_series;
    PriceListId => PriceList, load_price_lists;
}

impl Loader<RoomsOfSite> for DomainLoader {
    type Value = Vec<Room>;
    type Error = DomainError;

    async fn load(
        &self,
        keys: &[RoomsOfSite],
    ) -> Result<HashMap<RoomsOfSite, Vec<Room>>, DomainError> {
        let sites: Vec<(SiteId, OrganizationId)> = keys.iter().map(|k| (k.0, k.1)).collect();
        let rooms = self.domain.load_rooms_of_sites(&self.actor, &sites).await?;
        let mut grouped: HashMap<RoomsOfSite, Vec<Room>> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for room in rooms {
            grouped
                .entry(RoomsOfSite(room.site_id, room.organization_id))
                .or_default()
                .push(room);
        }
        Ok(grouped)
    }
}
