use chrono::{DateTime, Utc};

use crate::ids::{OrganizationId, PriceListId, ProfileId, SiteGroupId, SiteId, UserId};
use crate::values::{EmailAddress, Language, Name, Secret, Username};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum UserStatus {
    Invited,
    PendingApproval,
    Active,
    Inactive,
}

/// A person of one organization.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: UserId,
    pub organization_id: OrganizationId,
    pub first_name: Name,
    pub last_name: Name,
    pub email: Option<EmailAddress>,
    pub username: Option<Username>,
    pub language: Language,
    pub status: UserStatus,
    pub profile_id: ProfileId,
    pub site_ids: Vec<SiteId>,
    pub site_group_ids: Vec<SiteGroupId>,
    pub default_site_id: Option<SiteId>,
    pub external_contact: Option<String>,
    pub price_list_id: Option<PriceListId>,
    pub photo_url: Option<String>,
    pub password_hash: Option<Secret>,
    pub must_change_password: bool,
    /// HMAC of the booking code; the code itself is never stored.
    pub booking_code_hash: Option<Secret>,
    /// Bumped whenever every session must end (password change, deactivation).
    pub session_epoch: i64,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
}

impl User {
    pub fn display_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }

    /// What the person types to sign in: the e-mail, or the username for people without one.
    /// The view of someone met only through something shared (a booking's holder, an
    /// invitation's inviter) by a caller who may not see people: names and public fields stay;
    /// contact details, the login and every credential are gone.
    pub fn limited_view(&self) -> User {
        User {
            email: None,
            username: None,
            external_contact: None,
            password_hash: None,
            booking_code_hash: None,
            ..self.clone()
        }
    }

    pub fn login(&self) -> String {
        match (&self.email, &self.username) {
            (Some(email), _) => email.to_string(),
            (None, Some(username)) => username.to_string(),
            (None, None) => String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct UserQuery {
    pub organization_ids: Vec<OrganizationId>,
    /// Lower-cased substring of first name, last name, e-mail or username.
    pub search: Option<String>,
    pub status: Option<UserStatus>,
    /// Users granted this site directly or through one of `site_group_ids`.
    pub site: Option<(SiteId, Vec<SiteGroupId>)>,
    pub profile_id: Option<ProfileId>,
    pub after: Option<UserId>,
    pub first: usize,
    /// Count every matching user (`Page::total_count`, else 0): only when the caller asks.
    pub count_total: bool,
    /// Bring the profiles the listed users hold (see `Reads::users_and_profiles`).
    pub with_profiles: bool,
}
