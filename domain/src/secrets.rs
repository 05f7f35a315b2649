//! Everything secret: password hashing (Argon2id, off the async runtime), keyed hashes of booking
//! codes and tokens (HMAC-SHA256 with a server key), generated credentials and access tokens.

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
#[derive(Clone)]
pub struct Keys {
    pub jwt: Vec<u8>,
    pub pepper: Vec<u8>,
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
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(***)")
    }
}

impl Secrets {
    pub fn new(keys: Keys, cost: Argon2Cost) -> DomainResult<Arc<Self>> {
        let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
            .map_err(|e| DomainError::internal(format!("argon2 parameters: {e}")))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let dummy_hash = hash_with(&argon2, &random_token())?;
        Ok(Arc::new(Secrets {
            keys,
            argon2,
            dummy_hash,
        }))
    }

    /// Hashes a password or PIN with Argon2id on a blocking thread.
    pub async fn hash_password(self: &Arc<Self>, password: &str) -> DomainResult<Secret> {
        let this = Arc::clone(self);
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || hash_with(&this.argon2, &password))
            .await
            .map_err(|e| DomainError::internal(format!("hashing task: {e}")))?
            .map(Secret::new)
    }

    /// Verifies a password against a stored hash, or against the dummy hash when there is none,
    /// so that unknown logins take as long as wrong passwords.
    pub async fn verify_password(self: &Arc<Self>, password: &str, hash: Option<&Secret>) -> bool {
        let this = Arc::clone(self);
        let password = password.to_owned();
        let stored = hash.map(|h| h.expose().to_owned());
        let known = stored.is_some();
        let outcome = tokio::task::spawn_blocking(move || {
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

    /// HMAC(pepper, organization ‖ code): the only form in which a booking code is kept.
    pub fn booking_code_hash(&self, organization: OrganizationId, code: &str) -> Secret {
        self.keyed_hash(&[b"booking-code:", organization.0.as_bytes(), code.as_bytes()])
    }

    /// HMAC(pepper, purpose ‖ token) for refresh, invitation, reset and device tokens.
    pub fn token_hash(&self, purpose: &str, token: &str) -> Secret {
        self.keyed_hash(&[purpose.as_bytes(), b":", token.as_bytes()])
    }

    fn keyed_hash(&self, parts: &[&[u8]]) -> Secret {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.keys.pepper)
            .unwrap_or_else(|_| unreachable_hmac());
        for part in parts {
            mac.update(part);
        }
        Secret::new(hex(&mac.finalize().into_bytes()))
    }

    /// Encrypts `plaintext` (XChaCha20-Poly1305 under a key derived from the pepper): for what
    /// must be kept a while but not in clear, such as an outbox message's parameters.
    pub fn seal(&self, plaintext: &str) -> DomainResult<String> {
        use chacha20poly1305::aead::{Aead, AeadCore, KeyInit};
        let cipher = chacha20poly1305::XChaCha20Poly1305::new_from_slice(&self.seal_key())
            .map_err(|_| DomainError::internal("seal key"))?;
        let nonce = chacha20poly1305::XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = cipher
            .encrypt(&nonce, plaintext.as_bytes())
            .map_err(|_| DomainError::internal("sealing failed"))?;
        let mut bytes = nonce.to_vec();
        bytes.extend(sealed);
        Ok(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Decrypts what [`Secrets::seal`] produced with the same pepper; `None` otherwise.
    pub fn open(&self, sealed: &str) -> Option<String> {
        use chacha20poly1305::aead::{Aead, KeyInit};
        let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        if bytes.len() < 24 {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        let cipher = chacha20poly1305::XChaCha20Poly1305::new_from_slice(&self.seal_key()).ok()?;
        let plain = cipher
            .decrypt(chacha20poly1305::XNonce::from_slice(nonce), ciphertext)
            .ok()?;
        String::from_utf8(plain).ok()
    }

    fn seal_key(&self) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.keys.pepper)
            .unwrap_or_else(|_| unreachable_hmac());
        mac.update(b"outbox-seal-key");
        mac.finalize().into_bytes().into()
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

    /// Checks signature and expiry; `None` for anything not valid.
    pub fn decode_access_token(&self, token: &str) -> Option<AccessClaims> {
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        jsonwebtoken::decode::<AccessClaims>(
            token,
            &jsonwebtoken::DecodingKey::from_secret(&self.keys.jwt),
            &validation,
        )
        .ok()
        .map(|data| data.claims)
    }
}

fn unreachable_hmac() -> Hmac<Sha256> {
    // `new_from_slice` only fails for fixed-size keys; HMAC's key is variable-size.
    panic!("HMAC-SHA256 accepts keys of every length")
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

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> Arc<Secrets> {
        Secrets::new(
            Keys {
                jwt: b"jwt".to_vec(),
                pepper: b"pepper".to_vec(),
            },
            Argon2Cost::FAST_INSECURE,
        )
        .expect("secrets")
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
        let other = Secrets::new(
            Keys {
                jwt: vec![],
                pepper: b"other".to_vec(),
            },
            Argon2Cost::FAST_INSECURE,
        )
        .expect("secrets");
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
        let forged = Secrets::new(
            Keys {
                jwt: b"other".to_vec(),
                pepper: vec![],
            },
            Argon2Cost::FAST_INSECURE,
        )
        .expect("s");
        assert!(forged.decode_access_token(&token).is_none());
    }

    #[test]
    fn sealed_text_opens_only_with_the_same_pepper() {
        let s = secrets();
        let sealed = s.seal("temporary password 123").expect("seal");
        assert!(!sealed.contains("temporary"));
        assert_eq!(s.open(&sealed).as_deref(), Some("temporary password 123"));
        let other = Secrets::new(
            Keys {
                jwt: vec![],
                pepper: b"other".to_vec(),
            },
            Argon2Cost::FAST_INSECURE,
        )
        .expect("s");
        assert_eq!(other.open(&sealed), None);
        assert_eq!(s.open("garbage"), None);
    }

    #[test]
    fn generated_credentials_have_their_shape() {
        assert!(random_digits(6).chars().all(|c| c.is_ascii_digit()));
        assert_eq!(random_digits(BOOKING_CODE_DIGITS).len(), 10);
        assert_eq!(random_password().len(), 16);
        assert_eq!(random_token().len(), 43);
    }
}
