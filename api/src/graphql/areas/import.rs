//! Bulk import of people (`importUsers`): rows as `createUser` takes them, a dry run that
//! reports every problem, a real run that creates everyone or nobody.

use async_graphql::{Context, ErrorExtensions, ID, InputObject, Object, SimpleObject};
use concierge_domain as d;
use uuid::Uuid;

use crate::graphql::context::acting;
use crate::graphql::errors::{GqlResult, parse_id};
use crate::graphql::types::*;

/// One person of an import: what `createUser` takes, the organization aside.
#[derive(InputObject)]
pub struct ImportUserRow {
    pub first_name: String,
    pub last_name: String,
    /// The login; required for profiles that may add users.
    pub email: Option<String>,
    /// The login of people without e-mail (unique, case-insensitive, immutable).
    pub username: Option<String>,
    pub language: Option<Language>,
    /// The organization's default profile when omitted.
    pub profile_id: Option<ID>,
    pub site_ids: Option<Vec<ID>>,
    pub site_group_ids: Option<Vec<ID>>,
    pub default_site_id: Option<ID>,
    pub external_contact: Option<String>,
    pub price_list_id: Option<ID>,
    pub photo_url: Option<String>,
    /// Overrides the import's `sendCredentialsTo` for this person.
    pub send_credentials_to: Option<CredentialsRecipient>,
}

#[derive(InputObject)]
pub struct ImportUsersInput {
    pub organization_id: ID,
    /// At most 1,000 rows.
    pub rows: Vec<ImportUserRow>,
    /// Only check: every problem of every row is reported and nothing is created.
    #[graphql(default = false)]
    pub dry_run: bool,
    /// Where each person's credentials are e-mailed unless their row says otherwise; to the
    /// person (`USER`) when omitted.
    pub send_credentials_to: Option<CredentialsRecipient>,
}

/// A problem of one row: what `createUser` would have answered for it.
#[derive(SimpleObject)]
pub struct ImportProblem {
    /// The row's number: the first row is 1.
    pub row: i32,
    /// The row's field at fault (`email`, `siteIds`, …).
    pub field: String,
    /// The `extensions.code` `createUser` would have answered (`VALIDATION`, `CONFLICT`,
    /// `NOT_FOUND`, `FORBIDDEN`).
    pub code: String,
    pub message: String,
}

#[derive(SimpleObject)]
pub struct ImportedUser {
    /// The row's number: the first row is 1.
    pub row: i32,
    pub user: UserObject,
    /// Shown this once, never readable again.
    pub credentials: Credentials,
}

#[derive(SimpleObject)]
pub struct ImportUsersPayload {
    pub dry_run: bool,
    /// Every problem of every row (a dry run); a real run with problems answers an error
    /// instead and creates nobody.
    pub problems: Vec<ImportProblem>,
    /// The people created, in row order (empty for a dry run).
    pub imported: Vec<ImportedUser>,
}

/// A row's ID. One that is not an ID of ours names nothing: the nil UUID, never issued, so the
/// row is told NOT_FOUND on its field as for an unknown one (rather than failing the import).
fn row_id<T>(id: &ID, make: fn(Uuid) -> T) -> T {
    make(Uuid::parse_str(id.trim()).unwrap_or(Uuid::nil()))
}

fn row_ids<T>(ids: Option<&[ID]>, make: fn(Uuid) -> T) -> Vec<T> {
    ids.unwrap_or_default()
        .iter()
        .map(|id| row_id(id, make))
        .collect()
}

impl From<ImportUserRow> for d::ImportRow {
    fn from(row: ImportUserRow) -> Self {
        d::ImportRow {
            first_name: row.first_name,
            last_name: row.last_name,
            email: row.email,
            username: row.username,
            language: row.language.map(Into::into),
            profile_id: row.profile_id.as_ref().map(|id| row_id(id, d::ProfileId)),
            site_ids: row_ids(row.site_ids.as_deref(), d::SiteId),
            site_group_ids: row_ids(row.site_group_ids.as_deref(), d::SiteGroupId),
            default_site_id: row.default_site_id.as_ref().map(|id| row_id(id, d::SiteId)),
            external_contact: row.external_contact,
            price_list_id: row
                .price_list_id
                .as_ref()
                .map(|id| row_id(id, d::PriceListId)),
            photo_url: row.photo_url,
            send_credentials_to: row.send_credentials_to.map(Into::into),
        }
    }
}

fn row_number(row: usize) -> i32 {
    i32::try_from(row).unwrap_or(i32::MAX)
}

impl From<d::ImportProblem> for ImportProblem {
    fn from(p: d::ImportProblem) -> Self {
        ImportProblem {
            row: row_number(p.row),
            field: p.field,
            code: p.code.as_str().to_owned(),
            message: p.message,
        }
    }
}

/// A real run whose rows have problems: nothing was created. The error carries the first
/// problem's code, the field `rows`, and every problem in `extensions.problems`.
fn problems_error(problems: Vec<d::ImportProblem>) -> async_graphql::Error {
    let code = problems
        .first()
        .map_or(d::ErrorCode::Validation, |p| p.code);
    let summary = match problems.first() {
        Some(first) => format!(
            "nothing was imported: {} problem(s), the first on row {} ({}): {}",
            problems.len(),
            first.row,
            first.field,
            first.message
        ),
        None => "nothing was imported".to_owned(),
    };
    let listed = serde_json::Value::Array(
        problems
            .into_iter()
            .map(|p| {
                serde_json::json!({
                    "row": p.row,
                    "field": p.field,
                    "code": p.code.as_str(),
                    "message": p.message,
                })
            })
            .collect(),
    );
    async_graphql::Error::new(summary).extend_with(|_, ext| {
        ext.set("code", code.as_str());
        ext.set("field", "rows");
        if let Ok(listed) = async_graphql::Value::from_json(listed.clone()) {
            ext.set("problems", listed);
        }
    })
}

#[derive(Default)]
pub struct ImportMutation;

#[Object]
impl ImportMutation {
    /// Creates up to 1,000 people of an organization at once, all or none (needs
    /// `users: MANAGE`; each row may grant only what `createUser` would). With `dryRun`, only
    /// reports every problem of every row.
    async fn import_users(
        &self,
        ctx: &Context<'_>,
        input: ImportUsersInput,
    ) -> async_graphql::Result<ImportUsersPayload> {
        let (domain, actor) = acting(ctx)?;
        let import = d::UserImport {
            organization_id: Some(parse_id(&input.organization_id, "organization")?),
            rows: input.rows.into_iter().map(Into::into).collect(),
            dry_run: input.dry_run,
            send_credentials_to: input.send_credentials_to.map(Into::into),
        };
        let outcome = domain.import_users(&actor, import).await.gql()?;
        if !outcome.dry_run && !outcome.problems.is_empty() {
            return Err(problems_error(outcome.problems));
        }
        Ok(ImportUsersPayload {
            dry_run: outcome.dry_run,
            problems: outcome.problems.into_iter().map(Into::into).collect(),
            imported: outcome
                .created
                .into_iter()
                .enumerate()
                .map(|(index, created)| ImportedUser {
                    row: row_number(index + 1),
                    user: UserObject::from(created.user),
                    credentials: created.credentials.into(),
                })
                .collect(),
        })
    }
}
