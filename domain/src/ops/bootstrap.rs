//! First start: the platform organization and its operator.

use crate::error::{DomainError, DomainResult};
use crate::ids::{OrganizationId, ProfileId, UserId};
use crate::model::*;
use crate::ops::Domain;
use crate::ops::auth::check_password_policy;
use crate::ops::users::NewUserParts;
use crate::permissions::Permissions;
use crate::values::{EmailAddress, Language, Name, TimeZone};

#[derive(Debug, Clone, PartialEq)]
pub enum BootstrapOutcome {
    Created(User),
    AlreadyPresent(User),
}

impl Domain {
    /// Creates the platform organization (once) and an operator with this e-mail, unless a user
    /// already has it. The operator's profile grants everything.
    pub async fn bootstrap_platform(
        &self,
        email: &str,
        password: &str,
    ) -> DomainResult<BootstrapOutcome> {
        let email = EmailAddress::parse("BOOTSTRAP_ADMIN_EMAIL", email)?;
        if let Some(existing) = self.store.user_by_login(email.as_str()).await? {
            return Ok(BootstrapOutcome::AlreadyPresent(existing));
        }
        check_password_policy("BOOTSTRAP_ADMIN_PASSWORD", password)?;
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let (organization, profile, new_org) = match tx.platform_organization().await? {
            Some(org) => {
                let profile = tx
                    .profiles_of(&[org.id])
                    .await?
                    .into_iter()
                    .find(|p| p.built_in)
                    .ok_or_else(|| {
                        DomainError::internal("platform without its built-in profile")
                    })?;
                (org, profile, false)
            }
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
                (org, profile, true)
            }
        };
        if new_org {
            tx.insert_organization(&organization).await?;
            tx.insert_profile(&profile).await?;
        }
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
            password: Some(password.to_owned()),
        };
        let (user, _) = self.insert_new_user(&mut *tx, None, parts).await?;
        tx.commit().await?;
        Ok(BootstrapOutcome::Created(user))
    }
}
