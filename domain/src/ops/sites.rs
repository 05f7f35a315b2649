//! Establishments of a company. Holders of `sites: EDIT` reach every site of the organizations
//! they act in; everyone else reaches the sites granted to them.

use crate::access::{Actor, SiteAccess};
use crate::error::{DomainError, DomainResult};
use crate::ids::{OrganizationId, SiteId};
use crate::model::*;
use crate::ops::{Domain, page_size};
use crate::permissions::AccessLevel;
use crate::values::{Name, TimeZone, optional_text};

#[derive(Debug, Clone)]
pub struct NewSite {
    pub organization_id: OrganizationId,
    pub name: String,
    pub time_zone: String,
    pub address: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct SiteChanges {
    pub name: Option<String>,
    pub time_zone: Option<String>,
    pub address: Option<String>,
}

const ADDRESS_MAX: usize = 500;

impl Domain {
    /// A site the actor may use, or NOT_FOUND.
    pub async fn site(&self, actor: &Actor, id: SiteId) -> DomainResult<Site> {
        let site = self
            .store
            .site(id)
            .await?
            .ok_or(DomainError::NotFound("site"))?;
        self.visible_sites(actor, vec![site])
            .await?
            .pop()
            .ok_or(DomainError::NotFound("site"))
    }

    /// Keeps the sites the actor may use.
    pub(crate) async fn visible_sites(
        &self,
        actor: &Actor,
        sites: Vec<Site>,
    ) -> DomainResult<Vec<Site>> {
        let placed: Vec<(SiteId, OrganizationId)> =
            sites.iter().map(|s| (s.id, s.organization_id)).collect();
        let visible = self.visible_site_ids(actor, &placed).await?;
        Ok(sites
            .into_iter()
            .filter(|site| visible.contains(&site.id))
            .collect())
    }

    /// The sites among `placed` (each with the organization it belongs to, as stored) the actor
    /// may use: decided on the ids alone, so a caller holding the rows reads nothing more (the
    /// actor's own organization and grants came with the actor).
    pub(crate) async fn visible_site_ids(
        &self,
        actor: &Actor,
        placed: &[(SiteId, OrganizationId)],
    ) -> DomainResult<Vec<SiteId>> {
        let mut org_ids: Vec<OrganizationId> = placed.iter().map(|(_, org)| *org).collect();
        org_ids.sort();
        org_ids.dedup();
        let orgs = self.organizations_as_stored(actor, &org_ids).await?;
        let mut access: Vec<(OrganizationId, SiteAccess)> = Vec::new();
        for org in orgs.iter().filter(|o| actor.can_read_in(o)) {
            access.push((org.id, actor.site_access(&*self.store, org.id).await?));
        }
        Ok(placed
            .iter()
            .filter(|(site, org)| {
                access
                    .iter()
                    .any(|(o, access)| o == org && access.allows(*site))
            })
            .map(|(site, _)| *site)
            .collect())
    }

    pub async fn load_sites(&self, actor: &Actor, ids: &[SiteId]) -> DomainResult<Vec<Site>> {
        let sites = self.store.sites_by_ids(ids).await?;
        self.visible_sites(actor, sites).await
    }

    pub async fn sites(
        &self,
        actor: &Actor,
        organization_id: Option<OrganizationId>,
        first: Option<i32>,
        after: Option<SiteId>,
        count_total: bool,
    ) -> DomainResult<Page<Site>> {
        let org = self
            .organization(actor, organization_id.unwrap_or(actor.organization.id))
            .await?;
        let only = match actor.site_access(&*self.store, org.id).await? {
            SiteAccess::All => None,
            SiteAccess::Only(sites) => Some(sites.into_iter().collect()),
        };
        let query = SiteQuery {
            organization_ids: vec![org.id],
            only,
            after,
            first: page_size(first)?,
            count_total,
        };
        Ok(self.store.sites(&query).await?)
    }

    /// A site the actor may edit: visible, organization writable, `sites: EDIT`.
    async fn editable_site_org(
        &self,
        actor: &Actor,
        org_id: OrganizationId,
    ) -> DomainResult<Organization> {
        let org = self.organization(actor, org_id).await?;
        actor.require_write_in(&org)?;
        actor.require("sites", actor.permissions.sites, AccessLevel::Edit)?;
        if org.kind != OrganizationKind::Company {
            return Err(DomainError::validation(
                "organizationId",
                "sites belong to client companies",
            ));
        }
        Ok(org)
    }

    pub async fn create_site(&self, actor: &Actor, input: NewSite) -> DomainResult<Site> {
        let org = self.editable_site_org(actor, input.organization_id).await?;
        let site = Site {
            id: SiteId::new(),
            organization_id: org.id,
            name: Name::parse("name", &input.name)?,
            time_zone: TimeZone::parse("timeZone", &input.time_zone)?,
            address: optional_text("address", input.address.as_deref(), ADDRESS_MAX)?,
            created_at: self.now(),
        };
        let mut tx = self.store.begin().await?;
        tx.insert_site(&site).await?;
        tx.insert_audit_event(&self.audit(
            Some(actor),
            Some(org.id),
            "site.created",
            Some(("Site", site.id.to_string())),
        ))
        .await?;
        tx.commit().await?;
        Ok(site)
    }

    pub async fn update_site(
        &self,
        actor: &Actor,
        id: SiteId,
        changes: SiteChanges,
    ) -> DomainResult<Site> {
        let current = self.site(actor, id).await?;
        self.editable_site_org(actor, current.organization_id)
            .await?;
        self.retrying("id", || self.update_site_once(actor, id, &changes))
            .await
    }

    async fn update_site_once(
        &self,
        actor: &Actor,
        id: SiteId,
        changes: &SiteChanges,
    ) -> DomainResult<Site> {
        let mut tx = self.store.begin().await?;
        let mut site = tx
            .lock_site(id)
            .await?
            .ok_or(DomainError::NotFound("site"))?;
        let current = Site::clone(&site);
        if let Some(raw) = changes.name.as_deref() {
            site.name = Name::parse("name", raw)?;
        }
        if let Some(raw) = changes.time_zone.as_deref() {
            site.time_zone = TimeZone::parse("timeZone", raw)?;
        }
        if changes.address.is_some() {
            site.address = optional_text("address", changes.address.as_deref(), ADDRESS_MAX)?;
        }
        if *site == current {
            return Ok(current);
        }
        tx.update_site(&site).await?;
        tx.insert_audit_event(&self.audit(
            Some(actor),
            Some(site.organization_id),
            "site.updated",
            Some(("Site", id.to_string())),
        ))
        .await?;
        tx.commit().await?;
        Ok(site.into_inner())
    }
}
