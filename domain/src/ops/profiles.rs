//! Profiles (roles): named permission sets. The built-in Enterprise profile of each organization
//! grants everything its kind may hold and can be neither changed nor deleted. Nobody creates,
//! edits or makes default a profile richer than their own.

use crate::access::Actor;
use crate::error::{DomainError, DomainResult};
use crate::ids::{OrganizationId, ProfileId};
use crate::model::*;
use crate::ops::Domain;
use crate::ops::users::check_assignable;
use crate::permissions::{AccessLevel, Permissions, UsersPermission};
use crate::storage::{Locked, Transaction};
use crate::values::Name;

#[derive(Debug, Clone)]
pub struct NewProfile {
    pub organization_id: OrganizationId,
    pub name: String,
    pub permissions: Permissions,
}

#[derive(Debug, Clone, Default)]
pub struct ProfileChanges {
    pub name: Option<String>,
    pub permissions: Option<Permissions>,
}

impl Domain {
    /// The profiles of an organization: for those who read profiles or add users.
    pub async fn profiles(
        &self,
        actor: &Actor,
        organization_id: Option<OrganizationId>,
    ) -> DomainResult<Vec<Profile>> {
        let org = self
            .organization(actor, organization_id.unwrap_or(actor.organization.id))
            .await?;
        if actor.permissions.profiles < AccessLevel::Read
            && actor.permissions.users < UsersPermission::InviteWithApproval
        {
            return Err(DomainError::forbidden(
                "your profile does not allow reading profiles (profiles: READ needed)",
            ));
        }
        Ok(self.store.profiles_of(&[org.id]).await?)
    }

    /// Profiles among `ids` whose organization the actor can see (for `User.profile` and the like).
    pub async fn load_profiles(
        &self,
        actor: &Actor,
        ids: &[ProfileId],
    ) -> DomainResult<Vec<Profile>> {
        // The actor's own profile came with the actor (when authentication read it).
        let own = actor.own_profile.as_ref().filter(|p| ids.contains(&p.id));
        let others: Vec<ProfileId> = ids
            .iter()
            .copied()
            .filter(|id| own.is_none_or(|p| p.id != *id))
            .collect();
        let mut profiles = if others.is_empty() {
            Vec::new()
        } else {
            self.store.profiles_by_ids(&others).await?
        };
        profiles.extend(own.cloned());
        let mut org_ids: Vec<OrganizationId> = profiles.iter().map(|p| p.organization_id).collect();
        org_ids.sort();
        org_ids.dedup();
        let visible: Vec<OrganizationId> = self
            .load_organizations(actor, &org_ids)
            .await?
            .iter()
            .map(|o| o.id)
            .collect();
        Ok(profiles
            .into_iter()
            .filter(|p| visible.contains(&p.organization_id))
            .collect())
    }

    /// The permission set of `profile` (one the actor sees), if the actor may see it: with
    /// `profiles: READ` or as their own profile (DESIGN.md §3); FORBIDDEN otherwise, wherever the
    /// profile was reached from (a booking's holder, an organization's default profile).
    pub fn profile_permissions<'a>(
        &self,
        actor: &Actor,
        profile: &'a Profile,
    ) -> DomainResult<&'a Permissions> {
        if actor.may_see_permissions_of(profile) {
            Ok(&profile.permissions)
        } else {
            Err(DomainError::forbidden(
                "your profile does not allow reading permission sets (profiles: READ needed)",
            ))
        }
    }

    async fn profile_editor_org(
        &self,
        actor: &Actor,
        org_id: OrganizationId,
    ) -> DomainResult<Organization> {
        let org = self.organization(actor, org_id).await?;
        actor.require_write_in(&org)?;
        actor.require("profiles", actor.permissions.profiles, AccessLevel::Edit)?;
        Ok(org)
    }

    fn check_grantable(
        actor: &Actor,
        org: &Organization,
        permissions: &Permissions,
    ) -> DomainResult<()> {
        if let Some(area) = Permissions::enterprise(org.kind).first_excess(permissions) {
            return Err(DomainError::validation(
                format!("permissions.{area}"),
                "more than an organization of this kind may hold",
            ));
        }
        if let Some(area) = actor.permissions.first_excess(permissions) {
            return Err(DomainError::forbidden(format!(
                "you cannot grant more rights than your own ({area})"
            )));
        }
        Ok(())
    }

    pub async fn create_profile(&self, actor: &Actor, input: NewProfile) -> DomainResult<Profile> {
        let org = self
            .profile_editor_org(actor, input.organization_id)
            .await?;
        let name = Name::parse("name", &input.name)?;
        Self::check_grantable(actor, &org, &input.permissions)?;
        let profile = Profile {
            id: ProfileId::new(),
            organization_id: org.id,
            name,
            built_in: false,
            permissions: input.permissions,
            created_at: self.now(),
        };
        let mut tx = self.store.begin().await?;
        tx.insert_profile(&profile).await?;
        tx.insert_audit_event(&self.audit(
            Some(actor),
            Some(org.id),
            "profile.created",
            Some(("Profile", profile.id.to_string())),
        ))
        .await?;
        tx.commit().await?;
        Ok(profile)
    }

    async fn editable_profile(
        &self,
        actor: &Actor,
        id: ProfileId,
    ) -> DomainResult<(Profile, Organization)> {
        let profile = self
            .load_profiles(actor, &[id])
            .await?
            .pop()
            .ok_or(DomainError::NotFound("profile"))?;
        let org = self
            .profile_editor_org(actor, profile.organization_id)
            .await?;
        if profile.built_in {
            return Err(DomainError::forbidden(
                "the built-in Enterprise profile cannot be changed or deleted",
            ));
        }
        if !actor.permissions.covers(&profile.permissions) {
            return Err(DomainError::forbidden(
                "this profile holds more rights than you do",
            ));
        }
        Ok((profile, org))
    }

    /// Locks profile `id` (after its organization when `org_too`) and checks on the locked copy
    /// that the actor may edit it: not built in, no richer than the actor's own.
    async fn lock_editable_profile(
        &self,
        tx: &mut dyn Transaction,
        actor: &Actor,
        id: ProfileId,
    ) -> DomainResult<Locked<Profile>> {
        let profile = tx
            .lock_profile(id)
            .await?
            .ok_or(DomainError::NotFound("profile"))?;
        if profile.built_in {
            return Err(DomainError::forbidden(
                "the built-in Enterprise profile cannot be changed or deleted",
            ));
        }
        if !actor.permissions.covers(&profile.permissions) {
            return Err(DomainError::forbidden(
                "this profile holds more rights than you do",
            ));
        }
        Ok(profile)
    }

    pub async fn update_profile(
        &self,
        actor: &Actor,
        id: ProfileId,
        changes: ProfileChanges,
    ) -> DomainResult<Profile> {
        let (_, org) = self.editable_profile(actor, id).await?;
        self.retrying("id", || self.update_profile_once(actor, &org, id, &changes))
            .await
    }

    async fn update_profile_once(
        &self,
        actor: &Actor,
        org: &Organization,
        id: ProfileId,
        changes: &ProfileChanges,
    ) -> DomainResult<Profile> {
        let mut tx = self.store.begin().await?;
        let mut profile = self.lock_editable_profile(&mut *tx, actor, id).await?;
        let current = Profile::clone(&profile);
        if let Some(raw) = changes.name.as_deref() {
            profile.name = Name::parse("name", raw)?;
        }
        if let Some(permissions) = &changes.permissions {
            Self::check_grantable(actor, org, permissions)?;
            profile.permissions = permissions.clone();
        }
        if *profile == current {
            return Ok(current);
        }
        tx.update_profile(&profile).await?;
        tx.publish_access_ended(&AccessEnded::Profile(profile.id))
            .await?;
        tx.insert_audit_event(&self.audit(
            Some(actor),
            Some(org.id),
            "profile.updated",
            Some(("Profile", id.to_string())),
        ))
        .await?;
        tx.commit().await?;
        Ok(profile.into_inner())
    }

    pub async fn delete_profile(&self, actor: &Actor, id: ProfileId) -> DomainResult<ProfileId> {
        let (_, org) = self.editable_profile(actor, id).await?;
        self.retrying("id", || self.delete_profile_once(actor, org.id, id))
            .await
    }

    async fn delete_profile_once(
        &self,
        actor: &Actor,
        org_id: OrganizationId,
        id: ProfileId,
    ) -> DomainResult<ProfileId> {
        let mut tx = self.store.begin().await?;
        // Lock order: the organization (its default profile may be changing), then the profile.
        let org = tx
            .lock_organization(org_id)
            .await?
            .ok_or(DomainError::NotFound("profile"))?;
        let profile = self.lock_editable_profile(&mut *tx, actor, id).await?;
        if org.default_profile_id == profile.id {
            return Err(DomainError::conflict(
                "id",
                "the organization's default profile cannot be deleted",
            ));
        }
        // Counted with the profile locked: a user given it meanwhile committed first (and is
        // counted), or waits for the deletion and then fails to reference it.
        let holders = tx.count_users_with_profile(id).await?;
        if holders > 0 {
            return Err(DomainError::conflict(
                "id",
                format!("{holders} user(s) hold this profile"),
            ));
        }
        tx.delete_profile(profile).await?;
        tx.publish_access_ended(&AccessEnded::Profile(id)).await?;
        tx.insert_audit_event(&self.audit(
            Some(actor),
            Some(org.id),
            "profile.deleted",
            Some(("Profile", id.to_string())),
        ))
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn set_default_profile(
        &self,
        actor: &Actor,
        organization_id: OrganizationId,
        profile_id: ProfileId,
    ) -> DomainResult<Organization> {
        let org = self.profile_editor_org(actor, organization_id).await?;
        self.retrying("profileId", || {
            self.set_default_profile_once(actor, org.id, profile_id)
        })
        .await
    }

    async fn set_default_profile_once(
        &self,
        actor: &Actor,
        organization_id: OrganizationId,
        profile_id: ProfileId,
    ) -> DomainResult<Organization> {
        let mut tx = self.store.begin().await?;
        // Lock order: the organization, then the profile, as a deletion takes them.
        let mut org = tx
            .lock_organization(organization_id)
            .await?
            .ok_or(DomainError::NotFound("organization"))?;
        let profile = tx
            .lock_profile(profile_id)
            .await?
            .filter(|p| p.organization_id == org.id)
            .ok_or(DomainError::NotFound("profile"))?;
        check_assignable(actor, &profile)?;
        if org.default_profile_id == profile.id {
            return Ok(org.into_inner());
        }
        org.default_profile_id = profile.id;
        tx.update_organization(&org).await?;
        tx.insert_audit_event(&self.audit(
            Some(actor),
            Some(org.id),
            "organization.default_profile_set",
            Some(("Profile", profile_id.to_string())),
        ))
        .await?;
        tx.commit().await?;
        Ok(org.into_inner())
    }
}
