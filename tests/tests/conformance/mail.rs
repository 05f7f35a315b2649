//! Links sent by e-mail (invitations, password resets) and the outbox of messages: round trips,
//! token lookups, and the claim by delivery workers (leases, limits, concurrency).

use std::collections::HashSet;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use concierge_domain::ids::*;
use concierge_domain::model::*;
use concierge_domain::storage::{Storage, StorageError, StorageResult, UniqueKey};
use concierge_domain::values::{Language, Secret};

use crate::fixtures::*;

const LINK_TOKEN: StorageError = StorageError::Unique(UniqueKey::LinkToken);

/// A company and its partner, two members of the company and one of the partner; committed.
struct Cast {
    partner: Org,
    company: Org,
    ada: User,
    bob: User,
    carol: User,
}

async fn cast(store: &dyn Storage) -> Cast {
    let (_, partner, company) = seed_tree(store).await;
    let ada = user(&company, "Ada", "Lovelace", Some("ada@example.com"), None);
    let bob = user(&company, "Bob", "Builder", Some("bob@example.com"), None);
    let carol = user(
        &partner,
        "Carol",
        "Partner",
        Some("carol@example.com"),
        None,
    );
    let mut tx = begin(store).await;
    for u in [&ada, &bob, &carol] {
        tx.insert_user(u).await.expect("user");
    }
    commit(tx).await;
    Cast {
        partner,
        company,
        ada,
        bob,
        carol,
    }
}

/// A pending invitation of `invitee` into `org`, sent by `by`.
fn invitation(org: &Org, invitee: &User, by: &User, token_hash: &str) -> Invitation {
    Invitation {
        id: InvitationId::new(),
        organization_id: org.id(),
        user_id: invitee.id,
        email: invitee.email.clone().expect("the invitee has an e-mail"),
        token_hash: Secret::new(token_hash.into()),
        accepted_at: None,
        revoked_at: None,
        expires_at: now() + Duration::days(7),
        created_by: by.id,
        created_at: now(),
    }
}

fn reset(holder: &User, token_hash: &str) -> PasswordResetToken {
    PasswordResetToken {
        id: PasswordResetId::new(),
        user_id: holder.id,
        token_hash: Secret::new(token_hash.into()),
        expires_at: now() + Duration::hours(1),
        used_at: None,
        created_at: now(),
    }
}

/// An undelivered message to `to`, due at `due`.
fn message(org: Option<&Org>, to: &str, kind: EmailKind, due: DateTime<Utc>) -> OutboundEmail {
    OutboundEmail {
        id: EmailId::new(),
        organization_id: org.map(Org::id),
        to: email(to),
        language: Language::Fr,
        kind,
        sealed_params: format!("sealed-{}", EmailId::new()),
        attempts: 0,
        next_attempt_at: due,
        sent_at: None,
        abandoned_at: None,
        last_error: None,
        created_at: now(),
    }
}

/// `m` as the worker records it when it gives up at `when`: one more failure counted, the error
/// kept, the parameters wiped, `abandoned_at` set (`next_attempt_at` left as the claim made it).
fn abandoned(m: &OutboundEmail, when: DateTime<Utc>) -> OutboundEmail {
    OutboundEmail {
        attempts: m.attempts + 1,
        last_error: Some("smtp: 550 mailbox unavailable".into()),
        sealed_params: String::new(),
        abandoned_at: Some(when),
        ..m.clone()
    }
}

/// `count` messages of `org` due at `due`, committed; in id (creation) order.
async fn queue(
    store: &dyn Storage,
    org: &Org,
    count: usize,
    due: DateTime<Utc>,
) -> Vec<OutboundEmail> {
    let messages: Vec<OutboundEmail> = (0..count)
        .map(|i| {
            message(
                Some(org),
                &format!("person{i}@example.com"),
                EmailKind::Credentials,
                due,
            )
        })
        .collect();
    let mut tx = begin(store).await;
    for m in &messages {
        tx.insert_email(m).await.expect("email");
    }
    commit(tx).await;
    messages
}

fn ids(messages: &[OutboundEmail]) -> Vec<EmailId> {
    messages.iter().map(|m| m.id).collect()
}

/// `messages` as a claim returns them: leased until `until`, nothing else changed.
fn leased(messages: &[&OutboundEmail], until: DateTime<Utc>) -> Vec<OutboundEmail> {
    messages
        .iter()
        .map(|m| OutboundEmail {
            next_attempt_at: until,
            ..(*m).clone()
        })
        .collect()
}

/// One claim in its own committed transaction.
async fn claim(
    store: &dyn Storage,
    now: DateTime<Utc>,
    lease: Duration,
    limit: usize,
) -> Vec<OutboundEmail> {
    let mut tx = begin(store).await;
    let claimed = tx.claim_emails(now, lease, limit).await.expect("claim");
    commit(tx).await;
    claimed
}

pub async fn invitations_round_trip(store: &dyn Storage) {
    let c = cast(store).await;
    let first = invitation(&c.company, &c.ada, &c.bob, "inv-1");
    let elsewhere = invitation(&c.partner, &c.carol, &c.carol, "inv-2");
    let second = invitation(&c.company, &c.bob, &c.ada, "inv-3");
    let third = Invitation {
        revoked_at: Some(now()),
        accepted_at: Some(now() - Duration::minutes(5)),
        ..invitation(&c.company, &c.ada, &c.ada, "inv-4")
    };
    // Written newest first: reads answer in id order all the same.
    let mut tx = begin(store).await;
    for i in [&third, &second, &elsewhere, &first] {
        tx.insert_invitation(i).await.expect("invitation");
    }
    commit(tx).await;

    assert_eq!(
        store.invitation(first.id).await.expect("read"),
        Some(first.clone())
    );
    assert_eq!(
        store.invitation(third.id).await.expect("read"),
        Some(third.clone())
    );
    assert_eq!(
        store.invitation(InvitationId::new()).await.expect("read"),
        None
    );
    assert_eq!(
        store.invitation_by_token_hash("inv-3").await.expect("read"),
        Some(second.clone())
    );
    assert_eq!(
        store
            .invitation_by_token_hash("unknown")
            .await
            .expect("read"),
        None
    );
    // An invitation's token is no reset's.
    assert_eq!(
        store
            .password_reset_by_token_hash("inv-1")
            .await
            .expect("read"),
        None
    );

    assert_eq!(
        store
            .invitations(&[c.company.id()], None)
            .await
            .expect("list"),
        vec![first.clone(), second.clone(), third.clone()]
    );
    assert_eq!(
        store
            .invitations(&[c.partner.id(), c.company.id()], None)
            .await
            .expect("list"),
        vec![
            first.clone(),
            elsewhere.clone(),
            second.clone(),
            third.clone()
        ]
    );
    assert_eq!(
        store
            .invitations(&[c.company.id(), c.partner.id()], Some(c.ada.id))
            .await
            .expect("list"),
        vec![first.clone(), third.clone()]
    );
    assert_eq!(
        store
            .invitations(&[c.partner.id()], Some(c.ada.id))
            .await
            .expect("list"),
        vec![]
    );
    assert_eq!(store.invitations(&[], None).await.expect("list"), vec![]);

    // Accepting, and sending again with a new token (the old one stops working).
    let accepted = Invitation {
        accepted_at: Some(now()),
        ..first.clone()
    };
    let resent = Invitation {
        token_hash: Secret::new("inv-3-again".into()),
        expires_at: now() + Duration::days(14),
        ..second.clone()
    };
    let mut tx = begin(store).await;
    tx.write_back_invitation(&accepted).await.expect("accept");
    tx.write_back_invitation(&resent).await.expect("resend");
    assert_eq!(
        tx.invitation(accepted.id).await.expect("own write"),
        Some(accepted.clone())
    );
    assert_eq!(
        tx.invitations(&[c.company.id()], Some(c.bob.id))
            .await
            .expect("own write"),
        vec![resent.clone()]
    );
    assert_eq!(
        store.invitation(accepted.id).await.expect("not yet"),
        Some(first.clone())
    );
    commit(tx).await;
    assert_eq!(
        store.invitation(accepted.id).await.expect("read"),
        Some(accepted)
    );
    assert_eq!(
        store.invitation_by_token_hash("inv-3").await.expect("read"),
        None
    );
    assert_eq!(
        store
            .invitation_by_token_hash("inv-3-again")
            .await
            .expect("read"),
        Some(resent)
    );

    // An invitation never inserted cannot be updated.
    let ghost = invitation(&c.company, &c.ada, &c.bob, "ghost");
    let mut tx = begin(store).await;
    assert!(matches!(
        tx.write_back_invitation(&ghost).await,
        Err(StorageError::Other(_))
    ));
    drop(tx);
    assert_eq!(store.invitation(ghost.id).await.expect("read"), None);
}

pub async fn password_resets_round_trip(store: &dyn Storage) {
    let c = cast(store).await;
    let first = reset(&c.ada, "reset-1");
    let other = reset(&c.carol, "reset-2");
    let mut tx = begin(store).await;
    tx.insert_password_reset(&first).await.expect("reset");
    tx.insert_password_reset(&other).await.expect("reset");
    assert_eq!(
        tx.password_reset_by_token_hash("reset-1")
            .await
            .expect("own write"),
        Some(first.clone())
    );
    assert_eq!(
        store
            .password_reset_by_token_hash("reset-1")
            .await
            .expect("not yet"),
        None
    );
    commit(tx).await;

    assert_eq!(
        store
            .password_reset_by_token_hash("reset-1")
            .await
            .expect("read"),
        Some(first.clone())
    );
    assert_eq!(
        store
            .password_reset_by_token_hash("reset-2")
            .await
            .expect("read"),
        Some(other.clone())
    );
    assert_eq!(
        store
            .password_reset_by_token_hash("unknown")
            .await
            .expect("read"),
        None
    );
    // A reset's token is no invitation's.
    assert_eq!(
        store
            .invitation_by_token_hash("reset-1")
            .await
            .expect("read"),
        None
    );

    // Used once: still found (to tell "already used" from "unknown"), with its use recorded.
    let used = PasswordResetToken {
        used_at: Some(now()),
        ..first.clone()
    };
    let mut tx = begin(store).await;
    tx.write_back_password_reset(&used).await.expect("use");
    commit(tx).await;
    assert_eq!(
        store
            .password_reset_by_token_hash("reset-1")
            .await
            .expect("read"),
        Some(used.clone())
    );

    // A new token replaces the old one.
    let renewed = PasswordResetToken {
        token_hash: Secret::new("reset-1-renewed".into()),
        used_at: None,
        ..used
    };
    let mut tx = begin(store).await;
    tx.write_back_password_reset(&renewed).await.expect("renew");
    commit(tx).await;
    assert_eq!(
        store
            .password_reset_by_token_hash("reset-1")
            .await
            .expect("read"),
        None
    );
    assert_eq!(
        store
            .password_reset_by_token_hash("reset-1-renewed")
            .await
            .expect("read"),
        Some(renewed)
    );

    let ghost = reset(&c.bob, "ghost");
    let mut tx = begin(store).await;
    assert!(matches!(
        tx.write_back_password_reset(&ghost).await,
        Err(StorageError::Other(_))
    ));
}

pub async fn unique_link_tokens(store: &dyn Storage) {
    let c = cast(store).await;
    let taken = invitation(&c.company, &c.ada, &c.bob, "inv-taken");
    let reset_taken = reset(&c.ada, "reset-taken");
    let mut tx = begin(store).await;
    tx.insert_invitation(&taken).await.expect("invitation");
    tx.insert_password_reset(&reset_taken).await.expect("reset");
    commit(tx).await;

    // Every clash is answered, and the unit of work goes on.
    let clash = invitation(&c.company, &c.bob, &c.ada, "inv-taken");
    let fine = invitation(&c.company, &c.bob, &c.ada, "inv-fine");
    let reset_clash = reset(&c.bob, "reset-taken");
    let reset_fine = reset(&c.bob, "reset-fine");
    let mut tx = begin(store).await;
    assert_eq!(tx.insert_invitation(&clash).await, Err(LINK_TOKEN));
    tx.insert_invitation(&fine).await.expect("another token");
    let stolen = Invitation {
        token_hash: Secret::new("inv-taken".into()),
        ..fine.clone()
    };
    assert_eq!(tx.write_back_invitation(&stolen).await, Err(LINK_TOKEN));
    assert_eq!(
        tx.insert_password_reset(&reset_clash).await,
        Err(LINK_TOKEN)
    );
    tx.insert_password_reset(&reset_fine)
        .await
        .expect("another token");
    let reset_stolen = PasswordResetToken {
        token_hash: Secret::new("reset-taken".into()),
        ..reset_fine.clone()
    };
    assert_eq!(
        tx.write_back_password_reset(&reset_stolen).await,
        Err(LINK_TOKEN)
    );
    // Updating a link with its own token is no clash.
    tx.write_back_invitation(&fine).await.expect("same token");
    commit(tx).await;

    assert_eq!(store.invitation(clash.id).await.expect("read"), None);
    assert_eq!(
        store.invitation(fine.id).await.expect("read"),
        Some(fine.clone())
    );
    assert_eq!(
        store
            .invitation_by_token_hash("inv-taken")
            .await
            .expect("read"),
        Some(taken)
    );
    assert_eq!(
        store
            .password_reset_by_token_hash("reset-taken")
            .await
            .expect("read"),
        Some(reset_taken)
    );
    assert_eq!(
        store
            .password_reset_by_token_hash("reset-fine")
            .await
            .expect("read"),
        Some(reset_fine)
    );

    // A token written by a transaction that rolled back is free again.
    let dropped = invitation(&c.company, &c.bob, &c.ada, "inv-dropped");
    let mut tx = begin(store).await;
    tx.insert_invitation(&dropped).await.expect("invitation");
    drop(tx);
    let again = invitation(&c.company, &c.bob, &c.ada, "inv-dropped");
    let mut tx = begin(store).await;
    tx.insert_invitation(&again)
        .await
        .expect("the token is free");
    commit(tx).await;
    assert_eq!(
        store
            .invitation_by_token_hash("inv-dropped")
            .await
            .expect("read"),
        Some(again)
    );
}

pub async fn emails_round_trip(store: &dyn Storage) {
    let c = cast(store).await;
    let credentials = message(
        Some(&c.company),
        "ada@example.com",
        EmailKind::Credentials,
        now(),
    );
    let operator = OutboundEmail {
        language: Language::En,
        ..message(
            None,
            "operator@example.com",
            EmailKind::PasswordChanged,
            now(),
        )
    };
    let invited = message(
        Some(&c.partner),
        "carol@example.com",
        EmailKind::Invitation,
        now(),
    );
    let reset_link = message(
        Some(&c.company),
        "bob@example.com",
        EmailKind::PasswordReset,
        now(),
    );
    let all = [&credentials, &operator, &invited, &reset_link];
    let mut tx = begin(store).await;
    for m in all {
        tx.insert_email(m).await.expect("email");
    }
    commit(tx).await;

    for m in all {
        assert_eq!(store.email(m.id).await.expect("read"), Some(m.clone()));
    }
    assert_eq!(store.email(EmailId::new()).await.expect("read"), None);
    assert_eq!(store.pending_email_count().await.expect("count"), 4);

    // A failed attempt, then the delivery: parameters wiped, the last error kept.
    let failed = OutboundEmail {
        attempts: 1,
        next_attempt_at: now() + Duration::minutes(2),
        last_error: Some("smtp: 451 try again later".into()),
        ..credentials.clone()
    };
    let mut tx = begin(store).await;
    tx.update_email(&failed).await.expect("failed attempt");
    commit(tx).await;
    assert_eq!(
        store.email(credentials.id).await.expect("read"),
        Some(failed.clone())
    );
    assert_eq!(store.pending_email_count().await.expect("count"), 4);

    let delivered = OutboundEmail {
        attempts: 2,
        sent_at: Some(now()),
        sealed_params: String::new(),
        ..failed
    };
    let mut tx = begin(store).await;
    tx.update_email(&delivered).await.expect("delivered");
    commit(tx).await;
    assert_eq!(
        store.email(credentials.id).await.expect("read"),
        Some(delivered)
    );

    let ghost = message(None, "nobody@example.com", EmailKind::Credentials, now());
    let mut tx = begin(store).await;
    assert!(matches!(
        tx.update_email(&ghost).await,
        Err(StorageError::Other(_))
    ));
}

pub async fn outbox_rolls_back_with_its_transaction(store: &dyn Storage) {
    let c = cast(store).await;
    let m = message(
        Some(&c.company),
        "ada@example.com",
        EmailKind::Credentials,
        at(0),
    );
    let mut tx = begin(store).await;
    tx.insert_email(&m).await.expect("email");
    assert_eq!(tx.email(m.id).await.expect("own write"), Some(m.clone()));
    assert_eq!(tx.pending_email_count().await.expect("own write"), 1);
    assert_eq!(store.email(m.id).await.expect("not yet"), None);
    drop(tx);

    assert_eq!(store.email(m.id).await.expect("read"), None);
    assert_eq!(store.pending_email_count().await.expect("count"), 0);
    assert_eq!(claim(store, at(60), Duration::minutes(5), 10).await, vec![]);
}

pub async fn claim_emails_oldest_first_with_a_lease(store: &dyn Storage) {
    let c = cast(store).await;
    let first = message(
        Some(&c.company),
        "a@example.com",
        EmailKind::Credentials,
        at(0),
    );
    let second = message(
        Some(&c.company),
        "b@example.com",
        EmailKind::Invitation,
        at(0),
    );
    let later = message(None, "c@example.com", EmailKind::PasswordReset, at(10));
    let overdue = message(
        Some(&c.partner),
        "d@example.com",
        EmailKind::Credentials,
        at(-5),
    );
    let sent = OutboundEmail {
        sent_at: Some(at(-1)),
        sealed_params: String::new(),
        ..message(
            Some(&c.company),
            "e@example.com",
            EmailKind::PasswordChanged,
            at(-10),
        )
    };
    // Written newest first: claims go by id all the same.
    let mut tx = begin(store).await;
    for m in [&sent, &overdue, &later, &second, &first] {
        tx.insert_email(m).await.expect("email");
    }
    commit(tx).await;
    assert_eq!(store.pending_email_count().await.expect("count"), 4);

    let lease = Duration::minutes(10);
    // Due at 5: first, second, overdue (by id); `limit` takes the oldest two.
    assert_eq!(
        claim(store, at(5), lease, 2).await,
        leased(&[&first, &second], at(15))
    );
    assert_eq!(
        store.email(first.id).await.expect("read"),
        Some(leased(&[&first], at(15)).remove(0))
    );
    // The leased ones are not due anymore at the same instant.
    assert_eq!(
        claim(store, at(5), lease, 10).await,
        leased(&[&overdue], at(15))
    );
    assert_eq!(claim(store, at(5), lease, 10).await, vec![]);
    assert_eq!(claim(store, at(9), lease, 10).await, vec![]);
    // A claim is no delivery: the backlog is unchanged.
    assert_eq!(store.pending_email_count().await.expect("count"), 4);

    // A claim that rolls back leaves its lease undone.
    let mut tx = begin(store).await;
    assert_eq!(
        ids(&tx.claim_emails(at(10), lease, 10).await.expect("claim")),
        vec![later.id]
    );
    assert_eq!(
        tx.claim_emails(at(10), lease, 10).await.expect("claim"),
        vec![],
        "claimed within the transaction already"
    );
    drop(tx);
    assert_eq!(
        store.email(later.id).await.expect("read"),
        Some(later.clone())
    );

    // Once the lease is over (the worker never reported back), the messages are due again.
    assert_eq!(
        claim(store, at(15), Duration::seconds(30), 10).await,
        leased(
            &[&first, &second, &later, &overdue],
            at(15) + Duration::seconds(30)
        )
    );
    assert_eq!(claim(store, at(15), lease, 0).await, vec![]);
    assert_eq!(claim(store, at(1000), lease, 0).await, vec![]);
}

pub async fn sent_emails_leave_the_backlog(store: &dyn Storage) {
    let c = cast(store).await;
    let queued = queue(store, &c.company, 3, at(0)).await;
    assert_eq!(store.pending_email_count().await.expect("count"), 3);

    // The worker claims them all, delivers the second and reports the others as failed.
    let claimed = claim(store, at(1), Duration::minutes(5), 10).await;
    assert_eq!(ids(&claimed), ids(&queued));
    let delivered = OutboundEmail {
        attempts: 1,
        sent_at: Some(at(1)),
        sealed_params: String::new(),
        ..claimed[1].clone()
    };
    let retry = |m: &OutboundEmail| OutboundEmail {
        attempts: 1,
        next_attempt_at: at(2),
        last_error: Some("timeout".into()),
        ..m.clone()
    };
    let mut tx = begin(store).await;
    tx.update_email(&delivered).await.expect("delivered");
    tx.update_email(&retry(&claimed[0])).await.expect("failed");
    tx.update_email(&retry(&claimed[2])).await.expect("failed");
    assert_eq!(tx.pending_email_count().await.expect("own write"), 2);
    commit(tx).await;
    assert_eq!(store.pending_email_count().await.expect("count"), 2);

    // A delivered message is never claimed again, due or not.
    let again = claim(store, at(100), Duration::minutes(5), 10).await;
    assert_eq!(ids(&again), vec![queued[0].id, queued[2].id]);
    assert!(again.iter().all(|m| m.attempts == 1));
    assert_eq!(
        store.email(delivered.id).await.expect("read"),
        Some(delivered)
    );

    let mut tx = begin(store).await;
    for m in &again {
        tx.update_email(&OutboundEmail {
            sent_at: Some(at(100)),
            ..m.clone()
        })
        .await
        .expect("delivered");
    }
    commit(tx).await;
    assert_eq!(store.pending_email_count().await.expect("count"), 0);
}

pub async fn abandoned_emails_round_trip(store: &dyn Storage) {
    let c = cast(store).await;
    // Written abandoned already (e.g. by a worker that gave up on its first attempt)…
    let given_up = abandoned(
        &message(
            Some(&c.company),
            "ada@example.com",
            EmailKind::Credentials,
            at(0),
        ),
        at(3),
    );
    // …and abandoned by an update.
    let invited = message(
        Some(&c.partner),
        "carol@example.com",
        EmailKind::Invitation,
        at(0),
    );
    let mut tx = begin(store).await;
    tx.insert_email(&given_up).await.expect("email");
    tx.insert_email(&invited).await.expect("email");
    commit(tx).await;
    assert_eq!(
        store.email(given_up.id).await.expect("read"),
        Some(given_up.clone())
    );
    assert_eq!(
        store.email(invited.id).await.expect("read"),
        Some(invited.clone())
    );

    let failed = OutboundEmail {
        attempts: 9,
        next_attempt_at: at(7),
        last_error: Some("smtp: 451 try again later".into()),
        ..invited.clone()
    };
    let invited_given_up = abandoned(&failed, at(8));
    let mut tx = begin(store).await;
    tx.update_email(&invited_given_up).await.expect("abandoned");
    assert_eq!(
        tx.email(invited.id).await.expect("own write"),
        Some(invited_given_up.clone())
    );
    commit(tx).await;
    let read = store
        .email(invited.id)
        .await
        .expect("read")
        .expect("the message");
    assert_eq!(read, invited_given_up);
    assert_eq!(read.abandoned_at, Some(at(8)));
    assert_eq!(read.attempts, 10);
    assert_eq!(
        read.last_error.as_deref(),
        Some("smtp: 550 mailbox unavailable")
    );
    assert_eq!(read.sealed_params, "");
    assert_eq!(read.sent_at, None);
    assert!(!read.is_pending());

    // An update clears it like any other field (`None` is written, not skipped).
    let revived = OutboundEmail {
        abandoned_at: None,
        ..read
    };
    let mut tx = begin(store).await;
    tx.update_email(&revived).await.expect("revived");
    commit(tx).await;
    assert_eq!(store.email(invited.id).await.expect("read"), Some(revived));
}

pub async fn abandoned_emails_are_never_claimed(store: &dyn Storage) {
    let c = cast(store).await;
    let queued = queue(store, &c.company, 3, at(0)).await;
    let lease = Duration::minutes(5);
    // A message abandoned long ago and long overdue: its `next_attempt_at` means nothing.
    let old = abandoned(
        &message(None, "old@example.com", EmailKind::PasswordReset, at(-100)),
        at(-90),
    );
    let mut tx = begin(store).await;
    tx.insert_email(&old).await.expect("email");
    commit(tx).await;

    // The worker claims the three, gives the second up and reports the others as failed.
    let claimed = claim(store, at(1), lease, 10).await;
    assert_eq!(ids(&claimed), ids(&queued));
    let given_up = abandoned(&claimed[1], at(1));
    assert_eq!(given_up.next_attempt_at, at(1) + lease);
    let retry = |m: &OutboundEmail| OutboundEmail {
        attempts: 1,
        next_attempt_at: at(2),
        last_error: Some("timeout".into()),
        ..m.clone()
    };
    let mut tx = begin(store).await;
    tx.update_email(&given_up).await.expect("abandoned");
    tx.update_email(&retry(&claimed[0])).await.expect("failed");
    tx.update_email(&retry(&claimed[2])).await.expect("failed");
    // Within the transaction already, an abandoned message is not due.
    assert_eq!(
        ids(&tx.claim_emails(at(100), lease, 10).await.expect("claim")),
        vec![queued[0].id, queued[2].id]
    );
    drop(tx);

    // Rolled back: the three are as the claim left them, all due once the lease is over.
    assert_eq!(
        ids(&claim(store, at(1) + lease, lease, 10).await),
        ids(&queued)
    );

    let claimed = claim(store, at(100), lease, 10).await;
    assert_eq!(ids(&claimed), ids(&queued));
    let given_up = abandoned(&claimed[1], at(100));
    let mut tx = begin(store).await;
    tx.update_email(&given_up).await.expect("abandoned");
    tx.update_email(&retry(&claimed[0])).await.expect("failed");
    tx.update_email(&retry(&claimed[2])).await.expect("failed");
    commit(tx).await;

    // Due or not, soon or in ten thousand years, only the retried ones are claimed.
    assert_eq!(
        ids(&claim(store, at(200), lease, 10).await),
        vec![queued[0].id, queued[2].id]
    );
    assert_eq!(claim(store, at(200), lease, 10).await, vec![]);
    let far = DateTime::from_timestamp(253_402_300_799, 0).expect("9999-12-31") + Duration::days(1);
    assert_eq!(
        ids(&claim(store, far, lease, 10).await),
        vec![queued[0].id, queued[2].id]
    );
    assert_eq!(claim(store, far, lease, 10).await, vec![]);
    // Never leased either: both read back exactly as abandoned.
    assert_eq!(
        store.email(given_up.id).await.expect("read"),
        Some(given_up)
    );
    assert_eq!(store.email(old.id).await.expect("read"), Some(old));
}

pub async fn abandoned_emails_leave_the_backlog(store: &dyn Storage) {
    let c = cast(store).await;
    let queued = queue(store, &c.company, 3, at(0)).await;
    assert_eq!(store.pending_email_count().await.expect("count"), 3);

    // An abandonment that rolls back leaves the backlog as it was.
    let mut tx = begin(store).await;
    tx.update_email(&abandoned(&queued[0], at(1)))
        .await
        .expect("abandoned");
    assert_eq!(tx.pending_email_count().await.expect("own write"), 2);
    drop(tx);
    assert_eq!(store.pending_email_count().await.expect("count"), 3);

    let mut tx = begin(store).await;
    tx.update_email(&abandoned(&queued[0], at(1)))
        .await
        .expect("abandoned");
    commit(tx).await;
    assert_eq!(store.pending_email_count().await.expect("count"), 2);

    // Written abandoned: never part of the backlog.
    let mut tx = begin(store).await;
    tx.insert_email(&abandoned(
        &message(None, "x@example.com", EmailKind::Credentials, at(0)),
        at(0),
    ))
    .await
    .expect("email");
    commit(tx).await;
    assert_eq!(store.pending_email_count().await.expect("count"), 2);

    // One delivered, the last given up: nothing is left waiting.
    let mut tx = begin(store).await;
    tx.update_email(&OutboundEmail {
        sent_at: Some(at(2)),
        sealed_params: String::new(),
        ..queued[1].clone()
    })
    .await
    .expect("delivered");
    tx.update_email(&abandoned(&queued[2], at(2)))
        .await
        .expect("abandoned");
    commit(tx).await;
    assert_eq!(store.pending_email_count().await.expect("count"), 0);
    assert_eq!(
        claim(store, at(1000), Duration::minutes(5), 10).await,
        vec![]
    );
}

/// One worker's claim: in its own transaction, held open a moment, committed.
async fn racing_claim(
    store: &dyn Storage,
    now: DateTime<Utc>,
    limit: usize,
) -> StorageResult<Vec<EmailId>> {
    let mut tx = store.begin().await?;
    let claimed = tx.claim_emails(now, Duration::minutes(5), limit).await?;
    tokio::task::yield_now().await;
    tokio::time::sleep(StdDuration::from_millis(5)).await;
    tx.commit().await?;
    Ok(ids(&claimed))
}

pub async fn concurrent_claims_never_share_a_message(store: &dyn Storage) {
    let c = cast(store).await;
    let queued = queue(store, &c.company, 25, at(0)).await;
    let outcomes = futures::future::join_all((0..10).map(|_| racing_claim(store, at(1), 3))).await;
    let claims: Vec<Vec<EmailId>> = outcomes
        .into_iter()
        .map(|o| o.expect("every claim succeeds"))
        .collect();
    let mut seen = HashSet::new();
    for claimed in &claims {
        assert!(claimed.len() <= 3, "{claims:?}");
        assert!(claimed.is_sorted(), "oldest first: {claimed:?}");
        for id in claimed {
            assert!(seen.insert(*id), "{id:?} claimed twice: {claims:?}");
        }
    }
    // Ten claims of three cover all 25: a claim gets less than it asks for only when every
    // other due message is held by another claim.
    assert_eq!(seen, ids(&queued).into_iter().collect(), "{claims:?}");
    for m in &queued {
        assert_eq!(
            store
                .email(m.id)
                .await
                .expect("read")
                .map(|m| m.next_attempt_at),
            Some(at(1) + Duration::minutes(5))
        );
    }

    // A second round at the same instant finds nothing due.
    let outcomes = futures::future::join_all((0..10).map(|_| racing_claim(store, at(1), 3))).await;
    assert!(
        outcomes.iter().all(|o| o.as_ref().is_ok_and(Vec::is_empty)),
        "{outcomes:?}"
    );
}

/// PostgreSQL only (on the memory backend a second transaction waits for the first to end): a
/// claim passes over the messages an open claim holds, without waiting for it.
#[tokio::test]
async fn claims_skip_the_messages_another_claim_holds() {
    let database = concierge_tests::postgres::fresh_database().await;
    let store = database.storage();
    let c = cast(store).await;
    let queued = queue(store, &c.company, 5, at(0)).await;
    let lease = Duration::minutes(5);

    let mut holder = begin(store).await;
    let held = holder.claim_emails(at(1), lease, 2).await.expect("claim");
    assert_eq!(ids(&held), ids(&queued[..2]));

    let mut other = begin(store).await;
    let rest = tokio::time::timeout(
        StdDuration::from_secs(5),
        other.claim_emails(at(1), lease, 10),
    )
    .await
    .expect("a claim never waits for another")
    .expect("claim");
    assert_eq!(ids(&rest), ids(&queued[2..]));
    // This worker gives up: its messages are due again; the holder's stay leased.
    drop(other);
    commit(holder).await;

    assert_eq!(
        ids(&claim(store, at(1), lease, 10).await),
        ids(&queued[2..])
    );
    assert_eq!(claim(store, at(1), lease, 10).await, vec![]);
    assert_eq!(
        ids(&claim(store, at(1) + lease, lease, 10).await),
        ids(&queued)
    );
}

/// The migration that replaced the year-9999 sentinel by `abandoned_at`.
const ABANDONED_UP: &str =
    include_str!("../../../storage-postgres/migrations/2026-05-01-000000_outbox_abandoned/up.sql");
const ABANDONED_DOWN: &str = include_str!(
    "../../../storage-postgres/migrations/2026-05-01-000000_outbox_abandoned/down.sql"
);

#[derive(diesel::QueryableByName)]
struct Due {
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    next_attempt_at: DateTime<Utc>,
}

#[derive(diesel::QueryableByName)]
struct IndexDef {
    #[diesel(sql_type = diesel::sql_types::Text)]
    indexdef: String,
}

/// PostgreSQL only: messages given up the old way (`next_attempt_at` in year 9999) become
/// abandoned, their parameters wiped, and leave the backlog; the others are untouched; the down
/// migration brings the sentinel back. Runs the migration's own files by hand on a database
/// migrated to the end: down first (the schema before it), then old rows, then up.
#[tokio::test]
async fn the_migration_turns_the_sentinel_into_abandoned_at() {
    use diesel::sql_types::{Integer, Nullable, Text as SqlText, Timestamptz, Uuid as SqlUuid};
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};

    let database = concierge_tests::postgres::fresh_database().await;
    let mut conn = AsyncPgConnection::establish(database.url())
        .await
        .expect("connect");
    conn.batch_execute(ABANDONED_DOWN).await.expect("down");

    let sentinel = DateTime::from_timestamp(253_402_300_799, 0).expect("9999-12-31T23:59:59Z");
    let given_up = EmailId::new();
    let waiting = EmailId::new();
    let sent = EmailId::new();
    // (id, sealed params, attempts, next attempt, sent at, last error)
    let rows = [
        (
            given_up,
            "sealed-secret-1",
            10,
            sentinel,
            None,
            Some("smtp: 550 no such user"),
        ),
        (waiting, "sealed-secret-2", 2, at(-1), None, Some("timeout")),
        (sent, "", 1, at(-5), Some(at(-4)), None),
    ];
    for (id, sealed, attempts, due, sent_at, error) in rows {
        diesel::sql_query(
            "INSERT INTO outbox_emails (id, organization_id, recipient, language, kind, \
             sealed_params, attempts, next_attempt_at, sent_at, last_error, created_at) \
             VALUES ($1, NULL, 'old@example.com', 'en', 'CREDENTIALS', $2, $3, $4, $5, $6, $7)",
        )
        .bind::<SqlUuid, _>(id.0)
        .bind::<SqlText, _>(sealed)
        .bind::<Integer, _>(attempts)
        .bind::<Timestamptz, _>(due)
        .bind::<Nullable<Timestamptz>, _>(sent_at)
        .bind::<Nullable<SqlText>, _>(error)
        .bind::<Timestamptz, _>(at(-10))
        .execute(&mut conn)
        .await
        .expect("an old row");
    }

    conn.batch_execute(ABANDONED_UP).await.expect("up");
    // Down again: what was abandoned gets the sentinel back; then up for good.
    conn.batch_execute(ABANDONED_DOWN).await.expect("down");
    let due: Vec<Due> = diesel::sql_query(
        "SELECT next_attempt_at FROM outbox_emails WHERE id = $1 OR id = $2 ORDER BY id",
    )
    .bind::<SqlUuid, _>(given_up.0)
    .bind::<SqlUuid, _>(waiting.0)
    .load(&mut conn)
    .await
    .expect("read");
    assert_eq!(
        due.iter().map(|d| d.next_attempt_at).collect::<Vec<_>>(),
        vec![sentinel, at(-1)]
    );
    conn.batch_execute(ABANDONED_UP).await.expect("up");

    // The claim and the backlog rely on the partial index of pending messages.
    let index: IndexDef = diesel::sql_query(
        "SELECT indexdef FROM pg_indexes WHERE indexname = 'outbox_emails_due_idx'",
    )
    .get_result(&mut conn)
    .await
    .expect("the index");
    assert!(
        index
            .indexdef
            .contains("(sent_at IS NULL) AND (abandoned_at IS NULL)"),
        "{}",
        index.indexdef
    );
    drop(conn);

    let store = database.storage();
    let old = store
        .email(given_up)
        .await
        .expect("read")
        .expect("the message");
    assert!(old.abandoned_at.is_some());
    assert_eq!(old.sealed_params, "");
    assert_eq!(old.attempts, 10);
    assert_eq!(old.last_error.as_deref(), Some("smtp: 550 no such user"));
    assert_eq!(old.sent_at, None);
    assert!(
        old.next_attempt_at < sentinel,
        "no sentinel left: {:?}",
        old.next_attempt_at
    );
    let still_waiting = store
        .email(waiting)
        .await
        .expect("read")
        .expect("the message");
    assert_eq!(still_waiting.abandoned_at, None);
    assert_eq!(still_waiting.sealed_params, "sealed-secret-2");
    assert_eq!(still_waiting.next_attempt_at, at(-1));
    let delivered = store.email(sent).await.expect("read").expect("the message");
    assert_eq!(delivered.abandoned_at, None);
    assert_eq!(delivered.sent_at, Some(at(-4)));

    assert_eq!(store.pending_email_count().await.expect("count"), 1);
    let far = sentinel + Duration::days(1);
    assert_eq!(
        ids(&claim(store, far, Duration::minutes(5), 10).await),
        vec![waiting]
    );
}
