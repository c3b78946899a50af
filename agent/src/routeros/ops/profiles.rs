//! `/ip/hotspot/user/profile`: making sure the profile a package maps to exists and says what
//! the package says.
//!
//! `ensure_profile` is idempotent and converges: print by name, add if missing, set only the
//! properties that differ. Properties the spec leaves `None` are not touched, so an operator's
//! other settings on the router survive. `ensure_profile_once` skips the round trip while the
//! sessions that ensured a spec live.

use hotspot_shared::routeros::Request;

use super::{Fields, RouterId};
use crate::routeros::error::RouterError;
use crate::routeros::pool::Router;

/// What a package needs of its hotspot user profile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileSpec {
    pub name: String,
    /// `rx/tx` as RouterOS writes it, e.g. `2M/5M`.
    pub rate_limit: Option<String>,
    pub shared_users: Option<u32>,
}

/// The pool's fact that `name` is ensured; `profile_fact(spec)` starts with it.
fn profile_prefix(name: &str) -> String {
    format!("profile\0{name}\0")
}

fn profile_fact(spec: &ProfileSpec) -> String {
    format!(
        "{}{:?}\0{:?}",
        profile_prefix(&spec.name),
        spec.rate_limit,
        spec.shared_users
    )
}

impl Router {
    /// [`Router::ensure_profile`] once per session: skipped when this pool ensured the same
    /// spec and has opened no session since (a reboot or reset of the router closes every
    /// session). A profile removed by hand while the session lives makes adds fail; the caller
    /// then calls [`Router::forget_profile`] and tries again.
    pub async fn ensure_profile_once(&self, spec: &ProfileSpec) -> Result<(), RouterError> {
        let fact = profile_fact(spec);
        if self.knows(&fact) {
            return Ok(());
        }
        let opens = self.opens();
        self.ensure_profile(spec).await?;
        self.learn(fact, opens);
        Ok(())
    }

    /// Makes the next [`Router::ensure_profile_once`] of profile `name` ask the router again.
    pub fn forget_profile(&self, name: &str) {
        self.forget(&profile_prefix(name));
    }

    /// Creates the profile if missing (`Ok(true)`), or updates the properties that differ
    /// (`Ok(false)`).
    pub async fn ensure_profile(&self, spec: &ProfileSpec) -> Result<bool, RouterError> {
        if let Some((id, current)) = self.find_profile(&spec.name).await? {
            self.update_profile(&id, spec, &current).await?;
            return Ok(false);
        }
        let mut add = Request::new("/ip/hotspot/user/profile/add").attr("name", spec.name.as_str());
        if let Some(rate) = &spec.rate_limit {
            add = add.attr("rate-limit", rate.as_str());
        }
        if let Some(n) = spec.shared_users {
            add = add.attr("shared-users", n.to_string());
        }
        match self.call(add).await {
            Ok(_) => Ok(true),
            // Made by someone else meanwhile: converge on it instead.
            Err(RouterError::AlreadyExists { .. }) => match self.find_profile(&spec.name).await? {
                Some((id, current)) => self
                    .update_profile(&id, spec, &current)
                    .await
                    .map(|()| false),
                None => Err(RouterError::Protocol(format!(
                    "profile {:?} both exists and does not",
                    spec.name
                ))),
            },
            Err(e) => Err(e),
        }
    }

    /// Whether a profile called `name` exists.
    pub async fn profile_exists(&self, name: &str) -> Result<bool, RouterError> {
        Ok(self.find_profile(name).await?.is_some())
    }

    async fn find_profile(
        &self,
        name: &str,
    ) -> Result<Option<(RouterId, ProfileSpec)>, RouterError> {
        let print = Request::new("/ip/hotspot/user/profile/print")
            .proplist(&[".id", "name", "rate-limit", "shared-users"])
            .query(format!("name={name}"));
        let response = self.call_read(print).await?;
        let Some(item) = response.items.first() else {
            return Ok(None);
        };
        let f = Fields::new(item, "hotspot user profile");
        let current = ProfileSpec {
            name: f.text_or_empty("name"),
            rate_limit: f.text("rate-limit"),
            shared_users: f.number("shared-users")?,
        };
        Ok(Some((f.id()?, current)))
    }

    async fn update_profile(
        &self,
        id: &RouterId,
        want: &ProfileSpec,
        current: &ProfileSpec,
    ) -> Result<(), RouterError> {
        let mut set = Request::new("/ip/hotspot/user/profile/set").attr(".id", id.as_str());
        if want.rate_limit.is_some() && want.rate_limit != current.rate_limit {
            set = set.attr("rate-limit", want.rate_limit.clone().unwrap_or_default());
        }
        if let Some(n) = want.shared_users
            && Some(n) != current.shared_users
        {
            set = set.attr("shared-users", n.to_string());
        }
        if set.attrs.len() == 1 {
            return Ok(());
        }
        self.call(set).await.map(drop)
    }
}
