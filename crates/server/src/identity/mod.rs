//! Where people's identities come from besides Podium's own users: an LDAP directory
//! or Active Directory (`[ldap]`), and an OpenID Connect provider whose access tokens
//! API calls may carry (`[oidc]`). Core decides what a sign-in means
//! (`podium_core::service::directory_sign_in`); this module holds the clients.

pub mod jwks;
pub mod ldap;
pub mod oidc;
pub mod oidc_login;
pub mod settings;

use std::path::Path;
use std::sync::Arc;

use podium_core::security::external::GroupMapping;
use podium_core::service::directory_sign_in::DirectorySignIn;

use self::ldap::LdapDirectory;
use self::settings::LdapSettings;

/// The directory sign-in `[ldap]` configures.
pub fn ldap_sign_in(settings: &LdapSettings) -> Result<DirectorySignIn, String> {
    let tls = client_tls(settings.ca_file.as_deref())?;
    Ok(DirectorySignIn {
        directory: Arc::new(LdapDirectory::new(settings, Arc::new(tls))),
        mapping: GroupMapping::new(&settings.group_mapping, settings.map_unlisted_groups),
    })
}

/// A TLS client configuration trusting the system's roots and `ca_file`.
pub fn client_tls(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, String> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        // A system certificate rustls cannot use is skipped, as browsers do.
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("cannot read the CA file {}: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!(
                "the CA file {} holds no certificate",
                path.display()
            ));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| {
                format!(
                    "the CA file {} holds a bad certificate: {e}",
                    path.display()
                )
            })?;
        }
    }
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("TLS set-up failed: {e}"))?
    .with_root_certificates(roots)
    .with_no_client_auth())
}
