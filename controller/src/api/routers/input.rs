//! The bodies of `POST` and `PUT /api/routers`, checked into the ledger's shapes.
//!
//! Each bad value is a 422 naming its field. `port` defaults to 8728, or 8729 with `tls`;
//! API-SSL needs a way to trust the router: `tls_fingerprint` (SHA-256 of its certificate, hex,
//! colons allowed) or `tls_ca_pem`. Passwords are never shown by `Debug`.

use hotspot_pki::SiteId;
use hotspot_shared::domain::RouterTls;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::schema::ObjectBuilder;

use super::view::RouterView;
use crate::api::bounds;
use crate::api::error::{ApiError, ApiResult};
use crate::store::{NewRouter, RouterRecord, RouterUpdate};

/// Largest CA certificate PEM accepted (characters).
const MAX_CA_PEM: usize = 16 * 1024;
/// A certificate's SHA-256: 64 hex digits, or 32 colon-separated pairs.
const FINGERPRINT_PATTERN: &str = "^(?:[0-9A-Fa-f]{64}|[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){31})$";
const PEM_MARK: &str = "-----BEGIN CERTIFICATE-----";

/// Routers, one page.
#[derive(Debug, Serialize, ToSchema)]
pub struct RouterList {
    pub items: Vec<RouterView>,
    /// Give it back as `after` for the next page; null at the end.
    pub next: Option<String>,
}

/// A router to add.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRouter {
    #[schema(schema_with = bounds::long_text)]
    pub name: String,
    #[schema(schema_with = bounds::site_id)]
    pub site_id: String,
    #[serde(default)]
    #[schema(schema_with = bounds::optional_text)]
    pub location: String,
    /// Address of the router as the site's agent reaches it.
    #[schema(schema_with = bounds::host_text)]
    pub host: String,
    /// RouterOS API port: 8728, or 8729 for API-SSL (the default follows `tls`).
    #[schema(minimum = 1, maximum = 65535)]
    pub port: Option<u16>,
    #[schema(schema_with = bounds::long_text)]
    pub username: String,
    #[schema(schema_with = bounds::router_password)]
    pub password: String,
    /// Use API-SSL.
    #[serde(default)]
    pub tls: bool,
    /// SHA-256 of the router's certificate: 64 hex digits, or 32 colon-separated pairs.
    #[schema(schema_with = fingerprint_schema)]
    pub tls_fingerprint: Option<String>,
    /// Or: the CA that signed the router's certificate, PEM.
    #[schema(schema_with = ca_pem_schema)]
    pub tls_ca_pem: Option<String>,
}

/// Fields to change; absent ones are kept. `site_id` cannot change.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct UpdateRouter {
    #[schema(schema_with = bounds::long_text_or_null)]
    pub name: Option<String>,
    #[schema(schema_with = bounds::site_id_or_null)]
    pub site_id: Option<String>,
    #[schema(schema_with = bounds::optional_text_or_null)]
    pub location: Option<String>,
    #[schema(schema_with = bounds::host_or_null)]
    pub host: Option<String>,
    #[schema(minimum = 1, maximum = 65535)]
    pub port: Option<u16>,
    #[schema(schema_with = bounds::long_text_or_null)]
    pub username: Option<String>,
    #[schema(schema_with = bounds::router_password_or_null)]
    pub password: Option<String>,
    pub tls: Option<bool>,
    #[schema(schema_with = fingerprint_schema)]
    pub tls_fingerprint: Option<String>,
    #[schema(schema_with = ca_pem_schema)]
    pub tls_ca_pem: Option<String>,
}

fn fingerprint_schema() -> ObjectBuilder {
    bounds::string(true).pattern(Some(FINGERPRINT_PATTERN))
}

/// A PEM with a certificate in it, as the schema sees it (the pattern finds, not matches).
fn ca_pem_schema() -> ObjectBuilder {
    bounds::string(true)
        .max_length(Some(MAX_CA_PEM))
        .pattern(Some(PEM_MARK))
}

macro_rules! redacted_debug {
    ($t:ty, $($field:ident),*) => {
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($t))
                    $(.field(stringify!($field), &self.$field))*
                    .field("password", &"***")
                    .finish_non_exhaustive()
            }
        }
    };
}
redacted_debug!(CreateRouter, name, site_id, host, port, username, tls);
redacted_debug!(UpdateRouter, name, site_id, host, port, username, tls);

fn text(field: &str, value: &str, allow_empty: bool) -> ApiResult<String> {
    bounds::text(field, value, bounds::MAX_TEXT, allow_empty)
}

fn port(value: u16) -> ApiResult<u16> {
    if value == 0 {
        return Err(ApiError::invalid_field("port", "port must be 1 to 65535"));
    }
    Ok(value)
}

/// The API-SSL trust setting from the request's fields.
pub fn tls_of(
    tls: bool,
    fingerprint: Option<&str>,
    ca_pem: Option<&str>,
) -> ApiResult<Option<RouterTls>> {
    match (tls, fingerprint, ca_pem) {
        (false, None, None) => Ok(None),
        (false, _, _) => Err(ApiError::invalid_field(
            "tls",
            "tls_fingerprint and tls_ca_pem need \"tls\": true",
        )),
        (true, Some(_), Some(_)) => Err(ApiError::invalid_field(
            "tls_fingerprint",
            "give tls_fingerprint or tls_ca_pem, not both",
        )),
        (true, Some(f), None) => {
            // 64 digits, or 32 pairs with a colon between each (FINGERPRINT_PATTERN).
            let pairs = f.len() == 95
                && f.bytes()
                    .enumerate()
                    .all(|(i, b)| (i % 3 == 2) == (b == b':'));
            let digits: String = if pairs {
                f.chars().filter(|c| *c != ':').collect()
            } else {
                f.to_owned()
            };
            let mut pin = [0u8; 32];
            hex::decode_to_slice(&digits, &mut pin).map_err(|_| {
                ApiError::invalid_field(
                    "tls_fingerprint",
                    "tls_fingerprint must be the SHA-256 of the router's certificate: 64 hex digits",
                )
            })?;
            Ok(Some(RouterTls::Pin(pin)))
        }
        (true, None, Some(pem)) => {
            if pem.chars().count() > MAX_CA_PEM || !pem.contains(PEM_MARK) {
                return Err(ApiError::invalid_field(
                    "tls_ca_pem",
                    "tls_ca_pem must be a PEM certificate",
                ));
            }
            Ok(Some(RouterTls::CaPem(pem.to_owned())))
        }
        (true, None, None) => Err(ApiError::invalid_field(
            "tls_fingerprint",
            "API-SSL needs tls_fingerprint (SHA-256 of the router's certificate) or tls_ca_pem, so the router can be verified",
        )),
    }
}

impl CreateRouter {
    pub fn into_new(self) -> ApiResult<NewRouter> {
        let site: SiteId = self
            .site_id
            .parse()
            .map_err(|e: hotspot_pki::SiteIdError| {
                ApiError::invalid_field("site_id", e.to_string())
            })?;
        let tls = tls_of(
            self.tls,
            self.tls_fingerprint.as_deref(),
            self.tls_ca_pem.as_deref(),
        )?;
        let default_port = if tls.is_some() { 8729 } else { 8728 };
        Ok(NewRouter {
            site,
            name: text("name", &self.name, false)?,
            location: text("location", &self.location, true)?,
            host: bounds::host(&self.host)?,
            port: port(self.port.unwrap_or(default_port))?,
            username: text("username", &self.username, false)?,
            password: bounds::router_password_of(&self.password)?,
            tls,
        })
    }
}

impl UpdateRouter {
    /// The change to `r` (absent fields keep their stored values).
    pub fn into_update(self, r: &RouterRecord) -> ApiResult<RouterUpdate> {
        if let Some(site) = &self.site_id
            && site != r.site.as_str()
        {
            return Err(ApiError::invalid_field(
                "site_id",
                "a router cannot move to another site; remove it and add it there",
            ));
        }
        let tls_fields = self.tls_fingerprint.is_some() || self.tls_ca_pem.is_some();
        let tls = match (self.tls, tls_fields) {
            (Some(false), _) => Some(tls_of(false, None, None)?),
            (Some(true), _) | (None, true) => {
                if tls_fields {
                    Some(tls_of(
                        true,
                        self.tls_fingerprint.as_deref(),
                        self.tls_ca_pem.as_deref(),
                    )?)
                } else if r.tls.is_some() {
                    None
                } else {
                    Some(tls_of(true, None, None)?)
                }
            }
            (None, false) => None,
        };
        Ok(RouterUpdate {
            name: self
                .name
                .as_deref()
                .map(|v| text("name", v, false))
                .transpose()?,
            location: self
                .location
                .as_deref()
                .map(|v| text("location", v, true))
                .transpose()?,
            host: self.host.as_deref().map(bounds::host).transpose()?,
            port: self.port.map(port).transpose()?,
            username: self
                .username
                .as_deref()
                .map(|v| text("username", v, false))
                .transpose()?,
            password: self
                .password
                .as_deref()
                .map(bounds::router_password_of)
                .transpose()?,
            tls,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_needs_a_way_to_trust_the_router() {
        assert_eq!(tls_of(false, None, None).unwrap(), None);
        assert!(tls_of(true, None, None).is_err());
        assert!(tls_of(false, Some("ab"), None).is_err());
        let pin = "AB:".repeat(31) + "AB";
        assert_eq!(
            tls_of(true, Some(&pin), None).unwrap(),
            Some(RouterTls::Pin([0xab; 32]))
        );
        assert!(tls_of(true, Some("abcd"), None).is_err());
    }

    #[test]
    fn debug_hides_passwords() {
        let req = UpdateRouter {
            password: Some("hunter2-secret".into()),
            ..UpdateRouter::default()
        };
        assert!(!format!("{req:?}").contains("hunter2"));
    }
}
