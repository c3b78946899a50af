//! The ledger's records other than vouchers: sites, routers, packages, staff, sessions, audit.
//!
//! Plain data with serde, stored through [`super::codec`] (a version byte before postcard).
//! Times are Unix seconds, as in `hotspot_shared::domain`. Two rules are carried by the types:
//! - a router's password is a [`StoredSecret`], which refuses to serialize in plain text, so a
//!   record with a plain password cannot be written; [`RouterRecord::open_password`] is the one
//!   way back to the secret;
//! - every change names who made it and when ([`Stamp`]), and the store writes the matching
//!   [`AuditEntry`] in the same transaction as the change.

use std::fmt;

use hotspot_pki::{SiteId, TokenRecord};
use hotspot_shared::domain::{
    HealthSample, Package, RouterFailure, RouterId, RouterInfo, RouterSpec, RouterTls, StaffId,
};
use hotspot_shared::secretbox::{Keyring, OpenError, Place, Sealed, SecretBytes, StoredSecret};
use serde::{Deserialize, Serialize};

use super::codec::Record;

/// A site: one agent, one or more routers, and the code space it issues offline vouchers from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Site {
    pub id: SiteId,
    pub name: String,
    pub created_at: i64,
    /// Codes made at this site start with this (unique per site, from the voucher alphabet).
    pub code_prefix: String,
    pub revoked: bool,
}

/// A router as the controller keeps it. Not an API shape: its password is sealed bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouterRecord {
    pub id: RouterId,
    pub site: SiteId,
    pub name: String,
    pub location: String,
    pub host: String,
    pub port: u16,
    pub username: String,
    /// Always [`StoredSecret::Sealed`] for [`RouterRecord::password_place`] when written.
    pub password: StoredSecret,
    pub tls: Option<RouterTls>,
    pub created_at: i64,
    pub updated_at: i64,
    pub info: Option<(RouterInfo, i64)>,
    pub health: Option<(HealthSample, i64)>,
    pub last_sync_at: Option<i64>,
    pub last_error: Option<(RouterFailure, i64)>,
}

impl RouterRecord {
    /// Where router `id`'s password is sealed (the AES-GCM associated data).
    pub fn password_place(id: RouterId) -> Place {
        Place::router_password(id.to_string())
    }

    /// The password, in memory only, to hand to the agent inside TLS.
    pub fn open_password(&self, keyring: &Keyring) -> Result<SecretBytes, OpenError> {
        self.password
            .open(keyring, &RouterRecord::password_place(self.id))
    }

    /// What the agent needs to connect ([`hotspot_shared::fleet::msg::Query::SetRouter`]).
    pub fn spec(&self, keyring: &Keyring) -> Result<RouterSpec, OpenError> {
        let secret = self.open_password(keyring)?;
        let password = String::from_utf8_lossy(secret.expose()).into_owned();
        Ok(RouterSpec {
            id: self.id,
            name: self.name.clone(),
            host: self.host.clone(),
            port: self.port,
            username: self.username.clone(),
            password,
            tls: self.tls.clone(),
        })
    }

    /// When the agent last heard from the router (health, info or a usage sync).
    pub fn last_seen(&self) -> Option<i64> {
        let health = self.health.as_ref().map(|(_, at)| *at);
        let info = self.info.as_ref().map(|(_, at)| *at);
        [health, info, self.last_sync_at]
            .into_iter()
            .flatten()
            .max()
    }
}

/// A router to add. The password is plain here and sealed by the store before it is written.
#[derive(Clone, PartialEq, Eq)]
pub struct NewRouter {
    pub site: SiteId,
    pub name: String,
    pub location: String,
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: String,
    pub tls: Option<RouterTls>,
}

/// Fields of a router to change; `None` keeps the stored value.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RouterUpdate {
    pub name: Option<String>,
    pub location: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub username: Option<String>,
    /// A new password, plain; sealed by the store.
    pub password: Option<String>,
    pub tls: Option<Option<RouterTls>>,
}

impl fmt::Debug for NewRouter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewRouter")
            .field("site", &self.site)
            .field("name", &self.name)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &"***")
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for RouterUpdate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouterUpdate")
            .field("name", &self.name)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

/// What an agent (or a direct query) learned about a router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouterObservation {
    Info(RouterInfo),
    Health(HealthSample),
    /// The agent cannot reach it.
    Down(RouterFailure),
    /// Usage was read.
    Synced,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageRecord {
    pub package: Package,
    /// Archived packages are kept for old vouchers and reports but not sold.
    pub archived: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    SuperAdmin,
    Staff,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffRecord {
    pub id: StaffId,
    /// Unique, compared case-insensitively.
    pub username: String,
    /// PHC string of an Argon2id hash, made by the auth layer.
    pub password_hash: String,
    pub role: Role,
    /// Routers a [`Role::Staff`] member may sell on.
    pub routers: Vec<RouterId>,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl fmt::Debug for StaffRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaffRecord")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("role", &self.role)
            .field("routers", &self.routers)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

/// A staff account to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStaff {
    pub username: String,
    pub password_hash: String,
    pub role: Role,
    pub routers: Vec<RouterId>,
}

/// Fields of a staff account to change; `None` keeps the stored value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaffUpdate {
    pub username: Option<String>,
    pub password_hash: Option<String>,
    pub role: Option<Role>,
    pub routers: Option<Vec<RouterId>>,
    pub disabled: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SessionKind {
    /// Dashboard: HttpOnly cookie, with a CSRF token.
    Cookie,
    /// API: `Authorization: Bearer`.
    Bearer,
}

/// A login session. Only hashes of the token and CSRF token are kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub token_hash: [u8; 32],
    pub staff: StaffId,
    pub kind: SessionKind,
    pub csrf_hash: Option<[u8; 32]>,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A staff account's second factor (see `auth::two_factor`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TwoFactorRecord {
    pub staff: StaffId,
    /// The TOTP secret, sealed at [`TwoFactorRecord::secret_place`].
    pub secret: Sealed,
    /// When a code from the app confirmed the enrolment; `None` while it is being set up
    /// (sign-in does not ask for codes then).
    pub confirmed_at: Option<i64>,
    /// SHA-256 hashes of the unused recovery codes.
    pub recovery: Vec<[u8; 32]>,
    /// The last TOTP step accepted: a code of this step or an earlier one is refused.
    pub last_step: u64,
    pub created_at: i64,
}

impl TwoFactorRecord {
    /// Where staff `id`'s TOTP secret is sealed (the AES-GCM associated data).
    pub fn secret_place(id: StaffId) -> Place {
        Place::two_factor_secret(id.0.to_string())
    }

    pub fn is_enabled(&self) -> bool {
        self.confirmed_at.is_some()
    }
}

impl fmt::Debug for TwoFactorRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwoFactorRecord")
            .field("staff", &self.staff)
            .field("confirmed_at", &self.confirmed_at)
            .field("recovery_left", &self.recovery.len())
            .finish_non_exhaustive()
    }
}

/// A second factor being spent at sign-in.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum SpendFactor {
    /// A TOTP code of this step (it must be later than the last one accepted).
    Step(u64),
    /// The recovery code with this hash (it must be unused).
    Recovery([u8; 32]),
}

/// What an API key may do. It acts as the super admin who made it, narrowed to this.
/// (Externally tagged: postcard, the ledger's encoding, reads no internally tagged enums.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApiKeyScope {
    /// Read everything a super admin can read; change nothing.
    ReadOnly,
    /// Like a staff member assigned to these routers: sell there, see what it sold.
    Seller { routers: Vec<RouterId> },
    /// Everything a super admin may do, but manage API keys.
    Admin,
}

/// An API key to make; the token itself is never stored, only its hash.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub name: String,
    pub token_hash: [u8; 32],
    pub scope: ApiKeyScope,
    pub expires_at: Option<i64>,
}

/// An API key for scripts and integrations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub id: u64,
    pub name: String,
    pub token_hash: [u8; 32],
    pub scope: ApiKeyScope,
    /// The super admin it acts as (and who made it).
    pub owner: StaffId,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// Who did something.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Actor {
    Staff(StaffId),
    /// The controller itself (jobs, start-up migration).
    System,
    /// An agent, named by its certificate.
    Site(SiteId),
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Staff(id) => write!(f, "{id}"),
            Actor::System => f.write_str("system"),
            Actor::Site(site) => write!(f, "site {site}"),
        }
    }
}

/// Who makes a change and when: every mutating store call takes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub actor: Actor,
    pub at: i64,
}

impl Stamp {
    pub fn new(actor: Actor, at: i64) -> Self {
        Stamp { actor, at }
    }

    pub fn staff(id: StaffId, at: i64) -> Self {
        Stamp::new(Actor::Staff(id), at)
    }

    pub fn system(at: i64) -> Self {
        Stamp::new(Actor::System, at)
    }

    /// The audit entry for `action` on `target`.
    pub fn audit(
        &self,
        action: &str,
        target: impl fmt::Display,
        detail: impl Into<String>,
    ) -> AuditEntry {
        AuditEntry {
            at: self.at,
            actor: self.actor.clone(),
            action: action.to_owned(),
            target: target.to_string(),
            detail: detail.into(),
        }
    }
}

/// One line of the append-only audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: i64,
    pub actor: Actor,
    /// Dotted verb, e.g. `voucher.issue`, `router.create`, `fleet.anomaly`.
    pub action: String,
    pub target: String,
    pub detail: String,
}

/// A site's healing after lost link state, while its inventory arrives and until the replay
/// to it is queued (see `fleet::heal`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealRecord {
    pub site: SiteId,
    /// The inventory's round (its parts share it).
    pub round: u64,
    pub reason: String,
    /// When its first part arrived.
    pub started_at: i64,
    /// Vouchers the ledger lacked and took from the inventory.
    pub recovered: u64,
    /// Vouchers whose state the inventory moved on.
    pub updated: u64,
    /// Vouchers the agent holds that the ledger says must go (revoked meanwhile).
    pub remove: Vec<(RouterId, String)>,
    /// The last part arrived: the replay to the agent is due.
    pub due: bool,
}

macro_rules! record {
    ($($t:ty => $kind:literal),* $(,)?) => {
        $(impl Record for $t { const KIND: &'static str = $kind; })*
    };
}

record!(
    Site => "site",
    RouterRecord => "router",
    PackageRecord => "package",
    StaffRecord => "staff",
    SessionRecord => "session",
    AuditEntry => "audit entry",
    TokenRecord => "enrollment token",
    HealRecord => "heal",
    ApiKeyRecord => "api key",
    TwoFactorRecord => "two-factor record",
);
