//! Site groups: named sets of a company's sites. Membership is read at use time, so a site added
//! to a group reaches everyone granted the group.

use crate::access::Actor;
use crate::access::effective_site_ids;
use crate::error::{DomainError, DomainResult};
use crate::ids::{OrganizationId, SiteGroupId, SiteId, UserId};
use crate::model::*;
use crate::ops::{Domain, user_target};
use crate::permissions::AccessLevel;
use crate::storage::Transaction;
use crate::values::Name;

#[derive(Debug, Clone)]
pub struct NewSiteGroup {
    pub organization_id: OrganizationId,
    pub name: String,
    pub site_ids: Vec<SiteId>,
}

#[derive(Debug, Clone, Default)]
pub struct SiteGroupChanges {
    pub name: Option<String>,
    pub site_ids: Option<Vec<SiteId>>,
}

impl Domain {
    pub async fn site_groups(
        &self,
        actor: &Actor,
        organization_id: Option<OrganizationId>,
    ) -> DomainResult<Vec<SiteGroup>> {
        let org = self
            .organization(actor, organization_id.unwrap_or(actor.organization.id))
            .await?;
        Ok(self.store.site_groups_of(&[org.id]).await?)
    }

    pub async fn load_site_groups(
        &self,
        actor: &Actor,
        ids: &[SiteGroupId],
    ) -> DomainResult<Vec<SiteGroup>> {
        let groups = self.store.site_groups_by_ids(ids).await?;
        let mut org_ids: Vec<OrganizationId> = groups.iter().map(|g| g.organization_id).collect();
        org_ids.sort();
        org_ids.dedup();
        let visible: Vec<OrganizationId> = self
            .load_organizations(actor, &org_ids)
            .await?
            .iter()
            .map(|o| o.id)
            .collect();
        Ok(groups
            .into_iter()
            .filter(|g| visible.contains(&g.organization_id))
            .collect())
    }

    /// Members of `group` whose default site was among `removed` sites and is no longer granted
    /// to them lose it as a default (with an audit event), inside the caller's transaction.
    async fn clear_lost_default_sites(
        &self,
        tx: &mut dyn Transaction,
        actor: &Actor,
        group: &SiteGroup,
        removed: &[SiteId],
    ) -> DomainResult<()> {
        for site in removed {
            let mut after = None;
            loop {
                let query = UserQuery {
                    organization_ids: vec![group.organization_id],
                    search: None,
                    status: None,
                    site: Some((*site, vec![group.id])),
                    profile_id: None,
                    after,
                    first: 200,
                    count_total: false,
                    with_profiles: false,
                };
                let page = tx.users(&query).await?;
                after = page.items.last().map(|u| u.id);
                let ids: Vec<UserId> = page.items.iter().map(|u| u.id).collect();
                // Locked (after the group, in lock order) and decided on as now committed.
                for mut user in tx.lock_users(&ids).await? {
                    if user.default_site_id != Some(*site)
                        || !user.site_group_ids.contains(&group.id)
                    {
                        continue;
                    }
                    if effective_site_ids(&*tx, &user).await?.contains(site) {
                        continue;
                    }
                    user.default_site_id = None;
                    tx.update_user(&user).await?;
                    let event = self.audit(
                        Some(actor),
                        Some(user.organization_id),
                        "user.default_site_cleared",
                        user_target(user.id),
                    );
                    tx.insert_audit_event(&event).await?;
                }
                if !page.has_next_page {
                    break;
                }
            }
        }
        Ok(())
    }

    async fn site_group_editable(
        &self,
        actor: &Actor,
        org_id: OrganizationId,
    ) -> DomainResult<Organization> {
        let org = self.organization(actor, org_id).await?;
        actor.require_write_in(&org)?;
        actor.require("sites", actor.permissions.sites, AccessLevel::Edit)?;
        Ok(org)
    }

    /// Every listed site must be one of the organization's (visible to the actor).
    async fn check_group_sites(
        &self,
        actor: &Actor,
        org: &Organization,
        site_ids: &[SiteId],
    ) -> DomainResult<Vec<SiteId>> {
        let mut ids = site_ids.to_vec();
        ids.sort();
        ids.dedup();
        let sites = self.load_sites(actor, &ids).await?;
        for id in &ids {
            if !sites
                .iter()
                .any(|s| s.id == *id && s.organization_id == org.id)
            {
                return Err(DomainError::NotFound("site"));
            }
        }
        Ok(ids)
    }

    pub async fn create_site_group(
        &self,
        actor: &Actor,
        input: NewSiteGroup,
    ) -> DomainResult<SiteGroup> {
        let org = self
            .site_group_editable(actor, input.organization_id)
            .await?;
        let name = Name::parse("name", &input.name)?;
        let site_ids = self.check_group_sites(actor, &org, &input.site_ids).await?;
        let group = SiteGroup {
            id: SiteGroupId::new(),
            organization_id: org.id,
            name,
            site_ids,
            created_at: self.now(),
        };
        let mut tx = self.store.begin().await?;
        tx.insert_site_group(&group).await?;
        tx.insert_audit_event(&self.audit(
            Some(actor),
            Some(org.id),
            "site_group.created",
            Some(("SiteGroup", group.id.to_string())),
        ))
        .await?;
        tx.commit().await?;
        Ok(group)
    }

    pub async fn update_site_group(
        &self,
        actor: &Actor,
        id: SiteGroupId,
        changes: SiteGroupChanges,
    ) -> DomainResult<SiteGroup> {
        let seen = self
            .load_site_groups(actor, &[id])
            .await?
            .pop()
            .ok_or(DomainError::NotFound("site group"))?;
        let org = self
            .site_group_editable(actor, seen.organization_id)
            .await?;
        let site_ids = match changes.site_ids.as_deref() {
            Some(site_ids) => Some(self.check_group_sites(actor, &org, site_ids).await?),
            None => None,
        };
        self.retrying("id", || {
            self.update_site_group_once(actor, &org, id, changes.name.as_deref(), &site_ids)
        })
        .await
    }

    async fn update_site_group_once(
        &self,
        actor: &Actor,
        org: &Organization,
        id: SiteGroupId,
        name: Option<&str>,
        site_ids: &Option<Vec<SiteId>>,
    ) -> DomainResult<SiteGroup> {
        let mut tx = self.store.begin().await?;
        let mut group = tx
            .lock_site_group(id)
            .await?
            .ok_or(DomainError::NotFound("site group"))?;
        let current = SiteGroup::clone(&group);
        if let Some(raw) = name {
            group.name = Name::parse("name", raw)?;
        }
        if let Some(site_ids) = site_ids {
            group.site_ids = site_ids.clone();
        }
        if *group == current {
            return Ok(current);
        }
        tx.update_site_group(&group).await?;
        tx.publish_access_ended(&AccessEnded::SiteGroup(group.id))
            .await?;
        let removed: Vec<SiteId> = current
            .site_ids
            .iter()
            .filter(|s| !group.site_ids.contains(s))
            .copied()
            .collect();
        self.clear_lost_default_sites(&mut *tx, actor, &group, &removed)
            .await?;
        tx.insert_audit_event(&self.audit(
            Some(actor),
            Some(org.id),
            "site_group.updated",
            Some(("SiteGroup", id.to_string())),
        ))
        .await?;
        tx.commit().await?;
        Ok(group.into_inner())
    }
}
