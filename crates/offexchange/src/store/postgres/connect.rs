//! From a `postgres://` URL to a live connection: libpq's `sslmode` semantics over rustls.
//!
//! tokio-postgres understands `sslmode=disable|prefer|require` only, and its TLS is pluggable.
//! Supabase hands out URLs with `sslmode=require` (and documents `verify-full` with its own CA
//! file), so the TLS parameters are taken out of the URL here and applied the way libpq does:
//!
//! | `sslmode`                  | encryption            | certificate check                         |
//! |----------------------------|-----------------------|-------------------------------------------|
//! | `disable`, `allow`         | none                  | -                                         |
//! | `prefer` (or absent)       | if the server offers  | none (libpq: none either)                 |
//! | `require`                  | always                | none, unless `sslrootcert` is given       |
//! | `verify-ca`, `verify-full` | always                | chain and host name, against `sslrootcert`|
//! |                            |                       | or the Mozilla roots (webpki-roots)       |
//!
//! `verify-ca` is treated as `verify-full` (rustls always checks the host name): stricter, never
//! looser. Everything else in the URL (`options`, `application_name`, `connect_timeout`, ...) is
//! tokio-postgres's to parse.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, Config, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

/// How long to wait for a server that does not answer, unless the URL says `connect_timeout`.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Seen in `pg_stat_activity`, unless the URL names another application.
pub(super) const APPLICATION_NAME: &str = "offx";

#[derive(Clone)]
pub(super) struct Target {
    config: Config,
    tls: Option<MakeRustlsConnect>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Disable,
    Prefer,
    Require,
    VerifyFull,
}

impl Target {
    /// Parses a `postgres://` URL. Errors are plain text without the password.
    pub(super) fn parse(url: &str) -> Result<Target, String> {
        // The caller's error names the URL (redacted); the parser's message never quotes it.
        let mut parsed = url::Url::parse(url).map_err(|e| format!("not a valid URL: {e}"))?;
        // Whatever tokio-postgres says about the URL, it never repeats the password.
        let password = parsed
            .password()
            .map(|p| {
                url::form_urlencoded::parse(format!("p={p}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            })
            .filter(|p| !p.is_empty());
        let scrub = |message: String| match &password {
            Some(p) => message.replace(p.as_str(), "***"),
            None => message,
        };
        // libpq's default: encrypt when the server can, so a pooler URL without `sslmode` (as
        // Supabase's dashboard shows them) does not travel in clear.
        let mut mode = Mode::Prefer;
        let mut root_cert = None;
        let mut kept = Vec::new();
        for (key, value) in parsed.query_pairs() {
            match key.as_ref() {
                "sslmode" => {
                    mode = match value.as_ref() {
                        "disable" | "allow" => Mode::Disable,
                        "prefer" => Mode::Prefer,
                        "require" => Mode::Require,
                        "verify-ca" | "verify-full" => Mode::VerifyFull,
                        other => {
                            return Err(format!(
                                "sslmode={other} is not one of disable, allow, prefer, require, \
                                 verify-ca, verify-full"
                            ))
                        }
                    }
                }
                "sslrootcert" => root_cert = Some(value.into_owned()),
                "sslcert" | "sslkey" | "sslpassword" => {
                    return Err(format!(
                        "{key} (TLS client certificates) is not supported; authenticate with a \
                         password"
                    ))
                }
                _ => kept.push((key.into_owned(), value.into_owned())),
            }
        }
        if kept.is_empty() {
            parsed.set_query(None);
        } else {
            parsed.query_pairs_mut().clear().extend_pairs(kept);
        }
        let mut config = Config::from_str(parsed.as_str()).map_err(|e| scrub(e.to_string()))?;
        if config.get_application_name().is_none() {
            config.application_name(APPLICATION_NAME);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
        }
        // With a root certificate, libpq's `require` verifies the chain; so do we.
        if mode == Mode::Require && root_cert.is_some() {
            mode = Mode::VerifyFull;
        }
        let tls = match mode {
            Mode::Disable => {
                config.ssl_mode(SslMode::Disable);
                None
            }
            Mode::Prefer => {
                config.ssl_mode(SslMode::Prefer);
                Some(unverified()?)
            }
            Mode::Require => {
                config.ssl_mode(SslMode::Require);
                Some(unverified()?)
            }
            Mode::VerifyFull => {
                config.ssl_mode(SslMode::Require);
                Some(verified(root_cert.as_deref())?)
            }
        };
        Ok(Target {
            config,
            tls: tls.map(MakeRustlsConnect::new),
        })
    }

    /// Opens a connection and drives it on the current Tokio runtime.
    pub(super) async fn connect(&self) -> Result<Client, tokio_postgres::Error> {
        // The connection task ends by itself when the client is dropped or the server goes away;
        // its error then surfaces through the client's next call, which is where it is reported.
        match &self.tls {
            None => {
                let (client, connection) = self.config.connect(NoTls).await?;
                tokio::spawn(async move {
                    if let Err(e) = connection.await {
                        tracing::debug!("PostgreSQL connection ended: {e}");
                    }
                });
                Ok(client)
            }
            Some(tls) => {
                let (client, connection) = self.config.connect(tls.clone()).await?;
                tokio::spawn(async move {
                    if let Err(e) = connection.await {
                        tracing::debug!("PostgreSQL connection ended: {e}");
                    }
                });
                Ok(client)
            }
        }
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn builder() -> Result<rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier>, String> {
    ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))
}

/// `verify-full`: the chain must lead to `root_cert` (a PEM file) or to a Mozilla root.
fn verified(root_cert: Option<&str>) -> Result<ClientConfig, String> {
    let mut roots = RootCertStore::empty();
    match root_cert {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("sslrootcert={path}: cannot read a PEM certificate: {e}"))?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!(
                    "sslrootcert={path}: no usable certificate in the file"
                ));
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    Ok(builder()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// `require`/`prefer`: encrypted, certificate not checked, exactly as libpq does without a root
/// certificate. The handshake signatures are still verified (the server holds the key it shows).
fn unverified() -> Result<ClientConfig, String> {
    let verifier = Arc::new(EncryptOnly(provider()));
    Ok(builder()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

#[derive(Debug)]
struct EncryptOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
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
        verify_tls12_signature(
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
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(url: &str) -> (SslMode, bool) {
        let t = Target::parse(url).unwrap();
        (t.config.get_ssl_mode(), t.tls.is_some())
    }

    #[test]
    fn sslmodes() {
        assert_eq!(mode("postgres://u@h/db"), (SslMode::Prefer, true));
        assert_eq!(
            mode("postgres://u@h/db?sslmode=disable"),
            (SslMode::Disable, false)
        );
        assert_eq!(
            mode("postgres://u@h/db?sslmode=require"),
            (SslMode::Require, true)
        );
        assert_eq!(
            mode("postgresql://u:p@db.abc.supabase.co:5432/postgres?sslmode=verify-full"),
            (SslMode::Require, true)
        );
        assert_eq!(
            mode("postgres://u@h/db?sslmode=prefer"),
            (SslMode::Prefer, true)
        );
        let e = Target::parse("postgres://u@h/db?sslmode=maybe")
            .err()
            .unwrap();
        assert!(e.contains("sslmode=maybe"), "{e}");
        let e = Target::parse("postgres://u@h/db?sslrootcert=/nonexistent.crt&sslmode=verify-full")
            .err()
            .unwrap();
        assert!(e.contains("/nonexistent.crt"), "{e}");
    }

    #[test]
    fn unparseable_urls_are_refused_without_their_password() {
        for url in [
            "postgres://u:hunter2secret@h:port/db",
            "postgres://u:hunter2secret@[::1/db",
            "postgres://u:hunter2secret@h:5432/db?sslmode=require&port=x",
            "postgres://u:hunter2secret@h:5432/db?connect_timeout=soon",
        ] {
            let e = Target::parse(url).err().expect(url);
            assert!(!e.contains("hunter2secret"), "{url}: {e}");
        }
    }

    #[test]
    fn other_parameters_reach_tokio_postgres() {
        let t = Target::parse(
            "postgres://u:secret@h:6543/db?sslmode=require&options=-csearch_path%3Dx&connect_timeout=3",
        )
        .unwrap();
        assert_eq!(t.config.get_options(), Some("-csearch_path=x"));
        assert_eq!(
            t.config.get_connect_timeout(),
            Some(&Duration::from_secs(3))
        );
        assert_eq!(t.config.get_application_name(), Some(APPLICATION_NAME));
        assert_eq!(t.config.get_ports(), &[6543]);
    }
}
