//! How the store connects: `DATABASE_URL` read once into a [`Connector`] that opens every
//! connection (the pool's, the booking listener's, the migrations'), over TLS when the URL asks.
//!
//! `sslmode` keeps libpq's meaning (from the URL's query, else `PGSSLMODE`):
//!
//! | sslmode | TLS | certificate |
//! | --- | --- | --- |
//! | `disable` | never | — |
//! | `allow`, `prefer` (the default, as in libpq) | when the server offers it | not checked |
//! | `require` | always | not checked; checked against the roots as `verify-ca` when `sslrootcert` is given (libpq's rule) |
//! | `verify-ca` | always | signed by a trusted root, any host name |
//! | `verify-full` | always | signed by a trusted root and valid for the host of the URL |
//!
//! The trusted roots are the PEM file named by `sslrootcert` (URL) or `PGSSLROOTCERT`, else the
//! system's (`sslrootcert=system` names them explicitly and, as in libpq, implies `verify-full`).
//! Over a Unix socket there is no TLS, whatever the mode. Client certificates are not supported.
//!
//! TLS is rustls on ring. A certificate that does not pass says so, naming the mode and the roots;
//! no message repeats the URL (it may hold a password).

use std::path::PathBuf;
use std::str::FromStr as _;
use std::sync::Arc;

use concierge_domain::storage::{StorageError, StorageResult};
use diesel::ConnectionError;
use diesel_async::AsyncPgConnection;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};
use tokio_postgres::config::{Host, SslMode as WireMode};
use tokio_postgres_rustls::MakeRustlsConnect;

/// libpq's `sslmode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<SslMode, String> {
        Ok(match value {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(format!(
                    "DATABASE_URL: invalid sslmode \"{other}\" (one of disable, allow, prefer, \
                     require, verify-ca, verify-full)"
                ));
            }
        })
    }

    fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// Where the trusted roots come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Roots {
    /// The operating system's store.
    System,
    /// A PEM file of one or more certificates.
    File(PathBuf),
}

/// What the server's certificate must pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Check {
    /// No TLS at all.
    NoTls,
    /// Encrypted, certificate not checked.
    Nothing,
    /// Signed by one of the roots, whatever the host name.
    Chain(Roots),
    /// Signed by one of the roots and valid for the host.
    ChainAndHost(Roots),
}

/// `DATABASE_URL` read: the connection parameters tokio-postgres understands, and the TLS rules.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) config: tokio_postgres::Config,
    pub(crate) mode: SslMode,
    pub(crate) check: Check,
}

/// The URL's parameters that this module handles (tokio-postgres refuses them, or knows only
/// part of their values).
const SSLMODE: &str = "sslmode";
const SSLROOTCERT: &str = "sslrootcert";

/// Reads `url` (a `postgres://` URL or a `key=value` string); `env` looks up `PGSSLMODE` and
/// `PGSSLROOTCERT`.
pub(crate) fn parse(url: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Settings, String> {
    let (rest, taken) = take_tls_params(url)?;
    let mut mode = None;
    let mut root_cert = None;
    for (key, value) in taken {
        match key.as_str() {
            SSLMODE => mode = Some(SslMode::parse(&value)?),
            _ => root_cert = Some(value),
        }
    }
    let mode = match mode {
        Some(mode) => Some(mode),
        None => env("PGSSLMODE")
            .filter(|v| !v.is_empty())
            .map(|v| SslMode::parse(&v))
            .transpose()?,
    };
    let root_cert = root_cert
        .or_else(|| env("PGSSLROOTCERT"))
        .filter(|v| !v.is_empty());
    let roots = root_cert.map(|value| match value.as_str() {
        "system" => Roots::System,
        _ => Roots::File(PathBuf::from(value)),
    });
    let mode = match (mode, &roots) {
        (None, Some(Roots::System)) => SslMode::VerifyFull,
        (Some(weak), Some(Roots::System)) if weak != SslMode::VerifyFull => {
            return Err(format!(
                "DATABASE_URL: sslmode={} may not be used with sslrootcert=system (use verify-full)",
                weak.name()
            ));
        }
        (mode, _) => mode.unwrap_or(SslMode::Prefer),
    };
    let mut config = tokio_postgres::Config::from_str(&rest)
        .map_err(|e| format!("DATABASE_URL is not a valid PostgreSQL URL: {e}"))?;
    let unix_only = !config.get_hosts().is_empty()
        && config
            .get_hosts()
            .iter()
            .all(|host| !matches!(host, Host::Tcp(_)));
    let check = match mode {
        _ if unix_only => Check::NoTls,
        SslMode::Disable => Check::NoTls,
        SslMode::Allow | SslMode::Prefer => Check::Nothing,
        SslMode::Require => match roots {
            Some(Roots::File(path)) => Check::Chain(Roots::File(path)),
            _ => Check::Nothing,
        },
        SslMode::VerifyCa => Check::Chain(roots.unwrap_or(Roots::System)),
        SslMode::VerifyFull => Check::ChainAndHost(roots.unwrap_or(Roots::System)),
    };
    config.ssl_mode(match (&check, mode) {
        (Check::NoTls, _) => WireMode::Disable,
        (_, SslMode::Allow | SslMode::Prefer) => WireMode::Prefer,
        _ => WireMode::Require,
    });
    Ok(Settings {
        config,
        mode,
        check,
    })
}

/// `url` without `sslmode` and `sslrootcert`, and their (decoded) values.
#[allow(clippy::type_complexity)]
fn take_tls_params(url: &str) -> Result<(String, Vec<(String, String)>), String> {
    let ours = |key: &str| key == SSLMODE || key == SSLROOTCERT;
    let unsupported = |key: &str| {
        matches!(
            key,
            "sslcert" | "sslkey" | "sslpassword" | "sslcrl" | "sslcrldir" | "sslsni"
        )
    };
    let refuse = |key: &str| {
        Err(format!(
            "DATABASE_URL: {key} is not supported (TLS client certificates and CRLs are not; \
             sslmode and sslrootcert are)"
        ))
    };
    let mut taken = Vec::new();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let Some((base, query)) = url.split_once('?') else {
            return Ok((url.to_owned(), taken));
        };
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = percent_decode(key)?;
            if ours(&key) {
                taken.push((key, percent_decode(value)?));
            } else if unsupported(&key) {
                return refuse(&key);
            } else {
                kept.push(pair);
            }
        }
        let rest = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        Ok((rest, taken))
    } else {
        // key=value pairs separated by spaces (values with spaces must not be ours).
        let mut kept = Vec::new();
        for token in url.split_whitespace() {
            let (key, value) = token.split_once('=').unwrap_or((token, ""));
            if ours(key) {
                taken.push((key.to_owned(), value.trim_matches('\'').to_owned()));
            } else if unsupported(key) {
                return refuse(key);
            } else {
                kept.push(token);
            }
        }
        Ok((kept.join(" "), taken))
    }
}

fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or("DATABASE_URL: invalid percent-encoding in a parameter")?;
                out.push(hex);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| "DATABASE_URL: a parameter is not UTF-8".to_owned())
}

/// Opens connections as `DATABASE_URL` says. Cheap to clone; the TLS configuration (and its
/// roots, read once) is shared.
#[derive(Clone)]
pub(crate) struct Connector {
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    /// The mode and the roots, for error messages.
    what: Arc<str>,
    mode: SslMode,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("tls", &self.what)
            .finish_non_exhaustive()
    }
}

impl Connector {
    /// Reads `database_url` (and `PGSSLMODE`, `PGSSLROOTCERT`) and loads the trusted roots.
    pub(crate) fn new(database_url: &str) -> StorageResult<Connector> {
        let settings =
            parse(database_url, &|name| std::env::var(name).ok()).map_err(StorageError::Other)?;
        Connector::from_settings(settings)
    }

    pub(crate) fn from_settings(settings: Settings) -> StorageResult<Connector> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| StorageError::Other(format!("TLS configuration: {e}")))?;
        let (config, roots) = match &settings.check {
            Check::NoTls | Check::Nothing => (
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
                    .with_no_client_auth(),
                None,
            ),
            Check::ChainAndHost(roots) => (
                builder
                    .with_root_certificates(load_roots(roots)?)
                    .with_no_client_auth(),
                Some(roots),
            ),
            Check::Chain(roots) => {
                let verifier = WebPkiServerVerifier::builder_with_provider(
                    Arc::new(load_roots(roots)?),
                    provider,
                )
                .build()
                .map_err(|e| StorageError::Other(format!("TLS configuration: {e}")))?;
                (
                    builder
                        .dangerous()
                        .with_custom_certificate_verifier(Arc::new(AnyHostName(verifier)))
                        .with_no_client_auth(),
                    Some(roots),
                )
            }
        };
        let what = match roots {
            None => format!("sslmode={}", settings.mode.name()),
            Some(Roots::System) => {
                format!(
                    "sslmode={}, trusting the system's roots",
                    settings.mode.name()
                )
            }
            Some(Roots::File(path)) => format!(
                "sslmode={}, trusting the roots in {}",
                settings.mode.name(),
                path.display()
            ),
        };
        Ok(Connector {
            config: settings.config,
            tls: MakeRustlsConnect::new(config),
            what: what.into(),
            mode: settings.mode,
        })
    }

    /// A new connection, its I/O driven by a task of the current runtime.
    pub(crate) async fn connect(&self) -> Result<AsyncPgConnection, ConnectionError> {
        let (client, connection) = self
            .config
            .connect(self.tls.clone())
            .await
            .map_err(|e| ConnectionError::BadConnection(self.explain(&e)))?;
        AsyncPgConnection::try_from_client_and_connection(client, connection).await
    }

    /// The failure as the operator needs it: a refused certificate says so, with the mode and
    /// the roots; a server that wants TLS from a `disable` client says which setting to change.
    fn explain(&self, error: &tokio_postgres::Error) -> String {
        if let Some(refused) = certificate_error(error) {
            return format!(
                "the database server's TLS certificate was refused ({}): {refused}; check that \
                 the root certificate (sslrootcert or PGSSLROOTCERT) is the one that signed the \
                 server's certificate, and that it is valid for the host of DATABASE_URL",
                self.what
            );
        }
        // tokio-postgres shows only its own part ("db error"): add the causes (the server's
        // message), which never hold the URL.
        let mut message = error.to_string();
        let mut cause = std::error::Error::source(error);
        while let Some(current) = cause {
            let part = current.to_string();
            if !message.contains(&part) {
                message = format!("{message}: {part}");
            }
            cause = current.source();
        }
        if self.mode == SslMode::Disable && message.contains("no encryption") {
            return format!(
                "{message} (the server accepts only TLS connections: set sslmode=require or \
                 verify-full in DATABASE_URL)"
            );
        }
        message
    }
}

/// The rustls certificate error somewhere in `error`'s chain (tokio-rustls wraps it in an
/// `io::Error`, whose `source()` skips it).
fn certificate_error(error: &tokio_postgres::Error) -> Option<String> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = next {
        let inner = current
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|inner| inner as &(dyn std::error::Error + 'static));
        for candidate in [Some(current), inner].into_iter().flatten() {
            if let Some(rustls::Error::InvalidCertificate(refused)) =
                candidate.downcast_ref::<rustls::Error>()
            {
                return Some(format!("{refused:?}"));
            }
        }
        next = current.source();
    }
    None
}

fn load_roots(roots: &Roots) -> StorageResult<RootCertStore> {
    let mut store = RootCertStore::empty();
    match roots {
        Roots::File(path) => {
            let unreadable = |detail: String| {
                StorageError::Other(format!(
                    "cannot read the root certificates in {} (sslrootcert or PGSSLROOTCERT): \
                     {detail}",
                    path.display()
                ))
            };
            for cert in
                CertificateDer::pem_file_iter(path).map_err(|e| unreadable(e.to_string()))?
            {
                let cert = cert.map_err(|e| unreadable(e.to_string()))?;
                store
                    .add(cert)
                    .map_err(|e| unreadable(format!("not a usable certificate: {e}")))?;
            }
            if store.is_empty() {
                return Err(unreadable("no certificate in the file".into()));
            }
        }
        Roots::System => {
            let found = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(found.certs);
            if store.is_empty() {
                return Err(StorageError::Other(format!(
                    "no system root certificates for sslmode verify-ca/verify-full ({} errors); \
                     install the ca-certificates package or name a CA file with PGSSLROOTCERT",
                    found.errors.len()
                )));
            }
        }
    }
    Ok(store)
}

/// `require`: any certificate will do (encryption against a passive listener only, as in libpq);
/// the handshake signatures are still checked, so the server holds the key it shows.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to a trusted root; the host name is not compared.
#[derive(Debug)]
struct AnyHostName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyHostName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // The chain is checked first: a name mismatch is only reported of a trusted chain.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn read(url: &str) -> Settings {
        parse(url, &no_env).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    #[test]
    fn without_sslmode_tls_is_preferred_unchecked_as_in_libpq() {
        let s = read("postgres://u:pw@db.example.com:5433/app");
        assert_eq!(s.mode, SslMode::Prefer);
        assert_eq!(s.check, Check::Nothing);
        assert_eq!(s.config.get_ssl_mode(), WireMode::Prefer);
        assert_eq!(s.config.get_ports(), &[5433]);
        assert_eq!(s.config.get_dbname(), Some("app"));
        assert_eq!(s.config.get_password(), Some(&b"pw"[..]));
    }

    #[test]
    fn each_mode_checks_what_libpq_checks() {
        let cases = [
            ("disable", Check::NoTls, WireMode::Disable),
            ("allow", Check::Nothing, WireMode::Prefer),
            ("prefer", Check::Nothing, WireMode::Prefer),
            ("require", Check::Nothing, WireMode::Require),
            ("verify-ca", Check::Chain(Roots::System), WireMode::Require),
            (
                "verify-full",
                Check::ChainAndHost(Roots::System),
                WireMode::Require,
            ),
        ];
        for (mode, check, wire) in cases {
            let s = read(&format!("postgres://u@h/db?sslmode={mode}"));
            assert_eq!(s.check, check, "{mode}");
            assert_eq!(s.config.get_ssl_mode(), wire, "{mode}");
        }
    }

    #[test]
    fn sslrootcert_names_the_roots_and_other_parameters_stay() {
        let s = read(
            "postgresql://u@h/db?application_name=x&sslmode=verify-full&sslrootcert=%2Fetc%2Fca%20one.pem&connect_timeout=3",
        );
        assert_eq!(
            s.check,
            Check::ChainAndHost(Roots::File("/etc/ca one.pem".into()))
        );
        assert_eq!(s.config.get_application_name(), Some("x"));
        assert_eq!(
            s.config.get_connect_timeout(),
            Some(&std::time::Duration::from_secs(3))
        );
    }

    #[test]
    fn require_with_a_root_file_checks_the_chain_like_libpq() {
        let s = read("postgres://u@h/db?sslmode=require&sslrootcert=/ca.pem");
        assert_eq!(s.check, Check::Chain(Roots::File("/ca.pem".into())));
    }

    #[test]
    fn sslrootcert_system_means_verify_full_and_refuses_weaker_modes() {
        let s = read("postgres://u@h/db?sslrootcert=system");
        assert_eq!(s.mode, SslMode::VerifyFull);
        assert_eq!(s.check, Check::ChainAndHost(Roots::System));
        let refused = parse(
            "postgres://u@h/db?sslmode=require&sslrootcert=system",
            &no_env,
        )
        .err()
        .unwrap_or_default();
        assert!(refused.contains("verify-full"), "{refused}");
    }

    #[test]
    fn the_environment_fills_what_the_url_leaves_out() {
        let env = |name: &str| match name {
            "PGSSLMODE" => Some("verify-full".to_owned()),
            "PGSSLROOTCERT" => Some("/env/ca.pem".to_owned()),
            _ => None,
        };
        let s = parse("postgres://u@h/db", &env).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            s.check,
            Check::ChainAndHost(Roots::File("/env/ca.pem".into()))
        );
        let s = parse("postgres://u@h/db?sslmode=disable", &env).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.check, Check::NoTls, "the URL wins");
    }

    #[test]
    fn key_value_strings_are_read_too() {
        let s = read("host=db.example.com user=u sslmode=verify-ca sslrootcert='/ca.pem'");
        assert_eq!(s.check, Check::Chain(Roots::File("/ca.pem".into())));
        assert_eq!(s.config.get_user(), Some("u"));
    }

    #[test]
    fn unix_sockets_never_use_tls() {
        let s = read("postgres://u@%2Fvar%2Frun%2Fpostgresql/db?sslmode=require");
        assert_eq!(s.check, Check::NoTls);
        assert_eq!(s.config.get_ssl_mode(), WireMode::Disable);
    }

    #[test]
    fn mistakes_are_named_without_the_password() {
        for (url, says) in [
            ("postgres://u:secret@h/db?sslmode=verify", "invalid sslmode"),
            (
                "postgres://u:secret@h/db?sslcert=/c.pem",
                "sslcert is not supported",
            ),
            (
                "postgres://u:secret@h:notaport/db",
                "not a valid PostgreSQL URL",
            ),
        ] {
            let error = parse(url, &no_env).err().unwrap_or_default();
            assert!(error.contains(says), "{url}: {error}");
            assert!(!error.contains("secret"), "{url}: {error}");
        }
    }

    #[test]
    fn a_missing_root_file_is_named() {
        let settings = read("postgres://u@h/db?sslmode=verify-full&sslrootcert=/nowhere/ca.pem");
        let error = Connector::from_settings(settings)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("/nowhere/ca.pem"), "{error}");
    }
}
