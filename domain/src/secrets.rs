//! Everything secret: password hashing (Argon2id, off the async runtime, a bounded number at a
//! time), keyed hashes of booking codes and tokens (HMAC-SHA256 with a server key), generated
//! credentials and access tokens.
//!
//! Key rotation: each key may have a previous value ([`Keys::jwt_previous`],
//! [`Keys::pepper_previous`]). What is made now is always made with the current key (signing,
//! hashing a new code or token, sealing); what is checked is checked against the current key,
//! then against the previous one (verifying an access token, looking a code or token up by its
//! hashes, opening a sealed message).

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::Rng as _;
use rand::rngs::OsRng;
use sha2::Sha256;
use tokio::sync::Semaphore;

use crate::error::{DomainError, DomainResult};
use crate::ids::{OrganizationId, SessionId, UserId};
use crate::values::Secret;

/// Argon2id cost. Production uses OWASP's recommendation; tests may configure cheaper values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Cost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Argon2Cost {
    /// OWASP Password Storage Cheat Sheet: m=19 MiB, t=2, p=1.
    pub const OWASP: Argon2Cost = Argon2Cost {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };
    /// For test suites only (selected by configuration, never by `cfg(test)`).
    pub const FAST_INSECURE: Argon2Cost = Argon2Cost {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };
}

/// The server's keys. `jwt` signs access tokens; `pepper` keys the hashes of codes and tokens.
/// During a rotation the key being replaced stays as `*_previous`: still accepted, never used to
/// make anything new.
#[derive(Clone)]
pub struct Keys {
    pub jwt: Vec<u8>,
    pub pepper: Vec<u8>,
    /// Access tokens signed with it are still accepted (until they expire).
    pub jwt_previous: Option<Vec<u8>>,
    /// Codes and tokens hashed with it are still found; messages sealed with it still open.
    pub pepper_previous: Option<Vec<u8>>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(***)")
    }
}

/// Claims of an access token.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AccessClaims {
    pub sub: String,
    pub sid: String,
    pub iat: i64,
    pub exp: i64,
}

pub struct Secrets {
    keys: Keys,
    argon2: Argon2<'static>,
    /// Verified against when a login is unknown, so both paths cost one Argon2 verification.
    dummy_hash: String,
    /// One permit per Argon2 computation allowed at once (see [`default_hash_concurrency`]).
    hash_slots: Arc<Semaphore>,
    #[cfg(test)]
    probe: probe::HashProbe,
}

/// How many Argon2 computations run at once by default: one core less than the machine has (at
/// least one), so that a burst of sign-ins never takes every core from the other requests.
pub fn default_hash_concurrency() -> usize {
    std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .saturating_sub(1)
        .max(1)
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(***)")
    }
}

impl Secrets {
    /// Secrets allowing [`default_hash_concurrency`] Argon2 computations at once.
    pub fn new(keys: Keys, cost: Argon2Cost) -> DomainResult<Arc<Self>> {
        Self::with_hash_concurrency(keys, cost, default_hash_concurrency())
    }

    /// Secrets allowing `limit` (at least one) Argon2 computations at once; more wait their turn.
    pub fn with_hash_concurrency(
        keys: Keys,
        cost: Argon2Cost,
        limit: usize,
    ) -> DomainResult<Arc<Self>> {
        Self::build(keys, cost, limit).map(Arc::new)
    }

    fn build(keys: Keys, cost: Argon2Cost, limit: usize) -> DomainResult<Self> {
        let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
            .map_err(|e| DomainError::internal(format!("argon2 parameters: {e}")))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let dummy_hash = hash_with(&argon2, &random_token())?;
        Ok(Secrets {
            keys,
            argon2,
            dummy_hash,
            hash_slots: Arc::new(Semaphore::new(limit.clamp(1, Semaphore::MAX_PERMITS))),
            #[cfg(test)]
            probe: probe::HashProbe::default(),
        })
    }

    /// Runs `work` (an Argon2 computation) on a blocking thread once a hashing slot is free. The
    /// slot moves with the work: it is given back when the computation ends, even when the
    /// request that asked for it was dropped meanwhile.
    async fn hashing<T: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce(&Secrets) -> T + Send + 'static,
    ) -> DomainResult<T> {
        #[cfg(test)]
        self.probe.queued();
        let slot = Arc::clone(&self.hash_slots)
            .acquire_owned()
            .await
            .map_err(|_| DomainError::internal("hashing slots closed"))?;
        #[cfg(test)]
        self.probe.admitted();
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            #[cfg(test)]
            let _running = this.probe.running();
            work(&this)
        })
        .await
        .map_err(|e| DomainError::internal(format!("hashing task: {e}")))
    }

    /// Hashes a password or PIN with Argon2id on a blocking thread.
    pub async fn hash_password(self: &Arc<Self>, password: &str) -> DomainResult<Secret> {
        let password = password.to_owned();
        self.hashing(move |this| hash_with(&this.argon2, &password))
            .await?
            .map(Secret::new)
    }

    /// Verifies a password against a stored hash, or against the dummy hash when there is none,
    /// so that unknown logins take as long as wrong passwords (and wait for a slot alike).
    pub async fn verify_password(self: &Arc<Self>, password: &str, hash: Option<&Secret>) -> bool {
        let password = password.to_owned();
        let stored = hash.map(|h| h.expose().to_owned());
        let known = stored.is_some();
        let outcome = self
            .hashing(move |this| {
                let target = stored.as_deref().unwrap_or(&this.dummy_hash);
                PasswordHash::new(target)
                    .map(|parsed| {
                        this.argon2
                            .verify_password(password.as_bytes(), &parsed)
                            .is_ok()
                    })
                    .unwrap_or(false)
            })
            .await
            .unwrap_or(false);
        known && outcome
    }

    /// HMAC(pepper, organization ‖ code): the only form in which a booking code is kept. New
    /// codes are stored under this (the current pepper).
    pub fn booking_code_hash(&self, organization: OrganizationId, code: &str) -> Secret {
        keyed_hash(&self.keys.pepper, &booking_code_parts(&organization, code))
    }

    /// The hashes a booking code may be stored under: the current pepper's, then the previous
    /// one's when a rotation is under way. Look a code up under each, in this order.
    pub fn booking_code_hashes(
        &self,
        organization: OrganizationId,
        code: &str,
    ) -> impl Iterator<Item = Secret> {
        self.peppers()
            .map(move |pepper| keyed_hash(pepper, &booking_code_parts(&organization, code)))
    }

    /// HMAC(pepper, purpose ‖ token) for refresh, invitation, reset and device tokens. New tokens
    /// are stored under this (the current pepper).
    pub fn token_hash(&self, purpose: &str, token: &str) -> Secret {
        keyed_hash(&self.keys.pepper, &token_parts(purpose, token))
    }

    /// The hashes a token may be stored under: the current pepper's, then the previous one's
    /// when a rotation is under way. Look a token up under each, in this order.
    pub fn token_hashes(&self, purpose: &str, token: &str) -> impl Iterator<Item = Secret> {
        self.peppers()
            .map(move |pepper| keyed_hash(pepper, &token_parts(purpose, token)))
    }

    /// The current pepper, then the previous one if any.
    fn peppers(&self) -> impl Iterator<Item = &[u8]> {
        std::iter::once(self.keys.pepper.as_slice()).chain(self.keys.pepper_previous.as_deref())
    }

    /// Encrypts `plaintext` (XChaCha20-Poly1305 under a key derived from the current pepper): for
    /// what must be kept a while but not in clear, such as an outbox message's parameters.
    pub fn seal(&self, plaintext: &str) -> DomainResult<String> {
        use chacha20poly1305::aead::{Aead, AeadCore, KeyInit};
        let cipher =
            chacha20poly1305::XChaCha20Poly1305::new_from_slice(&seal_key(&self.keys.pepper))
                .map_err(|_| DomainError::internal("seal key"))?;
        let nonce = chacha20poly1305::XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = cipher
            .encrypt(&nonce, plaintext.as_bytes())
            .map_err(|_| DomainError::internal("sealing failed"))?;
        let mut bytes = nonce.to_vec();
        bytes.extend(sealed);
        Ok(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Decrypts what [`Secrets::seal`] produced with the current pepper or the previous one;
    /// `None` otherwise.
    pub fn open(&self, sealed: &str) -> Option<String> {
        use chacha20poly1305::aead::{Aead, KeyInit};
        let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        if bytes.len() < 24 {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        let plain = self.peppers().find_map(|pepper| {
            chacha20poly1305::XChaCha20Poly1305::new_from_slice(&seal_key(pepper))
                .ok()?
                .decrypt(chacha20poly1305::XNonce::from_slice(nonce), ciphertext)
                .ok()
        })?;
        String::from_utf8(plain).ok()
    }

    pub fn issue_access_token(
        &self,
        user: UserId,
        session: SessionId,
        now: DateTime<Utc>,
        ttl: chrono::Duration,
    ) -> DomainResult<(String, DateTime<Utc>)> {
        let expires_at = now + ttl;
        let claims = AccessClaims {
            sub: user.to_string(),
            sid: session.to_string(),
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
        };
        let token = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(&self.keys.jwt),
        )
        .map_err(|e| DomainError::internal(format!("signing access token: {e}")))?;
        Ok((token, expires_at))
    }

    /// Checks signature (the current key's, else the previous one's) and expiry; `None` for
    /// anything not valid.
    pub fn decode_access_token(&self, token: &str) -> Option<AccessClaims> {
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        std::iter::once(&self.keys.jwt)
            .chain(self.keys.jwt_previous.as_ref())
            .find_map(|key| {
                jsonwebtoken::decode::<AccessClaims>(
                    token,
                    &jsonwebtoken::DecodingKey::from_secret(key),
                    &validation,
                )
                .ok()
            })
            .map(|data| data.claims)
    }
}

fn booking_code_parts<'a>(organization: &'a OrganizationId, code: &'a str) -> [&'a [u8]; 3] {
    [b"booking-code:", organization.0.as_bytes(), code.as_bytes()]
}

fn token_parts<'a>(purpose: &'a str, token: &'a str) -> [&'a [u8]; 3] {
    [purpose.as_bytes(), b":", token.as_bytes()]
}

fn keyed_hash(pepper: &[u8], parts: &[&[u8]]) -> Secret {
    let mut mac = hmac_sha256(pepper);
    for part in parts {
        mac.update(part);
    }
    Secret::new(hex(&mac.finalize().into_bytes()))
}

/// The key of [`Secrets::seal`], derived from a pepper.
fn seal_key(pepper: &[u8]) -> [u8; 32] {
    let mut mac = hmac_sha256(pepper);
    mac.update(b"outbox-seal-key");
    mac.finalize().into_bytes().into()
}

fn hmac_sha256(key: &[u8]) -> Hmac<Sha256> {
    // `new_from_slice` only fails for fixed-size keys; HMAC's key is variable-size.
    <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| panic!("HMAC-SHA256 accepts keys of every length"))
}

fn hash_with(argon2: &Argon2<'static>, password: &str) -> DomainResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    argon2
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| DomainError::internal(format!("argon2: {e}")))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// 256 random bits, URL-safe: refresh, invitation, reset and device tokens.
pub fn random_token() -> String {
    let bytes: [u8; 32] = OsRng.r#gen();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `len` random decimal digits (PINs and booking codes).
pub fn random_digits(len: usize) -> String {
    (0..len)
        .map(|_| char::from(b'0' + OsRng.gen_range(0..10u8)))
        .collect()
}

/// A temporary password for people with an e-mail: 16 characters from an unambiguous alphabet.
pub fn random_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789";
    (0..16)
        .map(|_| char::from(ALPHABET[OsRng.gen_range(0..ALPHABET.len())]))
        .collect()
}

/// Length of a booking code.
///
/// Guessing budget: DESIGN.md §9 allows 10 wrong codes per device and per address every 15
/// minutes, i.e. 960 a day, 350,400 a year for one device. With 10,000 users in an organization
/// and 10-digit codes, one guess hits some user with probability 10^4 / 10^10 = 10^-6, so a
/// device guessing all year long hits with probability about 0.35 — but only if nobody notices a
/// device failing ten times every quarter of an hour for a year; each guess is audited. A day's
/// budget gives 0.1%. Codes are unique per organization, so collisions are retried on creation.
pub const BOOKING_CODE_DIGITS: usize = 10;

/// A test-only window on the hashing slots: how many calls asked for one, got one, run at once.
#[cfg(test)]
mod probe {
    use std::sync::{Condvar, Mutex, MutexGuard};

    #[derive(Debug, Default, Clone, Copy)]
    pub(super) struct Counts {
        /// Calls that asked for a slot.
        pub queued: usize,
        /// Calls that got one.
        pub admitted: usize,
        /// Computations running now, and the most ever seen at once.
        pub running: usize,
        pub peak: usize,
        /// Computations that ended.
        pub finished: usize,
    }

    #[derive(Default)]
    pub(super) struct HashProbe {
        counts: Mutex<Counts>,
        changed: Condvar,
        /// When set, a computation that starts waits until this holds of the counts.
        pub gate: Option<fn(&Counts) -> bool>,
    }

    impl HashProbe {
        fn lock(&self) -> MutexGuard<'_, Counts> {
            self.counts.lock().unwrap_or_else(|e| e.into_inner())
        }

        fn update(&self, change: impl FnOnce(&mut Counts)) {
            change(&mut self.lock());
            self.changed.notify_all();
        }

        pub fn counts(&self) -> Counts {
            *self.lock()
        }

        pub fn queued(&self) {
            self.update(|c| c.queued += 1);
        }

        pub fn admitted(&self) {
            self.update(|c| c.admitted += 1);
        }

        /// A computation starts; it ends when the guard drops.
        pub fn running(&self) -> Running<'_> {
            self.update(|c| {
                c.running += 1;
                c.peak = c.peak.max(c.running);
            });
            if let Some(gate) = self.gate {
                let counts = self.lock();
                drop(
                    self.changed
                        .wait_while(counts, |c| !gate(c))
                        .unwrap_or_else(|e| e.into_inner()),
                );
            }
            Running(self)
        }
    }

    pub(super) struct Running<'a>(&'a HashProbe);

    impl Drop for Running<'_> {
        fn drop(&mut self) {
            self.0.update(|c| {
                c.running -= 1;
                c.finished += 1;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(jwt: &str, pepper: &str) -> Keys {
        Keys {
            jwt: jwt.as_bytes().to_vec(),
            pepper: pepper.as_bytes().to_vec(),
            jwt_previous: None,
            pepper_previous: None,
        }
    }

    fn secrets() -> Arc<Secrets> {
        Secrets::new(keys("jwt", "pepper"), Argon2Cost::FAST_INSECURE).expect("secrets")
    }

    /// Secrets whose current keys are `jwt2`/`pepper2` and previous ones `jwt`/`pepper` (those of
    /// [`secrets`]).
    fn rotated() -> Arc<Secrets> {
        let mut keys = keys("jwt2", "pepper2");
        keys.jwt_previous = Some(b"jwt".to_vec());
        keys.pepper_previous = Some(b"pepper".to_vec());
        Secrets::new(keys, Argon2Cost::FAST_INSECURE).expect("secrets")
    }

    /// Secrets with only the new keys of [`rotated`]: the rotation is over.
    fn rotated_only() -> Arc<Secrets> {
        Secrets::new(keys("jwt2", "pepper2"), Argon2Cost::FAST_INSECURE).expect("secrets")
    }

    fn access_token(s: &Secrets) -> String {
        s.issue_access_token(
            UserId::new(),
            SessionId::new(),
            Utc::now(),
            chrono::Duration::minutes(15),
        )
        .expect("token")
        .0
    }

    #[tokio::test]
    async fn passwords_round_trip_and_unknown_logins_fail() {
        let s = secrets();
        let hash = s
            .hash_password("correct horse battery")
            .await
            .expect("hash");
        assert!(hash.expose().starts_with("$argon2id$"));
        assert!(
            s.verify_password("correct horse battery", Some(&hash))
                .await
        );
        assert!(!s.verify_password("wrong", Some(&hash)).await);
        assert!(!s.verify_password("correct horse battery", None).await);
    }

    #[test]
    fn code_hashes_depend_on_organization_and_key() {
        let s = secrets();
        let (a, b) = (OrganizationId::new(), OrganizationId::new());
        assert_eq!(
            s.booking_code_hash(a, "1234"),
            s.booking_code_hash(a, "1234")
        );
        assert_ne!(
            s.booking_code_hash(a, "1234"),
            s.booking_code_hash(b, "1234")
        );
        let other = Secrets::new(keys("", "other"), Argon2Cost::FAST_INSECURE).expect("secrets");
        assert_ne!(
            s.booking_code_hash(a, "1234"),
            other.booking_code_hash(a, "1234")
        );
    }

    #[test]
    fn access_tokens_expire_and_are_signed() {
        let s = secrets();
        let now = Utc::now();
        let (token, _) = s
            .issue_access_token(
                UserId::new(),
                SessionId::new(),
                now,
                chrono::Duration::minutes(15),
            )
            .expect("token");
        assert!(s.decode_access_token(&token).is_some());
        let (old, _) = s
            .issue_access_token(
                UserId::new(),
                SessionId::new(),
                now - chrono::Duration::hours(1),
                chrono::Duration::minutes(15),
            )
            .expect("token");
        assert!(s.decode_access_token(&old).is_none());
        let forged = Secrets::new(keys("other", ""), Argon2Cost::FAST_INSECURE).expect("s");
        assert!(forged.decode_access_token(&token).is_none());
    }

    #[test]
    fn sealed_text_opens_only_with_the_same_pepper() {
        let s = secrets();
        let sealed = s.seal("temporary password 123").expect("seal");
        assert!(!sealed.contains("temporary"));
        assert_eq!(s.open(&sealed).as_deref(), Some("temporary password 123"));
        let other = Secrets::new(keys("", "other"), Argon2Cost::FAST_INSECURE).expect("s");
        assert_eq!(other.open(&sealed), None);
        assert_eq!(s.open("garbage"), None);
    }

    #[test]
    fn access_tokens_signed_with_the_previous_key_verify_until_it_is_dropped() {
        let old = access_token(&secrets());
        let new = access_token(&rotated());
        let during = rotated();
        assert!(during.decode_access_token(&new).is_some());
        assert!(during.decode_access_token(&old).is_some());
        // New tokens are signed with the current key only: the old key's holder cannot verify.
        assert!(secrets().decode_access_token(&new).is_none());
        // Once the previous key is dropped, what it signed is refused.
        let after = rotated_only();
        assert!(after.decode_access_token(&old).is_none());
        assert!(after.decode_access_token(&new).is_some());
    }

    #[test]
    fn lookups_try_the_current_pepper_then_the_previous_one() {
        let (before, during, after) = (secrets(), rotated(), rotated_only());
        let org = OrganizationId::new();
        let stored_code = before.booking_code_hash(org, "0123456789");
        let stored_token = before.token_hash("device", "dev_abc");
        let codes: Vec<Secret> = during.booking_code_hashes(org, "0123456789").collect();
        assert_eq!(
            codes,
            [
                during.booking_code_hash(org, "0123456789"),
                stored_code.clone()
            ]
        );
        let tokens: Vec<Secret> = during.token_hashes("device", "dev_abc").collect();
        assert_eq!(
            tokens,
            [during.token_hash("device", "dev_abc"), stored_token.clone()]
        );
        assert_ne!(tokens[0], stored_token, "new values use the new pepper");
        // Purposes stay apart under both peppers.
        assert!(
            during
                .token_hashes("refresh", "dev_abc")
                .all(|h| !tokens.contains(&h))
        );
        // Without a previous pepper there is one candidate, the current one.
        let only: Vec<Secret> = after.token_hashes("device", "dev_abc").collect();
        assert_eq!(only, [after.token_hash("device", "dev_abc")]);
        assert!(!only.contains(&stored_token));
        assert_eq!(
            after.booking_code_hashes(org, "0123456789").count(),
            1,
            "one lookup when no rotation is under way"
        );
    }

    #[test]
    fn messages_sealed_with_the_previous_pepper_open_during_the_rotation_only() {
        let sealed_before = secrets().seal("{\"link\": \"k1\"}").expect("seal");
        let during = rotated();
        assert_eq!(
            during.open(&sealed_before).as_deref(),
            Some("{\"link\": \"k1\"}")
        );
        let sealed_during = during.seal("new").expect("seal");
        assert_eq!(during.open(&sealed_during).as_deref(), Some("new"));
        assert_eq!(
            secrets().open(&sealed_during),
            None,
            "sealed with the new pepper"
        );
        assert_eq!(rotated_only().open(&sealed_before), None);
        assert_eq!(rotated_only().open(&sealed_during).as_deref(), Some("new"));
    }

    #[test]
    fn the_default_hash_concurrency_leaves_a_core_free() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(default_hash_concurrency(), cores.saturating_sub(1).max(1));
    }

    /// Four verifications at once with one slot: each computation, once started, waits until
    /// every call has asked for a slot while it alone holds one — or until a second computation
    /// runs beside it. Without the bound the second case happens (and the peak is 2); with it
    /// the other calls queue, and never more than one computation runs.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_slot_means_one_hash_at_a_time() {
        const CALLS: usize = 4;
        let mut built =
            Secrets::build(keys("jwt", "pepper"), Argon2Cost::FAST_INSECURE, 1).expect("secrets");
        built.probe.gate =
            Some(|c| c.running > 1 || (c.queued == CALLS && c.admitted - c.finished == 1));
        let s = Arc::new(built);
        let hash = secrets()
            .hash_password("correct horse battery")
            .await
            .expect("hash");
        let calls: Vec<_> = (0..CALLS)
            .map(|i| {
                let (s, hash) = (Arc::clone(&s), hash.clone());
                tokio::spawn(async move {
                    let password = if i % 2 == 0 {
                        "correct horse battery"
                    } else {
                        "wrong"
                    };
                    s.verify_password(password, Some(&hash)).await
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for call in calls {
            outcomes.push(call.await.expect("task"));
        }
        assert_eq!(outcomes, [true, false, true, false]);
        let counts = s.probe.counts();
        assert_eq!(counts.finished, CALLS);
        assert_eq!(counts.peak, 1, "{counts:?}");
    }

    /// With two slots, two computations do run together (the first waits for a second), and
    /// never three.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_limit_is_the_number_of_slots() {
        let mut built =
            Secrets::build(keys("jwt", "pepper"), Argon2Cost::FAST_INSECURE, 2).expect("secrets");
        built.probe.gate = Some(|c| c.running >= 2 || c.finished >= 2);
        let s = Arc::new(built);
        let calls: Vec<_> = (0..6)
            .map(|_| {
                let s = Arc::clone(&s);
                tokio::spawn(async move { s.hash_password("a password").await })
            })
            .collect();
        for call in calls {
            call.await.expect("task").expect("hash");
        }
        let counts = s.probe.counts();
        assert_eq!((counts.finished, counts.peak), (6, 2), "{counts:?}");
    }

    /// An unknown login costs one verification, through a slot like any other.
    #[tokio::test]
    async fn an_unknown_login_costs_one_verification() {
        let s = Arc::new(
            Secrets::build(keys("jwt", "pepper"), Argon2Cost::FAST_INSECURE, 1).expect("secrets"),
        );
        assert!(!s.verify_password("whatever", None).await);
        let counts = s.probe.counts();
        assert_eq!((counts.admitted, counts.finished), (1, 1), "{counts:?}");
    }

    #[test]
    fn generated_credentials_have_their_shape() {
        assert!(random_digits(6).chars().all(|c| c.is_ascii_digit()));
        assert_eq!(random_digits(BOOKING_CODE_DIGITS).len(), 10);
        assert_eq!(random_password().len(), 16);
        assert_eq!(random_token().len(), 43);
    }
}
