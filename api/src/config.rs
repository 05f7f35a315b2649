//! Configuration: environment variables, optionally preceded by a `KEY=value` file named by
//! `CONFIG_FILE` (the environment wins). Every setting is optional.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use concierge_domain::secrets::{Argon2Cost, random_token};

#[derive(Clone)]
pub struct Config {
    pub listen_addr: SocketAddr,
    pub database_url: Option<String>,
    pub jwt_secret: Vec<u8>,
    pub code_pepper: Vec<u8>,
    /// The keys being rotated out (`JWT_SECRET_PREVIOUS`, `CODE_PEPPER_PREVIOUS`): what they
    /// signed, hashed or sealed is still accepted; nothing new is made with them.
    pub jwt_secret_previous: Option<Vec<u8>>,
    pub code_pepper_previous: Option<Vec<u8>>,
    /// True when a secret was generated for this start (tokens die with the process).
    pub ephemeral_secrets: bool,
    pub public_url: String,
    pub smtp_url: Option<String>,
    pub mail_dir: PathBuf,
    /// Sender of e-mails (`MAIL_FROM`, default `Concierge <no-reply@localhost>`).
    pub mail_from: String,
    pub production: bool,
    pub bootstrap_admin: Option<(String, String)>,
    pub argon2: Argon2Cost,
    pub auto_migrate: bool,
    pub json_logs: bool,
    /// The OpenTelemetry collector's base URL (`OTEL_EXPORTER_OTLP_ENDPOINT`): traces are
    /// exported over OTLP/HTTP when set.
    pub otlp_endpoint: Option<String>,
    /// Proxies whose `X-Forwarded-For` is believed (`TRUSTED_PROXIES`).
    pub trusted_proxies: crate::client_address::TrustedProxies,
    /// Browser origins allowed besides the server's own (`ALLOWED_ORIGINS`, comma-separated).
    pub allowed_origins: Vec<String>,
    /// How long an invitation link lives (`INVITATION_TTL_HOURS`, default 168 = 7 days).
    pub invitation_ttl: chrono::Duration,
    /// How often this replica releases the bookings nobody checked in to
    /// (`RELEASE_INTERVAL_SECONDS`, 1 to 3600, default 20).
    pub release_interval: std::time::Duration,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen_addr", &self.listen_addr)
            .field("database", &self.database_url.as_ref().map(|_| "postgres"))
            .field("public_url", &self.public_url)
            .field("production", &self.production)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

impl Config {
    /// Reads the process environment (and `CONFIG_FILE`).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&env_vars()?)
    }

    /// As [`Config::from_env`], for `concierge migrate`, which signs and hashes nothing: the
    /// production checks of `JWT_SECRET` and `CODE_PEPPER` are left out (a migration job is given
    /// only `DATABASE_URL`).
    pub fn from_env_for_migrations() -> Result<Self, ConfigError> {
        Self::read(&env_vars()?, false)
    }

    /// The configuration these variables give. With `APP_ENV=production`, `JWT_SECRET` and
    /// `CODE_PEPPER` must be set, at least [`MIN_SECRET_BYTES`] long and not a placeholder.
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        Self::read(vars, true)
    }

    fn read(vars: &HashMap<String, String>, keys_needed: bool) -> Result<Self, ConfigError> {
        let get = |key: &str| {
            vars.get(key)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let listen_addr = get("LISTEN_ADDR")
            .unwrap_or_else(|| "127.0.0.1:8080".into())
            .parse()
            .map_err(|e| ConfigError(format!("LISTEN_ADDR: {e}")))?;
        let (jwt_current, pepper_current) = (get("JWT_SECRET"), get("CODE_PEPPER"));
        let jwt_secret_previous = previous_secret(
            "JWT_SECRET",
            jwt_current.as_deref(),
            get("JWT_SECRET_PREVIOUS"),
        )?;
        let code_pepper_previous = previous_secret(
            "CODE_PEPPER",
            pepper_current.as_deref(),
            get("CODE_PEPPER_PREVIOUS"),
        )?;
        let production = get("APP_ENV").is_some_and(|v| v.eq_ignore_ascii_case("production"));
        if production && keys_needed {
            production_secret("JWT_SECRET", jwt_current.as_deref())?;
            production_secret("CODE_PEPPER", pepper_current.as_deref())?;
            for name in ["JWT_SECRET_PREVIOUS", "CODE_PEPPER_PREVIOUS"] {
                if get(name).as_deref().is_some_and(is_placeholder) {
                    return Err(ConfigError(format!(
                        "{name} holds a placeholder value from the deploy examples, which anyone can read: remove it"
                    )));
                }
            }
        }
        let (jwt_secret, jwt_ephemeral) = secret(jwt_current);
        let (code_pepper, pepper_ephemeral) = secret(pepper_current);
        let bootstrap_admin = match (
            get("BOOTSTRAP_ADMIN_EMAIL"),
            get("BOOTSTRAP_ADMIN_PASSWORD"),
        ) {
            (Some(email), Some(password)) => Some((email, password)),
            (None, None) => None,
            _ => {
                return Err(ConfigError(
                    "BOOTSTRAP_ADMIN_EMAIL and BOOTSTRAP_ADMIN_PASSWORD go together".into(),
                ));
            }
        };
        let argon2 = match get("ARGON2_COST").as_deref() {
            None | Some("owasp") => Argon2Cost::OWASP,
            Some("fast-insecure") if !production => Argon2Cost::FAST_INSECURE,
            Some(other) => {
                return Err(ConfigError(format!(
                    "ARGON2_COST: unknown or not allowed here: {other}"
                )));
            }
        };
        Ok(Config {
            listen_addr,
            database_url: get("DATABASE_URL"),
            jwt_secret,
            code_pepper,
            jwt_secret_previous,
            code_pepper_previous,
            ephemeral_secrets: jwt_ephemeral || pepper_ephemeral,
            public_url: get("PUBLIC_URL").unwrap_or_else(|| format!("http://{listen_addr}")),
            smtp_url: get("SMTP_URL"),
            mail_dir: PathBuf::from(get("MAIL_DIR").unwrap_or_else(|| "./mailbox".into())),
            mail_from: get("MAIL_FROM")
                .unwrap_or_else(|| crate::mail::transport::DEFAULT_MAIL_FROM.into()),
            production,
            bootstrap_admin,
            argon2,
            auto_migrate: get("AUTO_MIGRATE").is_none_or(|v| !v.eq_ignore_ascii_case("false")),
            json_logs: get("LOG_FORMAT").is_some_and(|v| v.eq_ignore_ascii_case("json")),
            otlp_endpoint: get("OTEL_EXPORTER_OTLP_ENDPOINT").filter(|v| !v.trim().is_empty()),
            trusted_proxies: crate::client_address::TrustedProxies::parse(
                &get("TRUSTED_PROXIES").unwrap_or_default(),
            )
            .map_err(|e| ConfigError(format!("TRUSTED_PROXIES: {e}")))?,
            allowed_origins: get("ALLOWED_ORIGINS")
                .unwrap_or_default()
                .split(',')
                .map(|o| o.trim().trim_end_matches('/').to_owned())
                .filter(|o| !o.is_empty())
                .collect(),
            invitation_ttl: match get("INVITATION_TTL_HOURS") {
                None => chrono::Duration::days(7),
                Some(hours) => hours
                    .parse::<i64>()
                    .ok()
                    .filter(|h| (1..=24 * 90).contains(h))
                    .map(chrono::Duration::hours)
                    .ok_or_else(|| {
                        ConfigError("INVITATION_TTL_HOURS: a number of hours from 1 to 2160".into())
                    })?,
            },
            release_interval: match get("RELEASE_INTERVAL_SECONDS") {
                None => std::time::Duration::from_secs(20),
                Some(seconds) => seconds
                    .parse::<u64>()
                    .ok()
                    .filter(|s| (1..=3600).contains(s))
                    .map(std::time::Duration::from_secs)
                    .ok_or_else(|| {
                        ConfigError(
                            "RELEASE_INTERVAL_SECONDS: a number of seconds from 1 to 3600".into(),
                        )
                    })?,
            },
        })
    }
}

/// The shortest `JWT_SECRET` and `CODE_PEPPER` accepted with `APP_ENV=production`, in bytes (what
/// `openssl rand -hex 32` prints is 64).
pub const MIN_SECRET_BYTES: usize = 32;

/// Whether a key is one of the placeholders shown in `deploy/` (or looks like one): such a value
/// is public, so it protects nothing.
pub fn is_placeholder(value: &str) -> bool {
    let value = value.to_ascii_lowercase();
    ["placeholder", "replace-with", "change-me", "changeme"]
        .iter()
        .any(|marker| value.contains(marker))
}

/// In production each key must be set, long enough, and not a documented placeholder. (The
/// `_PREVIOUS` keys may be short: rotating a short key out is how one gets rid of it.)
fn production_secret(name: &str, value: Option<&str>) -> Result<(), ConfigError> {
    match value {
        None => Err(ConfigError(format!(
            "APP_ENV=production needs {name}, the same on every replica: generate it once with `openssl rand -hex 32`"
        ))),
        Some(value) if is_placeholder(value) => Err(ConfigError(format!(
            "{name} holds a placeholder value from the deploy examples, which anyone can read: generate it with `openssl rand -hex 32`"
        ))),
        Some(value) if value.len() < MIN_SECRET_BYTES => Err(ConfigError(format!(
            "{name} must be at least {MIN_SECRET_BYTES} bytes with APP_ENV=production (it has {}): generate it with `openssl rand -hex 32`",
            value.len()
        ))),
        Some(_) => Ok(()),
    }
}

fn env_vars() -> Result<HashMap<String, String>, ConfigError> {
    let mut vars: HashMap<String, String> = HashMap::new();
    if let Ok(path) = std::env::var("CONFIG_FILE") {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| ConfigError(format!("CONFIG_FILE {path}: {e}")))?;
        vars.extend(parse_env_file(&text));
    }
    vars.extend(std::env::vars());
    Ok(vars)
}

fn secret(value: Option<String>) -> (Vec<u8>, bool) {
    match value {
        Some(v) => (v.into_bytes(), false),
        None => (random_token().into_bytes(), true),
    }
}

/// `{name}_PREVIOUS`, read like `{name}` (trimmed; empty is unset): the key being rotated out.
/// It needs the new key beside it, and must differ from it.
fn previous_secret(
    name: &str,
    current: Option<&str>,
    previous: Option<String>,
) -> Result<Option<Vec<u8>>, ConfigError> {
    match (current, previous) {
        (_, None) => Ok(None),
        (None, Some(_)) => Err(ConfigError(format!(
            "{name}_PREVIOUS is set but {name} is not: during a rotation {name} holds the new key and {name}_PREVIOUS the old one"
        ))),
        (Some(current), Some(previous)) if current == previous => Err(ConfigError(format!(
            "{name}_PREVIOUS equals {name}: put the new key in {name} (and keep the old one in {name}_PREVIOUS), or remove {name}_PREVIOUS"
        ))),
        (Some(_), Some(previous)) => Ok(Some(previous.into_bytes())),
    }
}

fn parse_env_file(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().trim_matches('"').to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let config = Config::from_vars(&HashMap::new()).expect("defaults");
        assert_eq!(config.listen_addr.to_string(), "127.0.0.1:8080");
        assert!(config.ephemeral_secrets && config.database_url.is_none() && !config.production);
        let vars: HashMap<String, String> =
            parse_env_file("# c\nLISTEN_ADDR=0.0.0.0:9000\nJWT_SECRET=\"abc\"\nCODE_PEPPER=x\n")
                .into_iter()
                .collect();
        let config = Config::from_vars(&vars).expect("file");
        assert_eq!(config.listen_addr.to_string(), "0.0.0.0:9000");
        assert_eq!(config.jwt_secret, b"abc");
        assert!(!config.ephemeral_secrets);
    }

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn previous_keys_are_optional_and_read_beside_the_current_ones() {
        let config = Config::from_vars(&vars(&[("JWT_SECRET", "new"), ("CODE_PEPPER", "pep")]))
            .expect("no previous keys");
        assert_eq!(
            (config.jwt_secret_previous, config.code_pepper_previous),
            (None, None)
        );
        let config = Config::from_vars(&vars(&[
            ("JWT_SECRET", "new"),
            ("JWT_SECRET_PREVIOUS", " old "),
            ("CODE_PEPPER", "pep2"),
            ("CODE_PEPPER_PREVIOUS", "pep1"),
        ]))
        .expect("previous keys");
        assert_eq!(config.jwt_secret_previous.as_deref(), Some(&b"old"[..]));
        assert_eq!(config.code_pepper_previous.as_deref(), Some(&b"pep1"[..]));
        // Empty is unset, as for the current keys.
        let config =
            Config::from_vars(&vars(&[("JWT_SECRET", "new"), ("JWT_SECRET_PREVIOUS", "")]))
                .expect("empty previous");
        assert_eq!(config.jwt_secret_previous, None);
    }

    #[test]
    fn a_previous_key_equal_to_the_current_one_or_alone_is_refused() {
        for (name, pairs) in [
            (
                "JWT_SECRET",
                vec![("JWT_SECRET", "same"), ("JWT_SECRET_PREVIOUS", "same ")],
            ),
            (
                "CODE_PEPPER",
                vec![("CODE_PEPPER", "same"), ("CODE_PEPPER_PREVIOUS", "same")],
            ),
            ("JWT_SECRET", vec![("JWT_SECRET_PREVIOUS", "old")]),
            ("CODE_PEPPER", vec![("CODE_PEPPER_PREVIOUS", "old")]),
        ] {
            let error = Config::from_vars(&vars(&pairs))
                .err()
                .unwrap_or_else(|| panic!("{pairs:?} must be refused"));
            assert!(
                error.to_string().contains(&format!("{name}_PREVIOUS")),
                "{error}"
            );
        }
    }

    const GOOD_JWT: &str = "0123456789abcdef0123456789abcdef-jwt";
    const GOOD_PEPPER: &str = "0123456789abcdef0123456789abcdef-pepper";

    #[test]
    fn fast_hashing_is_refused_in_production() {
        let vars = vars(&[
            ("APP_ENV", "production"),
            ("ARGON2_COST", "fast-insecure"),
            ("JWT_SECRET", GOOD_JWT),
            ("CODE_PEPPER", GOOD_PEPPER),
        ]);
        let error = Config::from_vars(&vars).expect_err("refused");
        assert!(error.to_string().contains("ARGON2_COST"), "{error}");
    }

    #[test]
    fn production_starts_with_long_real_keys_only() {
        let config = Config::from_vars(&vars(&[
            ("APP_ENV", "production"),
            ("JWT_SECRET", GOOD_JWT),
            ("CODE_PEPPER", GOOD_PEPPER),
        ]))
        .expect("long keys");
        assert!(config.production && !config.ephemeral_secrets);
        let short = "x".repeat(MIN_SECRET_BYTES - 1);
        let long_placeholder = "placeholder-jwt-secret-replace-with-openssl-rand-hex-32";
        for (name, pairs) in [
            // Missing: no random keys in production.
            ("JWT_SECRET", vec![("CODE_PEPPER", GOOD_PEPPER)]),
            ("CODE_PEPPER", vec![("JWT_SECRET", GOOD_JWT)]),
            ("JWT_SECRET", vec![]),
            // Too short.
            (
                "JWT_SECRET",
                vec![("JWT_SECRET", short.as_str()), ("CODE_PEPPER", GOOD_PEPPER)],
            ),
            (
                "CODE_PEPPER",
                vec![("JWT_SECRET", GOOD_JWT), ("CODE_PEPPER", short.as_str())],
            ),
            // Long enough, but a documented placeholder.
            (
                "JWT_SECRET",
                vec![
                    ("JWT_SECRET", long_placeholder),
                    ("CODE_PEPPER", GOOD_PEPPER),
                ],
            ),
            (
                "CODE_PEPPER",
                vec![
                    ("JWT_SECRET", GOOD_JWT),
                    (
                        "CODE_PEPPER",
                        "PLACEHOLDER-replace-with-openssl-rand-hex-32",
                    ),
                ],
            ),
            (
                "JWT_SECRET_PREVIOUS",
                vec![
                    ("JWT_SECRET", GOOD_JWT),
                    ("CODE_PEPPER", GOOD_PEPPER),
                    ("JWT_SECRET_PREVIOUS", long_placeholder),
                ],
            ),
        ] {
            let mut pairs = pairs;
            pairs.push(("APP_ENV", "production"));
            let error = Config::from_vars(&vars(&pairs))
                .err()
                .unwrap_or_else(|| panic!("{name}: {pairs:?} must be refused"));
            let message = error.to_string();
            assert!(message.contains(name), "{message}");
            // The message never repeats the key.
            assert!(
                !message.contains(&short) && !message.contains(long_placeholder),
                "{message}"
            );
        }
        // A short previous key may still be rotated out.
        let config = Config::from_vars(&vars(&[
            ("APP_ENV", "production"),
            ("JWT_SECRET", GOOD_JWT),
            ("CODE_PEPPER", GOOD_PEPPER),
            ("JWT_SECRET_PREVIOUS", "old-short-key"),
        ]))
        .expect("a short previous key");
        assert_eq!(
            config.jwt_secret_previous.as_deref(),
            Some(&b"old-short-key"[..])
        );
        // `concierge migrate` needs no keys (the k8s migration job has none).
        let config = Config::read(&vars(&[("APP_ENV", "production")]), false).expect("migrate");
        assert!(config.production);
        // Outside production, anything goes (random keys with a warning).
        let config = Config::from_vars(&vars(&[("JWT_SECRET", "short")])).expect("development");
        assert!(config.ephemeral_secrets);
    }
}
