use concierge_domain::ids::*;
use concierge_domain::model::{
    PendingSsoLogins, SsoConnection, SsoIdentity, SsoLogin, SsoLoginStage, SsoProvisioning, User,
};
use concierge_domain::storage::{Storage, StorageError, UniqueKey};
use concierge_domain::values::Secret;

use crate::fixtures::*;

fn connection(org: &Org, author: &User, site: Option<SiteId>) -> SsoConnection {
    SsoConnection {
        organization_id: org.id(),
        issuer: "https://idp.example.com/realms/acme".into(),
        client_id: "concierge".into(),
        sealed_client_secret: "sealed-secret".into(),
        allowed_domains: vec!["acme.test".into(), "acme.example".into()],
        provisioning: SsoProvisioning::CreatePerson,
        default_site_id: site,
        require_sso: true,
        break_glass_user_ids: vec![author.id],
        configured_by: author.id,
        updated_at: now(),
    }
}

fn login(org: &Org, hash: &str, expires_in_minutes: i64) -> SsoLogin {
    from(org, hash, expires_in_minutes, None)
}

/// A sign-in started from `address`.
fn from(org: &Org, hash: &str, expires_in_minutes: i64, address: Option<&str>) -> SsoLogin {
    SsoLogin {
        id: SsoLoginId::new(),
        organization_id: org.id(),
        stage: SsoLoginStage::AtProvider,
        secret_hash: Secret::new(hash.to_owned()),
        issuer: "https://idp.example.com/realms/acme".into(),
        nonce: "nonce".into(),
        sealed_pkce_verifier: "sealed-verifier".into(),
        return_to: "/welcome".into(),
        user_id: None,
        client_address: address.map(str::to_owned),
        created_at: now(),
        expires_at: at(expires_in_minutes),
    }
}

/// A provider per organization, linked accounts, and sign-ins moving from one secret to the
/// next and deleted: every column read back as written, on both backends.
pub async fn single_sign_on_round_trip(store: &dyn Storage) {
    let (_, partner, company) = seed_tree(store).await;
    let ada = user(&company, "Ada", "Lovelace", Some("ada@example.com"), None);
    let paris = site(&company, "Paris");
    let configured = connection(&company, &ada, Some(paris.id));
    let mut tx = begin(store).await;
    tx.insert_user(&ada).await.expect("user");
    tx.insert_sso_connection(&configured).await.expect("insert");
    assert_eq!(
        tx.insert_sso_connection(&configured).await,
        Err(StorageError::Unique(UniqueKey::SsoConnection)),
        "one provider per organization"
    );
    commit(tx).await;
    assert_eq!(
        store.sso_connection(company.id()).await.expect("read"),
        Some(configured.clone())
    );
    assert_eq!(
        store.sso_connection(partner.id()).await.expect("read"),
        None
    );

    let mut tx = begin(store).await;
    let mut locked = tx
        .lock_sso_connection(company.id())
        .await
        .expect("lock")
        .expect("found");
    locked.require_sso = false;
    locked.allowed_domains = vec!["acme.test".into()];
    locked.provisioning = SsoProvisioning::LinkOnly;
    locked.default_site_id = None;
    tx.update_sso_connection(&locked).await.expect("update");
    let changed = (*locked).clone();
    commit(tx).await;
    assert_eq!(
        store.sso_connection(company.id()).await.expect("read"),
        Some(changed)
    );

    // Linked accounts: (iss, sub) once.
    let identity = SsoIdentity {
        issuer: configured.issuer.clone(),
        subject: "ada-at-idp".into(),
        user_id: ada.id,
        organization_id: company.id(),
        created_at: now(),
    };
    let mut tx = begin(store).await;
    tx.insert_sso_identity(&identity).await.expect("link");
    assert_eq!(
        tx.insert_sso_identity(&identity).await,
        Err(StorageError::Unique(UniqueKey::SsoIdentity))
    );
    commit(tx).await;
    assert_eq!(
        store
            .sso_identity(&identity.issuer, "ada-at-idp")
            .await
            .expect("read"),
        Some(identity.clone())
    );
    assert_eq!(
        store
            .sso_identity("https://other.example.com", "ada-at-idp")
            .await
            .expect("read"),
        None
    );

    // A sign-in found by its state, then by its one-time code; an expired one swept, the
    // others counted (all, and those from one address), another organization's left alone.
    let pending = from(&company, "state-hash", 10, Some("192.0.2.7"));
    let stale = from(&company, "stale-hash", -1, Some("192.0.2.7"));
    let elsewhere = from(&company, "elsewhere-hash", 10, Some("198.51.100.1"));
    let unknown = login(&company, "unknown-hash", 10);
    let other = from(&partner, "other-hash", 10, Some("192.0.2.7"));
    let mut tx = begin(store).await;
    for login in [&pending, &stale, &elsewhere, &unknown, &other] {
        tx.insert_sso_login(login).await.expect("insert");
    }
    commit(tx).await;
    assert_eq!(
        store.sso_login_by_hash("state-hash").await.expect("read"),
        Some(pending.clone())
    );
    let mut tx = begin(store).await;
    assert_eq!(
        tx.sweep_sso_logins(company.id(), at(0), Some("192.0.2.7"))
            .await
            .expect("sweep"),
        PendingSsoLogins {
            total: 3,
            from_address: 1
        }
    );
    assert_eq!(
        tx.sweep_sso_logins(company.id(), at(0), None)
            .await
            .expect("count"),
        PendingSsoLogins {
            total: 3,
            from_address: 0
        }
    );
    let mut locked = tx
        .lock_sso_login_by_hash("state-hash")
        .await
        .expect("lock")
        .expect("found");
    locked.stage = SsoLoginStage::SignedIn;
    locked.secret_hash = Secret::new("code-hash".into());
    locked.user_id = Some(ada.id);
    locked.expires_at = at(2);
    tx.update_sso_login(&locked).await.expect("update");
    let signed_in = (*locked).clone();
    commit(tx).await;
    assert_eq!(
        store.sso_login_by_hash("stale-hash").await.expect("read"),
        None
    );
    assert_eq!(
        store.sso_login_by_hash("other-hash").await.expect("read"),
        Some(other)
    );
    assert_eq!(
        store.sso_login_by_hash("state-hash").await.expect("read"),
        None
    );
    assert_eq!(
        store.sso_login_by_hash("code-hash").await.expect("read"),
        Some(signed_in)
    );
    let mut tx = begin(store).await;
    let locked = tx
        .lock_sso_login_by_hash("code-hash")
        .await
        .expect("lock")
        .expect("found");
    tx.delete_sso_login(locked).await.expect("delete");
    commit(tx).await;
    assert_eq!(
        store.sso_login_by_hash("code-hash").await.expect("read"),
        None
    );

    // Removing the provider.
    let mut tx = begin(store).await;
    let locked = tx
        .lock_sso_connection(company.id())
        .await
        .expect("lock")
        .expect("found");
    tx.delete_sso_connection(locked).await.expect("delete");
    commit(tx).await;
    assert_eq!(
        store.sso_connection(company.id()).await.expect("read"),
        None
    );
}
