//! First start: the platform organization and its operator.

use crate::error::DomainResult;
use crate::ids::{OrganizationId, ProfileId, UserId};
use crate::model::*;
use crate::ops::Domain;
use crate::ops::auth::check_password_policy;
use crate::ops::users::NewUserParts;
use crate::permissions::Permissions;
use crate::values::{EmailAddress, Language, Name, TimeZone};

#[derive(Debug, Clone, PartialEq)]
pub enum BootstrapOutcome {
    Created(Box<User>),
    /// The installation already has its platform organization (and so its operators): nothing
    /// was created, whatever the e-mail.
    AlreadyPresent(Organization),
}

impl Domain {
    /// On an installation that has no platform organization yet, creates it and its first
    /// operator, with this e-mail; the operator's profile grants everything. Once the platform
    /// exists this does nothing, whatever the e-mail: an operator who changed their e-mail (or
    /// was removed) is never re-created from a start-up setting left in place.
    pub async fn bootstrap_platform(
        &self,
        email: &str,
        password: &str,
    ) -> DomainResult<BootstrapOutcome> {
        let email = EmailAddress::parse("BOOTSTRAP_ADMIN_EMAIL", email)?;
        if let Some(platform) = self.store.platform_organization().await? {
            return Ok(BootstrapOutcome::AlreadyPresent(platform));
        }
        check_password_policy("BOOTSTRAP_ADMIN_PASSWORD", password)?;
        let now = self.now();
        let password = self.new_password(Some(password), true).await?;
        let mut tx = self.store.begin().await?;
        // Checked again in the transaction: another process may have bootstrapped meanwhile.
        let (organization, profile) = match tx.platform_organization().await? {
            Some(platform) => return Ok(BootstrapOutcome::AlreadyPresent(platform)),
            None => {
                let id = OrganizationId::new();
                let profile = Profile {
                    id: ProfileId::new(),
                    organization_id: id,
                    name: Name::parse("name", ENTERPRISE_PROFILE_NAME)?,
                    built_in: true,
                    permissions: Permissions::enterprise(OrganizationKind::Platform),
                    created_at: now,
                };
                let org = Organization {
                    id,
                    kind: OrganizationKind::Platform,
                    name: Name::parse("name", "Platform")?,
                    parent_id: None,
                    admin_email: Some(email.clone()),
                    external_contact: None,
                    default_language: Language::En,
                    time_zone: TimeZone::utc(),
                    default_profile_id: profile.id,
                    price_list_id: None,
                    created_at: now,
                };
                (org, profile)
            }
        };
        tx.insert_organization(&organization).await?;
        tx.insert_profile(&profile).await?;
        let parts = NewUserParts {
            id: UserId::new(),
            organization: &organization,
            first_name: Name::parse("firstName", "Platform")?,
            last_name: Name::parse("lastName", "Operator")?,
            email: Some(email),
            username: None,
            language: Language::En,
            profile: &profile,
            site_ids: vec![],
            site_group_ids: vec![],
            default_site_id: None,
            external_contact: None,
            price_list_id: None,
            photo_url: None,
            status: UserStatus::Active,
            password: Some(password),
        };
        let (user, _) = self.insert_new_user(&mut *tx, None, parts).await?;
        tx.commit().await?;
        Ok(BootstrapOutcome::Created(Box::new(user)))
    }
}
