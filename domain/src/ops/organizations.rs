//! Tenants: the platform creates partners, partners create their client companies.

use crate::access::Actor;
use crate::error::{DomainError, DomainResult};
use crate::ids::{OrganizationId, PriceListId, ProfileId, UserId};
use crate::model::*;
use crate::ops::users::{
    CredentialsRecipient, IssuedCredentials, NewUserParts, credentials_recipient,
};
use crate::ops::{Domain, page_size, search_text};
use crate::permissions::{AccessLevel, ClientsPermission, Permissions, UsersPermission};
use crate::storage::Reads;
use crate::values::{EmailAddress, Language, Name, TimeZone, optional_text};

#[derive(Debug, Clone)]
pub struct NewAdministrator {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub language: Option<Language>,
}

#[derive(Debug, Clone)]
pub struct NewOrganization {
    pub kind: OrganizationKind,
    pub name: String,
    pub parent_id: Option<OrganizationId>,
    pub admin_email: Option<String>,
    pub external_contact: Option<String>,
    pub price_list_id: Option<PriceListId>,
    pub default_language: Option<Language>,
    pub time_zone: Option<String>,
    pub administrator: NewAdministrator,
    /// Where the administrator's credentials go; by default the admin address, else the administrator.
    pub send_credentials_to: Option<CredentialsRecipient>,
}

#[derive(Debug, Clone)]
pub struct CreatedOrganization {
    pub organization: Organization,
    pub administrator: User,
    pub credentials: IssuedCredentials,
}

#[derive(Debug, Clone, Default)]
pub struct OrganizationChanges {
    pub name: Option<String>,
    pub admin_email: Option<String>,
    pub external_contact: Option<String>,
    pub price_list_id: Option<PriceListId>,
    pub default_language: Option<Language>,
    pub time_zone: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct OrganizationFilter {
    pub parent_id: Option<OrganizationId>,
    pub kind: Option<OrganizationKind>,
    pub search: Option<String>,
}

impl Domain {
    /// An organization the actor can see, or NOT_FOUND.
    pub async fn organization(
        &self,
        actor: &Actor,
        id: OrganizationId,
    ) -> DomainResult<Organization> {
        // The actor's own organization came with the actor: never read again in a request.
        let found = if id == actor.organization.id {
            Some(actor.organization.clone())
        } else {
            self.store.organization(id).await?
        };
        found
            .filter(|org| actor.can_read_in(org))
            .ok_or(DomainError::NotFound("organization"))
    }

    /// The organizations among `ids` the actor can see (DataLoader batches).
    pub async fn load_organizations(
        &self,
        actor: &Actor,
        ids: &[OrganizationId],
    ) -> DomainResult<Vec<Organization>> {
        let orgs = self.organizations_as_stored(actor, ids).await?;
        Ok(orgs
            .into_iter()
            .filter(|org| actor.can_read_in(org))
            .collect())
    }

    /// The actor's own organization and, with `clients` ≥ READ, the ones it acts for.
    pub async fn organizations(
        &self,
        actor: &Actor,
        filter: OrganizationFilter,
        first: Option<i32>,
        after: Option<OrganizationId>,
        count_total: bool,
    ) -> DomainResult<Page<Organization>> {
        let query = OrganizationQuery {
            own: actor.organization.id,
            include_children: actor.permissions.clients >= ClientsPermission::Read,
            parent_id: filter.parent_id,
            kind: filter.kind,
            search: search_text(filter.search.as_deref()),
            after,
            first: page_size(first)?,
            count_total,
        };
        Ok(self.store.organizations(&query).await?)
    }

    pub async fn create_organization(
        &self,
        actor: &Actor,
        input: NewOrganization,
    ) -> DomainResult<CreatedOrganization> {
        let parent_id = input.parent_id.unwrap_or(actor.organization.id);
        let parent = self
            .organization(actor, parent_id)
            .await
            .map_err(|_| DomainError::NotFound("organization"))?;
        // Who may create organizations at all comes first: a caller without `clients: MANAGE`
        // is refused whatever kind it asks for (FORBIDDEN, not a VALIDATION of `kind`).
        actor.require_write_in(&parent)?;
        actor.require(
            "clients",
            actor.permissions.clients,
            ClientsPermission::Manage,
        )?;
        let Some(expected_parent) = input.kind.parent_kind() else {
            return Err(DomainError::validation(
                "kind",
                "the platform organization is created by bootstrap only",
            ));
        };
        if parent.kind != expected_parent {
            let message = match input.kind {
                OrganizationKind::Partner => "partners are created by the platform",
                _ => "client companies belong to a partner",
            };
            return Err(DomainError::validation(
                if input.parent_id.is_some() {
                    "parentId"
                } else {
                    "kind"
                },
                message,
            ));
        }

        let name = Name::parse("name", &input.name)?;
        let admin_email = match input
            .admin_email
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(raw) => Some(EmailAddress::parse("adminEmail", raw)?),
            None => parent.admin_email.clone(),
        };
        let external_contact = optional_text(
            "externalContact",
            input.external_contact.as_deref(),
            Name::MAX,
        )?;
        let time_zone = match input.time_zone.as_deref() {
            Some(raw) => TimeZone::parse("timeZone", raw)?,
            None => parent.time_zone,
        };
        let default_language = input.default_language.unwrap_or(parent.default_language);
        let price_list_id = self
            .price_list_for_new_organization(actor, &parent, input.price_list_id)
            .await?;

        let admin = &input.administrator;
        let admin_first = Name::parse("administrator.firstName", &admin.first_name)?;
        let admin_last = Name::parse("administrator.lastName", &admin.last_name)?;
        let admin_login = EmailAddress::parse("administrator.email", &admin.email)?;
        if self
            .store
            .user_by_login(admin_login.as_str())
            .await?
            .is_some()
        {
            return Err(DomainError::conflict(
                "administrator.email",
                "a user with this e-mail already exists",
            ));
        }

        // The first administrator's credentials are e-mailed by default (seed 004): to the
        // organization's admin address when it has one, else to the administrator.
        let recipient = match (input.send_credentials_to, &admin_email) {
            (Some(chosen), _) => chosen,
            (None, Some(_)) => CredentialsRecipient::OrganizationAdmin,
            (None, None) => CredentialsRecipient::User,
        };
        let send_to = credentials_recipient(recipient, Some(&admin_login), admin_email.as_ref())?;
        let now = self.now();
        let org_id = OrganizationId::new();
        let enterprise = Profile {
            id: ProfileId::new(),
            organization_id: org_id,
            name: Name::parse("name", ENTERPRISE_PROFILE_NAME)?,
            built_in: true,
            permissions: Permissions::enterprise(input.kind),
            created_at: now,
        };
        let organization = Organization {
            id: org_id,
            kind: input.kind,
            name,
            parent_id: Some(parent.id),
            admin_email,
            external_contact,
            default_language,
            time_zone,
            default_profile_id: enterprise.id,
            price_list_id,
            created_at: now,
        };
        let parts = NewUserParts {
            id: UserId::new(),
            organization: &organization,
            first_name: admin_first,
            last_name: admin_last,
            email: Some(admin_login),
            username: None,
            language: admin.language.unwrap_or(default_language),
            profile: &enterprise,
            site_ids: vec![],
            site_group_ids: vec![],
            default_site_id: None,
            external_contact: None,
            price_list_id: None,
            photo_url: None,
            status: UserStatus::Active,
            password: Some(self.new_password(None, true).await?),
        };

        let mut tx = self.store.begin().await?;
        tx.insert_organization(&organization).await?;
        tx.insert_profile(&enterprise).await?;
        let (administrator, credentials) = self
            .insert_new_user(&mut *tx, Some(actor), parts)
            .await
            .map_err(|e| e.within("administrator"))?;
        if let Some(to) = send_to {
            self.enqueue_credentials(&mut *tx, &organization, &administrator, &credentials, to)
                .await?;
        }
        let org_event = self.audit(
            Some(actor),
            Some(org_id),
            "organization.created",
            Some(("Organization", org_id.to_string())),
        );
        tx.insert_audit_event(&org_event).await?;
        tx.commit().await?;
        Ok(CreatedOrganization {
            organization,
            administrator,
            credentials,
        })
    }

    async fn price_list_for_new_organization(
        &self,
        actor: &Actor,
        parent: &Organization,
        requested: Option<PriceListId>,
    ) -> DomainResult<Option<PriceListId>> {
        // Price lists belong to partners: a company is billed on one of its partner's lists.
        if parent.kind != OrganizationKind::Partner {
            if requested.is_some() {
                return Err(DomainError::validation(
                    "priceListId",
                    "only client companies have a price list",
                ));
            }
            return Ok(None);
        }
        match requested {
            Some(id) => {
                let list = self.price_list(actor, id).await?;
                if list.organization_id != parent.id {
                    return Err(DomainError::validation(
                        "priceListId",
                        "must be one of the partner's price lists",
                    ));
                }
                Ok(Some(id))
            }
            None => Ok(self
                .store
                .price_lists_of(&[parent.id])
                .await?
                .into_iter()
                .find(|list| list.is_default)
                .map(|list| list.id)),
        }
    }

    pub async fn update_organization(
        &self,
        actor: &Actor,
        id: OrganizationId,
        changes: OrganizationChanges,
    ) -> DomainResult<Organization> {
        let current = self.organization(actor, id).await?;
        actor.require_write_in(&current)?;
        if current.id == actor.organization.id {
            actor.require("users", actor.permissions.users, UsersPermission::Manage)?;
        }
        let price_list = match changes.price_list_id {
            None => None,
            Some(price_list) => {
                actor.require("billing", actor.permissions.billing, AccessLevel::Edit)?;
                let parent = match current.parent_id {
                    Some(parent) => self.store.organization(parent).await?,
                    None => None,
                };
                let parent = parent.ok_or_else(|| {
                    DomainError::validation(
                        "priceListId",
                        "only client companies have a price list",
                    )
                })?;
                Some(
                    self.price_list_for_new_organization(actor, &parent, Some(price_list))
                        .await?,
                )
            }
        };
        self.retrying("id", || {
            self.update_organization_once(actor, id, &changes, price_list)
        })
        .await
    }

    async fn update_organization_once(
        &self,
        actor: &Actor,
        id: OrganizationId,
        changes: &OrganizationChanges,
        price_list: Option<Option<PriceListId>>,
    ) -> DomainResult<Organization> {
        let mut tx = self.store.begin().await?;
        let mut org = tx
            .lock_organization(id)
            .await?
            .ok_or(DomainError::NotFound("organization"))?;
        let current = Organization::clone(&org);
        if let Some(raw) = changes.name.as_deref() {
            org.name = Name::parse("name", raw)?;
        }
        if let Some(raw) = changes.admin_email.as_deref() {
            org.admin_email = match raw.trim() {
                "" => None,
                value => Some(EmailAddress::parse("adminEmail", value)?),
            };
        }
        if changes.external_contact.is_some() {
            org.external_contact = optional_text(
                "externalContact",
                changes.external_contact.as_deref(),
                Name::MAX,
            )?;
        }
        if let Some(language) = changes.default_language {
            org.default_language = language;
        }
        if let Some(raw) = changes.time_zone.as_deref() {
            org.time_zone = TimeZone::parse("timeZone", raw)?;
        }
        if let Some(price_list) = price_list {
            org.price_list_id = price_list;
        }
        if *org == current {
            return Ok(current);
        }
        tx.update_organization(&org).await?;
        let event = self.audit(
            Some(actor),
            Some(id),
            "organization.updated",
            Some(("Organization", id.to_string())),
        );
        tx.insert_audit_event(&event).await?;
        tx.commit().await?;
        Ok(org.into_inner())
    }

    /// Reads an organization the caller has already proven visible (by a related object).
    /// The organizations of `ids` as stored, whoever may see them (the callers decide): the
    /// actor's own comes with the actor, never read again in a request.
    pub(crate) async fn organizations_as_stored(
        &self,
        actor: &Actor,
        ids: &[OrganizationId],
    ) -> DomainResult<Vec<Organization>> {
        let own = actor.organization.id;
        let others: Vec<OrganizationId> = ids.iter().copied().filter(|id| *id != own).collect();
        let mut orgs = if others.is_empty() {
            Vec::new()
        } else {
            self.store.organizations_by_ids(&others).await?
        };
        if ids.contains(&own) {
            orgs.push(actor.organization.clone());
        }
        Ok(orgs)
    }

    pub(crate) async fn organization_of(
        &self,
        store: &dyn Reads,
        id: OrganizationId,
    ) -> DomainResult<Organization> {
        store
            .organization(id)
            .await?
            .ok_or_else(|| DomainError::internal(format!("dangling organization {id}")))
    }
}
