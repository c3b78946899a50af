//! Typed operations on a [`Router`](super::Router), one file per RouterOS menu.
//!
//! Each operation builds a [`Request`](hotspot_shared::routeros::Request), runs it through the
//! pool and turns the reply into a typed value. Parsing is lenient about *absence* (RouterOS
//! omits unset properties, and a `.proplist` may leave fields out: those become `None`, `0` or
//! empty) and strict about *form* (a field present but malformed is a
//! [`RouterError::Protocol`] naming the field), so a router answering something unexpected is
//! noticed rather than read as zero.
//!
//! Reads go through `Router::call_read` (safe to resend after a lost session); writes go
//! through `Router::call`, which never resends a command whose outcome is unknown.

mod active;
mod profiles;
mod system;
mod users;

pub use active::ActiveSession;
pub use profiles::ProfileSpec;
pub use system::{HotspotServer, Routerboard, SystemResource};
pub use users::{HotspotUser, HotspotUserEntry, UserChanges, UserQuery};

use std::fmt;

use hotspot_shared::routeros::Attributes;
use hotspot_shared::units::{ByteCount, RosDuration};

use super::error::RouterError;

/// The `.id` of an item on a router (`*1A`): valid only on that router, and only until the item
/// is removed or the router is reset.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RouterId(String);

impl RouterId {
    /// An id as the router prints it; `*` followed by hex digits.
    pub fn new(id: impl Into<String>) -> Result<RouterId, RouterError> {
        let id = id.into();
        if hotspot_shared::routeros::is_item_id(&id) {
            Ok(RouterId(id))
        } else {
            Err(RouterError::Protocol(format!(
                "not a RouterOS item id: {id:?}"
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RouterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Reads fields of one item, naming the item kind in errors.
pub(crate) struct Fields<'a> {
    attrs: &'a Attributes,
    kind: &'static str,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(attrs: &'a Attributes, kind: &'static str) -> Self {
        Fields { attrs, kind }
    }

    fn malformed(&self, name: &str, detail: impl fmt::Display) -> RouterError {
        let value = self.attrs.get_str(name).unwrap_or_default();
        RouterError::Protocol(format!(
            "{} field `{name}` is malformed ({value:?}): {detail}",
            self.kind
        ))
    }

    /// Text for display and for ASCII-by-nature values; `None` when absent.
    pub(crate) fn text(&self, name: &str) -> Option<String> {
        self.attrs.get_str(name).map(|v| v.into_owned())
    }

    /// Text, empty when absent.
    pub(crate) fn text_or_empty(&self, name: &str) -> String {
        self.text(name).unwrap_or_default()
    }

    pub(crate) fn bytes(&self, name: &str) -> Option<Vec<u8>> {
        self.attrs.get(name).map(<[u8]>::to_vec)
    }

    pub(crate) fn id(&self) -> Result<RouterId, RouterError> {
        match self.attrs.get_str(".id") {
            Some(id) => RouterId::new(id.into_owned()).map_err(|e| self.malformed(".id", e)),
            None => Err(RouterError::Protocol(format!(
                "{} without `.id`",
                self.kind
            ))),
        }
    }

    pub(crate) fn duration(&self, name: &str) -> Result<Option<RosDuration>, RouterError> {
        match self.attrs.get_str(name) {
            None => Ok(None),
            Some(v) if v.is_empty() => Ok(None),
            Some(v) => RosDuration::parse(&v)
                .map(Some)
                .map_err(|e| self.malformed(name, e)),
        }
    }

    pub(crate) fn byte_count(&self, name: &str) -> Result<Option<u64>, RouterError> {
        match self.attrs.get_str(name) {
            None => Ok(None),
            Some(v) if v.is_empty() => Ok(None),
            Some(v) => ByteCount::parse(&v)
                .map(|b| Some(b.get()))
                .map_err(|e| self.malformed(name, e)),
        }
    }

    /// A plain unsigned number (`cpu-load`, `cpu-count`, `shared-users`).
    pub(crate) fn number<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, RouterError>
    where
        T::Err: fmt::Display,
    {
        match self.attrs.get_str(name) {
            None => Ok(None),
            Some(v) if v.is_empty() => Ok(None),
            Some(v) => v
                .parse::<T>()
                .map(Some)
                .map_err(|e| self.malformed(name, e)),
        }
    }

    /// `true`/`false` as the API prints, or `yes`/`no` as the console writes.
    pub(crate) fn flag(&self, name: &str) -> Result<Option<bool>, RouterError> {
        match self.attrs.get_str(name).as_deref() {
            None => Ok(None),
            Some("true" | "yes") => Ok(Some(true)),
            Some("false" | "no") => Ok(Some(false)),
            Some(_) => Err(self.malformed(name, "expected true/false or yes/no")),
        }
    }
}

/// `yes`/`no` as RouterOS takes booleans.
pub(crate) fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// The `=ret=` of an `add`: the new item's id.
pub(crate) fn ret_id(done: &Attributes) -> Result<RouterId, RouterError> {
    match done.get_str("ret") {
        Some(ret) => RouterId::new(ret.into_owned()),
        None => Err(RouterError::Protocol(
            "add answered !done without `ret`".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> Attributes {
        pairs.iter().map(|(k, v)| (*k, *v)).collect()
    }

    #[test]
    fn router_ids() {
        assert_eq!(RouterId::new("*1A").expect("valid").as_str(), "*1A");
        assert!(RouterId::new("1A").is_err());
        assert!(RouterId::new("*").is_err());
        assert!(RouterId::new("*zz").is_err());
    }

    #[test]
    fn absent_fields_are_none_and_malformed_ones_name_the_field() {
        let a = attrs(&[
            ("uptime", "1h2m"),
            ("bytes-in", "12x"),
            ("disabled", "maybe"),
            ("limit-uptime", ""),
        ]);
        let f = Fields::new(&a, "hotspot user");
        assert_eq!(
            f.duration("uptime").expect("ok"),
            Some(RosDuration::from_secs(3720))
        );
        assert_eq!(f.duration("limit-uptime").expect("ok"), None);
        assert_eq!(f.byte_count("bytes-out").expect("ok"), None);
        let err = f.byte_count("bytes-in").expect_err("malformed");
        assert!(err.to_string().contains("`bytes-in`"), "{err}");
        assert!(matches!(f.flag("disabled"), Err(RouterError::Protocol(_))));
        assert!(matches!(f.id(), Err(RouterError::Protocol(_))));
    }

    #[test]
    fn flags_and_numbers() {
        let a = attrs(&[("a", "true"), ("b", "no"), ("cpu-load", "7"), ("n", "-1")]);
        let f = Fields::new(&a, "x");
        assert_eq!(f.flag("a").expect("ok"), Some(true));
        assert_eq!(f.flag("b").expect("ok"), Some(false));
        assert_eq!(f.number::<u32>("cpu-load").expect("ok"), Some(7));
        assert!(f.number::<u32>("n").is_err());
    }

    #[test]
    fn ret_of_add() {
        assert_eq!(
            ret_id(&attrs(&[("ret", "*2F")])).expect("ok").as_str(),
            "*2F"
        );
        assert!(matches!(
            ret_id(&Attributes::new()),
            Err(RouterError::Protocol(_))
        ));
    }
}
