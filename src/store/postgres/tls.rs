//! TLS to PostgreSQL on rustls, for the URL's `sslmode` (see [`TlsMode`]): `prefer` and
//! `require` encrypt without checking the certificate (as libpq does), `verify-ca` checks that
//! a trusted CA signed it, `verify-full` also that it names the host. Trusted CAs are the
//! `sslrootcert` PEM file, else the operating system's.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::store::{ClientCert, PgTarget, RootCerts, StoreError, TlsMode};

/// The TLS side of a connection to `t` (not used with `sslmode=disable`).
pub fn connector(t: &PgTarget) -> Result<MakeRustlsConnect, StoreError> {
    let bad = |what: String| StoreError::Postgres {
        shown: t.shown().to_string(),
        what,
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(format!("TLS set-up: {e}")))?;
    let verifier: Arc<dyn ServerCertVerifier> = match t.tls() {
        TlsMode::Disable | TlsMode::Prefer | TlsMode::Require => Arc::new(Lenient {
            chain: None,
            provider,
        }),
        mode @ (TlsMode::VerifyCa | TlsMode::VerifyFull) => {
            let roots = roots(&t.roots()).map_err(bad)?;
            let webpki =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| bad(format!("TLS set-up: {e}")))?;
            if mode == TlsMode::VerifyFull {
                webpki
            } else {
                Arc::new(Lenient {
                    chain: Some(webpki),
                    provider,
                })
            }
        }
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match t.client_cert() {
        None => builder.with_no_client_auth(),
        Some(c) => {
            let (chain, key) = client_identity(c).map_err(bad)?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| bad(format!("sslkey {}: {e}", c.key.display())))?
        }
    };
    Ok(MakeRustlsConnect::new(config))
}

/// The client certificate chain and its private key, or what is wrong with them.
fn client_identity(
    c: &ClientCert,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let shown = c.cert.display();
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&c.cert)
        .map_err(|e| format!("sslcert {shown}: cannot read it ({e})"))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("sslcert {shown}: not a PEM file of certificates ({e})"))?;
    if chain.is_empty() {
        return Err(format!(
            "sslcert {shown} holds no certificate: name the PEM file of this client's certificate"
        ));
    }
    let key_shown = c.key.display();
    key_is_private(&c.key)?;
    let key = PrivateKeyDer::from_pem_file(&c.key).map_err(|e| match e {
        rustls::pki_types::pem::Error::Io(io) => {
            format!("sslkey {key_shown}: cannot read it ({io})")
        }
        e => format!(
            "sslkey {key_shown}: not an unencrypted PEM private key (PKCS#8, PKCS#1 or SEC1) ({e})"
        ),
    })?;
    Ok((chain, key))
}

/// As libpq: the key must be a plain file that no other user may read or write: no group or
/// other permission bits (0600 or less), or, when root owns it, group read at most (0640).
fn key_is_private(path: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path)
        .map_err(|e| format!("sslkey {}: cannot read it ({e})", path.display()))?;
    if !meta.is_file() {
        return Err(format!(
            "sslkey {} is not a regular file: name the PEM file of the client's private key",
            path.display()
        ));
    }
    let mode = meta.mode() & 0o777;
    let refused = if meta.uid() == 0 { 0o037 } else { 0o077 };
    if mode & refused != 0 {
        return Err(format!(
            "sslkey {} can be read by other users (mode {mode:04o}): chmod 600 it, as the PostgreSQL client requires",
            path.display()
        ));
    }
    Ok(())
}

/// The trusted CAs, or what is wrong with them.
fn roots(from: &RootCerts) -> Result<rustls::RootCertStore, String> {
    let mut store = rustls::RootCertStore::empty();
    match from {
        RootCerts::File(path) => {
            let shown = path.display();
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("sslrootcert {shown}: cannot read it ({e})"))?
                .collect::<Result<_, _>>()
                .map_err(|e| {
                    format!("sslrootcert {shown}: not a PEM file of certificates ({e})")
                })?;
            if certs.is_empty() {
                return Err(format!(
                    "sslrootcert {shown} holds no certificate: name the PEM file of the CA that signed the server's certificate"
                ));
            }
            for c in certs {
                store
                    .add(c)
                    .map_err(|e| format!("sslrootcert {shown}: a certificate is unusable ({e})"))?;
            }
        }
        RootCerts::System => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = store.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(
                    "no CA certificates found in the system's store: install ca-certificates, or name the server's CA with sslrootcert=/path/ca.pem".into(),
                );
            }
        }
    }
    Ok(store)
}

/// A verifier that checks less than `verify-full`: with `chain`, that a trusted CA signed the
/// certificate whatever name it carries (`verify-ca`); without, nothing about it (`prefer`,
/// `require`). Either way the server must prove it holds the certificate's key, so the
/// connection is encrypted to whoever presented it.
#[derive(Debug)]
struct Lenient {
    chain: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            r => r,
        }
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
            &self.provider.signature_verification_algorithms,
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
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
