//! Partners' price lists. Company users with `billing: READ` see their partner's lists.

use crate::access::Actor;
use crate::error::{DomainError, DomainResult};
use crate::ids::{OrganizationId, PriceListId};
use crate::model::*;
use crate::ops::Domain;
use crate::permissions::AccessLevel;
use crate::values::Name;

#[derive(Debug, Clone)]
pub struct NewPriceList {
    pub organization_id: OrganizationId,
    pub name: String,
    pub is_default: bool,
}

impl Domain {
    /// Whether the actor may read the price lists of `owner` (a partner).
    fn can_read_price_lists_of(&self, actor: &Actor, owner: &Organization) -> bool {
        if actor.permissions.billing < AccessLevel::Read {
            return false;
        }
        actor.can_read_in(owner) || actor.organization.parent_id == Some(owner.id)
    }

    pub async fn price_list(&self, actor: &Actor, id: PriceListId) -> DomainResult<PriceList> {
        self.load_price_lists(actor, &[id])
            .await?
            .pop()
            .ok_or(DomainError::NotFound("price list"))
    }

    pub async fn load_price_lists(
        &self,
        actor: &Actor,
        ids: &[PriceListId],
    ) -> DomainResult<Vec<PriceList>> {
        let lists = self.store.price_lists_by_ids(ids).await?;
        let mut org_ids: Vec<OrganizationId> = lists.iter().map(|l| l.organization_id).collect();
        org_ids.sort();
        org_ids.dedup();
        let owners = self.store.organizations_by_ids(&org_ids).await?;
        Ok(lists
            .into_iter()
            .filter(|l| {
                owners
                    .iter()
                    .any(|o| o.id == l.organization_id && self.can_read_price_lists_of(actor, o))
            })
            .collect())
    }

    /// The owners among `ids` of price lists the actor may read: visible organizations, and a
    /// company's partner for holders of `billing` ≥ READ (the owner of the lists they see).
    pub async fn load_price_list_owners(
        &self,
        actor: &Actor,
        ids: &[OrganizationId],
    ) -> DomainResult<Vec<Organization>> {
        let owners = self.store.organizations_by_ids(ids).await?;
        Ok(owners
            .into_iter()
            .filter(|o| actor.can_read_in(o) || self.can_read_price_lists_of(actor, o))
            .collect())
    }

    /// A partner's price lists; for a company, its partner's.
    pub async fn price_lists(
        &self,
        actor: &Actor,
        organization_id: Option<OrganizationId>,
    ) -> DomainResult<Vec<PriceList>> {
        let requested = organization_id.unwrap_or(actor.organization.id);
        let org = match self.store.organization(requested).await? {
            Some(org)
                if actor.can_read_in(&org) || actor.organization.parent_id == Some(org.id) =>
            {
                org
            }
            _ => return Err(DomainError::NotFound("organization")),
        };
        actor.require("billing", actor.permissions.billing, AccessLevel::Read)?;
        let owner = match (org.kind, org.parent_id) {
            (OrganizationKind::Company, Some(parent)) => parent,
            _ => org.id,
        };
        Ok(self.store.price_lists_of(&[owner]).await?)
    }

    pub async fn create_price_list(
        &self,
        actor: &Actor,
        input: NewPriceList,
    ) -> DomainResult<PriceList> {
        let org = self.organization(actor, input.organization_id).await?;
        actor.require_write_in(&org)?;
        actor.require("billing", actor.permissions.billing, AccessLevel::Edit)?;
        if org.kind != OrganizationKind::Partner {
            return Err(DomainError::validation(
                "organizationId",
                "price lists belong to partners",
            ));
        }
        let name = Name::parse("name", &input.name)?;
        self.retrying("isDefault", || {
            self.insert_price_list(actor, &org, name.clone(), input.is_default)
        })
        .await
    }

    async fn insert_price_list(
        &self,
        actor: &Actor,
        org: &Organization,
        name: Name,
        is_default: bool,
    ) -> DomainResult<PriceList> {
        let mut tx = self.store.begin().await?;
        // The partner is locked: concurrent creations decide "the first is the default" and
        // demote the old default one after the other.
        tx.lock_organization(org.id)
            .await?
            .ok_or(DomainError::NotFound("organization"))?;
        let existing = tx.price_lists_of(&[org.id]).await?;
        // Exactly one default per partner: the first list is the default, a new default demotes the old.
        let is_default = is_default || existing.is_empty();
        if is_default {
            for old in existing.into_iter().filter(|l| l.is_default) {
                if let Some(mut old) = tx.lock_price_list(old.id).await? {
                    old.is_default = false;
                    tx.update_price_list(&old).await?;
                }
            }
        }
        let list = PriceList {
            id: PriceListId::new(),
            organization_id: org.id,
            name,
            is_default,
            created_at: self.now(),
        };
        tx.insert_price_list(&list).await?;
        tx.insert_audit_event(&self.audit(
            Some(actor),
            Some(org.id),
            "price_list.created",
            Some(("PriceList", list.id.to_string())),
        ))
        .await?;
        tx.commit().await?;
        Ok(list)
    }
}
