//! Bulk onboarding without a directory: up to [`MAX_IMPORT_ROWS`] people at once, each row
//! what `createUser` takes. A dry run reports every problem of every row (its number and field)
//! and changes nothing; a real run creates everyone in one transaction or nobody.
//!
//! Every rule is `createUser`'s own, called rather than restated: the profile a row gives
//! ([`Domain::assignable_profile`]: no richer than the caller's), the sites and site groups
//! ([`Domain::check_grants`]: of the organization and within the caller's access), the default
//! site, the price list, free logins, where credentials are e-mailed. Checks that depend only on
//! what a row names (a profile, a set of grants, a price list) run once per distinct value.
//!
//! The unit of work follows docs/architecture.md: checks on committed data, Argon2 (the
//! temporary passwords), booking-code draws and the sealing of the credential e-mails before the
//! transaction; then one transaction inserts the users in one batch, their audit events and
//! their credential e-mails in another (a few statements on PostgreSQL). A login or
//! booking code taken meanwhile (the storage's unique keys), or a profile or site removed
//! meanwhile, makes the attempt `Contended`: it runs once more from the checks, which then
//! name the row.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::access::Actor;
use crate::error::{DomainError, DomainResult, ErrorCode};
use crate::ids::{OrganizationId, PriceListId, ProfileId, SiteGroupId, SiteId, UserId};
use crate::model::{Organization, Profile, User, UserStatus};
use crate::ops::users::{NewPassword, credentials_recipient, logins_free, non_empty};
use crate::ops::{CreatedUser, CredentialsRecipient, Domain, IssuedCredentials, user_target};
use crate::permissions::UsersPermission;
use crate::secrets::{BOOKING_CODE_DIGITS, default_hash_concurrency, random_digits};
use crate::storage::StorageError;
use crate::values::{EmailAddress, Language, Name, Secret, Username, optional_text, optional_url};

/// The most rows one import takes.
pub const MAX_IMPORT_ROWS: usize = 1_000;

/// One person to create: what `createUser` takes, the organization aside.
#[derive(Debug, Clone, Default)]
pub struct ImportRow {
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub username: Option<String>,
    pub language: Option<Language>,
    pub profile_id: Option<ProfileId>,
    pub site_ids: Vec<SiteId>,
    pub site_group_ids: Vec<SiteGroupId>,
    pub default_site_id: Option<SiteId>,
    pub external_contact: Option<String>,
    pub price_list_id: Option<PriceListId>,
    pub photo_url: Option<String>,
    /// Overrides the import's [`UserImport::send_credentials_to`] for this row.
    pub send_credentials_to: Option<CredentialsRecipient>,
}

#[derive(Debug, Clone, Default)]
pub struct UserImport {
    /// The caller's organization when omitted.
    pub organization_id: Option<OrganizationId>,
    pub rows: Vec<ImportRow>,
    /// Check only: report every problem, change nothing.
    pub dry_run: bool,
    /// Where each row's credentials are e-mailed unless the row says otherwise: to the person
    /// (`User`) when omitted.
    pub send_credentials_to: Option<CredentialsRecipient>,
}

/// One problem of one row: its number (the first row is 1), the field, and what `createUser`
/// would have answered for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportProblem {
    pub row: usize,
    pub field: String,
    pub code: ErrorCode,
    pub message: String,
}

/// What an import did: nothing (a dry run, or rows with problems) or everyone created.
#[derive(Debug, Clone)]
pub struct ImportOutcome {
    pub dry_run: bool,
    /// Every problem of every row, by row then field order; empty when the rows are fine.
    pub problems: Vec<ImportProblem>,
    /// The people created, in row order, with their credentials (shown once); empty for a dry
    /// run or when there were problems.
    pub created: Vec<CreatedUser>,
}

/// A row whose checks all passed.
struct ValidRow {
    first_name: Name,
    last_name: Name,
    email: Option<EmailAddress>,
    username: Option<Username>,
    language: Language,
    profile_id: ProfileId,
    site_ids: Vec<SiteId>,
    site_group_ids: Vec<SiteGroupId>,
    default_site_id: Option<SiteId>,
    external_contact: Option<String>,
    price_list_id: Option<PriceListId>,
    photo_url: Option<String>,
    send_to: Option<EmailAddress>,
}

/// Validated grants (`Grants` of `check_grants`), kept per distinct request.
#[derive(Clone)]
struct Granted {
    site_ids: Vec<SiteId>,
    site_group_ids: Vec<SiteGroupId>,
    effective: BTreeSet<SiteId>,
}

/// The answers of checks that depend only on what a row names, by what it names.
#[derive(Default)]
struct Memo {
    profiles: HashMap<Option<ProfileId>, DomainResult<Profile>>,
    grants: HashMap<(BTreeSet<SiteId>, BTreeSet<SiteGroupId>), DomainResult<Granted>>,
    price_lists: HashMap<PriceListId, DomainResult<Option<PriceListId>>>,
}

/// The problems of one row, collected rather than stopping at the first.
struct RowProblems<'a> {
    row: usize,
    found: &'a mut Vec<ImportProblem>,
    any: bool,
}

impl RowProblems<'_> {
    /// Records `error` on `field` (or on the field the error names). Errors that are not about
    /// the input (storage down, a bug) end the whole import instead.
    fn add(&mut self, field: &str, error: DomainError) -> DomainResult<()> {
        match error.code() {
            ErrorCode::Validation
            | ErrorCode::Conflict
            | ErrorCode::NotFound
            | ErrorCode::Forbidden => {}
            _ => return Err(error),
        }
        self.any = true;
        self.found.push(ImportProblem {
            row: self.row,
            field: error.field().unwrap_or(field).to_owned(),
            code: error.code(),
            message: error.public_message(),
        });
        Ok(())
    }

    /// The value of `result`, or `None` with its error recorded on `field`.
    fn check<T>(&mut self, field: &str, result: DomainResult<T>) -> DomainResult<Option<T>> {
        match result {
            Ok(value) => Ok(Some(value)),
            Err(error) => self.add(field, error).map(|()| None),
        }
    }
}

impl Domain {
    /// Creates up to [`MAX_IMPORT_ROWS`] people of an organization at once, or (a dry run)
    /// only reports what is wrong with the rows. Needs what `createUser` needs (`users: MANAGE`
    /// in an organization the caller may write in); each row may grant only what `createUser`
    /// would let the caller grant.
    pub async fn import_users(
        &self,
        actor: &Actor,
        input: UserImport,
    ) -> DomainResult<ImportOutcome> {
        let org = self
            .organization(
                actor,
                input.organization_id.unwrap_or(actor.organization.id),
            )
            .await?;
        actor.require_write_in(&org)?;
        actor.require("users", actor.permissions.users, UsersPermission::Manage)?;
        if input.rows.is_empty() {
            return Err(DomainError::validation("rows", "give at least one row"));
        }
        if input.rows.len() > MAX_IMPORT_ROWS {
            return Err(DomainError::validation(
                "rows",
                format!(
                    "at most {MAX_IMPORT_ROWS} rows per import; this one has {}: split it",
                    input.rows.len()
                ),
            ));
        }
        let mut passwords: Option<Vec<NewPassword>> = None;
        let mut contended = false;
        loop {
            let (valid, problems) = self.check_import_rows(actor, &org, &input).await?;
            if input.dry_run || !problems.is_empty() {
                return Ok(ImportOutcome {
                    dry_run: input.dry_run,
                    problems,
                    created: Vec::new(),
                });
            }
            // Argon2 before the transaction; a second attempt keeps the first one's hashes
            // (the rows, hence who has an e-mail, are the same).
            let hashed = match passwords.take() {
                Some(hashed) => hashed,
                None => self.new_passwords(&valid).await?,
            };
            match self.insert_import(actor, &org, &valid, &hashed).await {
                Err(DomainError::Contended) if !contended => {
                    contended = true;
                    passwords = Some(hashed);
                }
                Err(DomainError::Contended) => {
                    return Err(DomainError::conflict(
                        "rows",
                        "changed concurrently by someone else; try again",
                    ));
                }
                Err(error) => return Err(error),
                Ok(created) => {
                    return Ok(ImportOutcome {
                        dry_run: false,
                        problems: Vec::new(),
                        created,
                    });
                }
            }
        }
    }

    /// Every row through `createUser`'s checks, on committed data: the valid rows (when all
    /// are) and every problem found.
    async fn check_import_rows(
        &self,
        actor: &Actor,
        org: &Organization,
        input: &UserImport,
    ) -> DomainResult<(Vec<ValidRow>, Vec<ImportProblem>)> {
        let default_recipient = input
            .send_credentials_to
            .unwrap_or(CredentialsRecipient::User);
        let mut memo = Memo::default();
        let mut problems = Vec::new();
        let mut valid = Vec::with_capacity(input.rows.len());
        // Logins seen so far in the file (lower-cased, as stored), by the row that had them.
        let mut logins: HashMap<String, usize> = HashMap::new();
        // Which of the file's logins someone holds already: one read for the whole file.
        let candidates: Vec<String> = input
            .rows
            .iter()
            .flat_map(|row| {
                let email = non_empty(row.email.as_deref())
                    .and_then(|raw| EmailAddress::parse("email", raw).ok())
                    .map(|e| e.as_str().to_owned());
                let username = non_empty(row.username.as_deref())
                    .and_then(|raw| Username::parse("username", raw).ok())
                    .map(|u| u.as_str().to_owned());
                [email, username]
            })
            .flatten()
            .collect();
        let taken: HashSet<String> = self
            .store
            .logins_taken(&candidates)
            .await?
            .into_iter()
            .collect();
        for (index, row) in input.rows.iter().enumerate() {
            let mut found = RowProblems {
                row: index + 1,
                found: &mut problems,
                any: false,
            };
            let first_name = found.check("firstName", Name::parse("firstName", &row.first_name))?;
            let last_name = found.check("lastName", Name::parse("lastName", &row.last_name))?;
            let email_raw = non_empty(row.email.as_deref());
            let email = match email_raw {
                Some(raw) => found.check("email", EmailAddress::parse("email", raw))?,
                None => None,
            };
            let username_raw = non_empty(row.username.as_deref());
            let username = match username_raw {
                Some(raw) => found.check("username", Username::parse("username", raw))?,
                None => None,
            };
            // What follows from the logins is judged only on logins that parsed.
            let mut logins_ok = email.is_some() == email_raw.is_some()
                && username.is_some() == username_raw.is_some();
            if logins_ok && email.is_none() && username.is_none() {
                logins_ok = false;
                found.add(
                    "username",
                    DomainError::validation(
                        "username",
                        "a user without e-mail needs a username to sign in",
                    ),
                )?;
            }
            let send_to = if logins_ok {
                found
                    .check(
                        "sendCredentialsTo",
                        credentials_recipient(
                            row.send_credentials_to.unwrap_or(default_recipient),
                            email.as_ref(),
                            org.admin_email.as_ref(),
                        ),
                    )?
                    .flatten()
            } else {
                None
            };
            let profile = match memo.profiles.get(&row.profile_id) {
                Some(known) => known.clone(),
                None => {
                    let checked = self.assignable_profile(actor, org, row.profile_id).await;
                    memo.profiles.insert(row.profile_id, checked.clone());
                    checked
                }
            };
            let profile = found.check("profileId", profile)?;
            if let Some(profile) = &profile
                && logins_ok
                && email.is_none()
                && profile.permissions.users >= UsersPermission::InviteWithApproval
            {
                found.add(
                    "email",
                    DomainError::validation(
                        "email",
                        "an e-mail is required for a profile that may add users",
                    ),
                )?;
            }
            let key: (BTreeSet<SiteId>, BTreeSet<SiteGroupId>) = (
                row.site_ids.iter().copied().collect(),
                row.site_group_ids.iter().copied().collect(),
            );
            let grants = match memo.grants.get(&key) {
                Some(known) => known.clone(),
                None => {
                    let checked = self
                        .check_grants(actor, org, &row.site_ids, &row.site_group_ids)
                        .await
                        .map(|g| Granted {
                            site_ids: g.site_ids,
                            site_group_ids: g.site_group_ids,
                            effective: g.effective,
                        });
                    memo.grants.insert(key, checked.clone());
                    checked
                }
            };
            let grants_field = if row.site_group_ids.is_empty() {
                "siteIds"
            } else {
                "siteGroupIds"
            };
            let grants = found.check(grants_field, grants)?;
            if let Some(grants) = &grants {
                let default = self
                    .check_default_site(actor, org, row.default_site_id, &grants.effective)
                    .await;
                found.check("defaultSiteId", default)?;
            }
            let external_contact = found.check(
                "externalContact",
                optional_text(
                    "externalContact",
                    row.external_contact.as_deref(),
                    Name::MAX,
                ),
            )?;
            let photo_url = found.check(
                "photoUrl",
                optional_url("photoUrl", row.photo_url.as_deref()),
            )?;
            let price_list_id = match row.price_list_id {
                None => Some(None),
                Some(id) => {
                    let checked = match memo.price_lists.get(&id) {
                        Some(known) => known.clone(),
                        None => {
                            let checked = self.check_user_price_list(actor, org, Some(id)).await;
                            memo.price_lists.insert(id, checked.clone());
                            checked
                        }
                    };
                    found.check("priceListId", checked)?
                }
            };
            // Logins: unique in the file (the first row having one keeps it, and is told if
            // someone has it already), and free.
            let mut repeated = |field: &str, login: Option<&str>| -> DomainResult<bool> {
                let Some(login) = login else {
                    return Ok(false);
                };
                match logins.get(login) {
                    Some(first) => {
                        let message = format!("also on row {first} of this import");
                        found.add(field, DomainError::conflict(field, message))?;
                        Ok(true)
                    }
                    None => {
                        logins.insert(login.to_owned(), index + 1);
                        Ok(false)
                    }
                }
            };
            let email_repeated = repeated("email", email.as_ref().map(EmailAddress::as_str))?;
            let username_repeated = repeated("username", username.as_ref().map(Username::as_str))?;
            let free = logins_free(
                email.as_ref().filter(|_| !email_repeated),
                username.as_ref().filter(|_| !username_repeated),
                |login| taken.contains(login),
            );
            found.check("email", free)?;

            if found.any {
                continue;
            }
            let (
                Some(first_name),
                Some(last_name),
                Some(profile),
                Some(grants),
                Some(external_contact),
                Some(photo_url),
                Some(price_list_id),
            ) = (
                first_name,
                last_name,
                profile,
                grants,
                external_contact,
                photo_url,
                price_list_id,
            )
            else {
                return Err(DomainError::internal(
                    "an import row passed with a value missing",
                ));
            };
            valid.push(ValidRow {
                first_name,
                last_name,
                email,
                username,
                language: row.language.unwrap_or(org.default_language),
                profile_id: profile.id,
                site_ids: grants.site_ids,
                site_group_ids: grants.site_group_ids,
                default_site_id: row.default_site_id,
                external_contact,
                price_list_id,
                photo_url,
                send_to,
            });
        }
        Ok((valid, problems))
    }

    /// The rows' temporary passwords, hashed on the blocking pool: as many at once as there are
    /// hashing slots (`Secrets`), never more, so that sign-ins arriving meanwhile queue behind
    /// one hash of the import rather than behind all of them.
    async fn new_passwords(&self, rows: &[ValidRow]) -> DomainResult<Vec<NewPassword>> {
        let window = default_hash_concurrency();
        let mut hashed: Vec<Option<NewPassword>> = rows.iter().map(|_| None).collect();
        let mut running = tokio::task::JoinSet::new();
        let mut next = 0;
        loop {
            while running.len() < window && next < rows.len() {
                let domain = self.clone();
                let has_email = rows[next].email.is_some();
                let index = next;
                running.spawn(async move { (index, domain.new_password(None, has_email).await) });
                next += 1;
            }
            let Some(done) = running.join_next().await else {
                break;
            };
            let (index, password) =
                done.map_err(|e| DomainError::internal(format!("hashing task: {e}")))?;
            hashed[index] = Some(password?);
        }
        hashed
            .into_iter()
            .map(|p| p.ok_or_else(|| DomainError::internal("a password was not hashed")))
            .collect()
    }

    /// A booking code for each row, unused in the organization (as committed) and distinct
    /// within the import.
    async fn new_booking_codes(
        &self,
        org: OrganizationId,
        count: usize,
    ) -> DomainResult<Vec<(String, Secret)>> {
        let mut drawn: HashSet<String> = HashSet::with_capacity(count);
        let mut codes = Vec::with_capacity(count);
        // Draw what is missing, then one read tells which of the draws someone holds (under
        // the current pepper or the previous one); a few rounds at most.
        for _ in 0..8 {
            if codes.len() == count {
                return Ok(codes);
            }
            let candidates: Vec<String> = (codes.len()..count)
                .map(|_| random_digits(BOOKING_CODE_DIGITS))
                .collect();
            let hashes: Vec<String> = candidates
                .iter()
                .flat_map(|code| self.secrets.booking_code_hashes(org, code))
                .map(|hash| hash.expose().to_owned())
                .collect();
            let taken: HashSet<String> = self
                .store
                .booking_code_hashes_taken(org, &hashes)
                .await?
                .into_iter()
                .collect();
            for code in candidates {
                let held = self
                    .secrets
                    .booking_code_hashes(org, &code)
                    .into_iter()
                    .any(|hash| taken.contains(hash.expose()));
                let hash = self.secrets.booking_code_hash(org, &code);
                if !held && drawn.insert(hash.expose().to_owned()) {
                    codes.push((code, hash));
                }
            }
        }
        if codes.len() == count {
            Ok(codes)
        } else {
            Err(DomainError::internal("could not draw unused booking codes"))
        }
    }

    /// The transaction: every user in one batch, each one's `user.created` event and credential
    /// e-mail, one `users.imported` event; all committed together or nothing.
    async fn insert_import(
        &self,
        actor: &Actor,
        org: &Organization,
        rows: &[ValidRow],
        passwords: &[NewPassword],
    ) -> DomainResult<Vec<CreatedUser>> {
        let codes = self.new_booking_codes(org.id, rows.len()).await?;
        let now = self.now();
        let mut created = Vec::with_capacity(rows.len());
        for ((row, password), (code, code_hash)) in rows.iter().zip(passwords).zip(codes) {
            let user = User {
                id: UserId::new(),
                organization_id: org.id,
                first_name: row.first_name.clone(),
                last_name: row.last_name.clone(),
                email: row.email.clone(),
                username: row.username.clone(),
                language: row.language,
                status: UserStatus::Active,
                profile_id: row.profile_id,
                site_ids: row.site_ids.clone(),
                site_group_ids: row.site_group_ids.clone(),
                default_site_id: row.default_site_id,
                external_contact: row.external_contact.clone(),
                price_list_id: row.price_list_id,
                photo_url: row.photo_url.clone(),
                password_hash: Some(password.hash.clone()),
                must_change_password: !password.chosen,
                booking_code_hash: Some(code_hash),
                session_epoch: 0,
                created_by: Some(actor.user.id),
                created_at: now,
            };
            let credentials = IssuedCredentials {
                login: user.login(),
                temporary_password: (!password.chosen).then(|| password.clear.clone()),
                booking_code: Some(code),
            };
            created.push(CreatedUser { user, credentials });
        }
        let users: Vec<User> = created.iter().map(|c| c.user.clone()).collect();
        // The credential e-mails `createUser` queues, sealed before the transaction opens.
        let mut emails = Vec::new();
        for (made, row) in created.iter().zip(rows) {
            if let Some(to) = &row.send_to {
                let mail = self.credentials_mail(org, &made.user, &made.credentials, to.clone());
                emails.push(self.outbound(mail)?);
            }
        }

        let mut tx = self.store.begin().await?;
        // A login or code taken, or a profile or site removed, since the checks: run them
        // again, so that the answer names the row.
        tx.insert_users(&users).await.map_err(|error| match error {
            StorageError::Unique(_) | StorageError::MissingReference(_) => DomainError::Contended,
            other => other.into(),
        })?;
        for made in &created {
            tx.insert_audit_event(&self.audit(
                Some(actor),
                Some(org.id),
                "user.created",
                user_target(made.user.id),
            ))
            .await?;
        }
        tx.insert_emails(&emails).await?;
        tx.insert_audit_event(&self.audit(
            Some(actor),
            Some(org.id),
            "users.imported",
            Some(("Organization", org.id.to_string())),
        ))
        .await?;
        tx.commit().await?;
        Ok(created)
    }
}
