//! Room tablets: registered by a site administrator, authenticated by a device token (shown
//! once, stored hashed, revocable) scoped to a site or one room.

use crate::access::{Actor, Authenticated};
use crate::error::{DomainError, DomainResult};
use crate::ids::{DeviceId, RoomId, SiteId};
use crate::model::*;
use crate::ops::{Domain, find_by_hash};
use crate::permissions::AccessLevel;
use crate::secrets::random_token;
use crate::values::Name;

/// Device tokens start with this, so a bearer token says which kind it is.
pub const DEVICE_TOKEN_PREFIX: &str = "dev_";
const DEVICE_PURPOSE: &str = "device";

impl Domain {
    /// Registers a tablet for a site (or one room of it); returns the device and its token, once.
    pub async fn register_device(
        &self,
        actor: &Actor,
        site_id: SiteId,
        room_id: Option<RoomId>,
        name: &str,
    ) -> DomainResult<(Device, String)> {
        let site = self.site(actor, site_id).await?;
        let org = self
            .organization_of(&*self.store, site.organization_id)
            .await?;
        actor.require_write_in(&org)?;
        if actor.permissions.sites < AccessLevel::Edit
            && actor.permissions.rooms < AccessLevel::Edit
        {
            return Err(DomainError::forbidden(
                "registering tablets needs sites: EDIT or rooms: EDIT",
            ));
        }
        if let Some(room_id) = room_id {
            let room = self.room(actor, room_id).await?;
            if room.site_id != site.id {
                return Err(DomainError::validation(
                    "roomId",
                    "must be a room of the site",
                ));
            }
        }
        let token = format!("{DEVICE_TOKEN_PREFIX}{}", random_token());
        let device = Device {
            id: DeviceId::new(),
            organization_id: org.id,
            site_id: site.id,
            room_id,
            name: Name::parse("name", name)?,
            token_hash: self.secrets.token_hash(DEVICE_PURPOSE, &token),
            registered_by: actor.user.id,
            revoked_at: None,
            created_at: self.now(),
        };
        let mut tx = self.store.begin().await?;
        tx.insert_device(&device).await?;
        let target = Some(("Device", device.id.to_string()));
        tx.insert_audit_event(&self.audit(Some(actor), Some(org.id), "device.registered", target))
            .await?;
        tx.commit().await?;
        Ok((device, token))
    }

    /// Revokes a tablet's token: its next request and its subscriptions are refused.
    pub async fn revoke_device(&self, actor: &Actor, id: DeviceId) -> DomainResult<Device> {
        self.retrying("deviceId", || self.revoke_device_once(actor, id))
            .await
    }

    async fn revoke_device_once(&self, actor: &Actor, id: DeviceId) -> DomainResult<Device> {
        // Who may revoke depends on the device's site, which never changes: checked first.
        let seen = self
            .store
            .device(id)
            .await?
            .ok_or(DomainError::NotFound("device"))?;
        let site = self
            .site(actor, seen.site_id)
            .await
            .map_err(|_| DomainError::NotFound("device"))?;
        let org = self
            .organization_of(&*self.store, site.organization_id)
            .await?;
        actor.require_write_in(&org)?;
        if actor.permissions.sites < AccessLevel::Edit
            && actor.permissions.rooms < AccessLevel::Edit
        {
            return Err(DomainError::forbidden(
                "revoking tablets needs sites: EDIT or rooms: EDIT",
            ));
        }
        let mut tx = self.store.begin().await?;
        let mut device = tx
            .lock_device(id)
            .await?
            .ok_or(DomainError::NotFound("device"))?;
        if device.revoked_at.is_some() {
            return Ok(device.into_inner());
        }
        device.revoked_at = Some(self.now());
        tx.update_device(&device).await?;
        tx.publish_access_ended(&AccessEnded::Device(device.id))
            .await?;
        let target = Some(("Device", device.id.to_string()));
        tx.insert_audit_event(&self.audit(Some(actor), Some(org.id), "device.revoked", target))
            .await?;
        tx.commit().await?;
        Ok(device.into_inner())
    }

    /// Resolves a device token into a tablet acting for its registrant.
    pub(crate) async fn authenticate_device(
        &self,
        token: &str,
        ip: Option<String>,
    ) -> DomainResult<Authenticated> {
        let store = &*self.store;
        // One read: the device with its registrant and organization.
        let (found, _) = find_by_hash(
            self.secrets.token_hashes(DEVICE_PURPOSE, token),
            |hash| async move { store.device_with_registrant(hash.expose()).await },
        )
        .await?
        .ok_or_else(invalid_device)?;
        let DeviceWithRegistrant {
            device,
            registrant,
            organization,
        } = found;
        if device.revoked_at.is_some() {
            return Err(invalid_device());
        }
        // A tablet lives as long as its registrant may act: deactivating them stops it too.
        if registrant.status != UserStatus::Active {
            return Err(invalid_device());
        }
        let device = self.rehash_device_token(device, token).await?;
        Ok(Authenticated::new(Actor::for_device(
            registrant,
            organization,
            device,
            ip,
        )))
    }

    /// A device token still stored under the previous pepper is stored under the current one
    /// from its first use on, so the tablet keeps working once the previous pepper is dropped.
    async fn rehash_device_token(&self, device: Device, token: &str) -> DomainResult<Device> {
        let current = self.secrets.token_hash(DEVICE_PURPOSE, token);
        if device.token_hash == current {
            return Ok(device);
        }
        let mut tx = self.store.begin().await?;
        // Compare-and-set of the hash column alone, never a whole-row write of the copy read
        // above: a revocation committed since the lookup must stay. `false` means the token
        // changed meanwhile (e.g. another replica re-hashed it first): nothing to do.
        let replaced = tx
            .replace_device_token_hash(device.id, &device.token_hash, &current)
            .await?;
        tx.commit().await?;
        if !replaced {
            return Ok(device);
        }
        Ok(Device {
            token_hash: current,
            ..device
        })
    }
}

fn invalid_device() -> DomainError {
    DomainError::Unauthenticated("invalid or revoked device token".into())
}
