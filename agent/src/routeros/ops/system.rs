//! `/system/*` and `/ip/hotspot/print`: what the router is and how it is doing.
//!
//! These feed health samples and router info. `routerboard` answers `None` rather than an error
//! on CHR and x86 installs, where the menu is missing (`no such command prefix`) or says
//! `routerboard=no`: "not a RouterBOARD" is a fact about the router, not a failure.

use hotspot_shared::routeros::{Attributes, Request};
use hotspot_shared::units::RosDuration;

use super::{Fields, RouterId};
use crate::routeros::error::RouterError;
use crate::routeros::pool::Router;

/// `/system/resource/print`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SystemResource {
    pub uptime: RosDuration,
    /// e.g. `7.16.2 (stable)`.
    pub version: String,
    /// Percent.
    pub cpu_load: u32,
    pub free_memory: u64,
    pub total_memory: u64,
    pub cpu_count: u32,
    pub board_name: String,
    pub architecture: String,
}

/// `/system/routerboard/print` of a RouterBOARD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routerboard {
    pub model: String,
    pub serial: Option<String>,
    pub current_firmware: Option<String>,
    pub upgrade_firmware: Option<String>,
}

/// One hotspot server (`/ip/hotspot/print`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HotspotServer {
    pub id: RouterId,
    pub name: String,
    pub interface: Option<String>,
    pub profile: Option<String>,
    pub disabled: bool,
}

/// The single item a `print` of a singleton menu must return.
fn single<'a>(items: &'a [Attributes], menu: &str) -> Result<&'a Attributes, RouterError> {
    items
        .first()
        .ok_or_else(|| RouterError::Protocol(format!("{menu} print returned no item")))
}

impl SystemResource {
    fn parse(attrs: &Attributes) -> Result<Self, RouterError> {
        let f = Fields::new(attrs, "system resource");
        Ok(SystemResource {
            uptime: f.duration("uptime")?.unwrap_or_default(),
            version: f.text_or_empty("version"),
            cpu_load: f.number("cpu-load")?.unwrap_or(0),
            free_memory: f.byte_count("free-memory")?.unwrap_or(0),
            total_memory: f.byte_count("total-memory")?.unwrap_or(0),
            cpu_count: f.number("cpu-count")?.unwrap_or(0),
            board_name: f.text_or_empty("board-name"),
            architecture: f.text_or_empty("architecture-name"),
        })
    }
}

impl Routerboard {
    /// `None` for `routerboard=no`, or for an answer without a model.
    fn parse(attrs: &Attributes) -> Result<Option<Self>, RouterError> {
        let f = Fields::new(attrs, "routerboard");
        if f.flag("routerboard")? == Some(false) {
            return Ok(None);
        }
        let Some(model) = f.text("model").filter(|m| !m.is_empty()) else {
            return Ok(None);
        };
        Ok(Some(Routerboard {
            model,
            serial: f.text("serial-number"),
            current_firmware: f.text("current-firmware"),
            upgrade_firmware: f.text("upgrade-firmware"),
        }))
    }
}

impl Router {
    pub async fn system_resource(&self) -> Result<SystemResource, RouterError> {
        let response = self
            .call_read(Request::new("/system/resource/print"))
            .await?;
        SystemResource::parse(single(&response.items, "/system/resource")?)
    }

    /// The router's name (`/system/identity`).
    pub async fn identity(&self) -> Result<String, RouterError> {
        let response = self
            .call_read(Request::new("/system/identity/print"))
            .await?;
        Ok(
            Fields::new(single(&response.items, "/system/identity")?, "identity")
                .text_or_empty("name"),
        )
    }

    /// Board facts, or `None` on a router that is not a RouterBOARD (CHR, x86).
    pub async fn routerboard(&self) -> Result<Option<Routerboard>, RouterError> {
        match self
            .call_read(Request::new("/system/routerboard/print"))
            .await
        {
            Ok(response) => match response.items.first() {
                Some(item) => Routerboard::parse(item),
                None => Ok(None),
            },
            Err(e) if e.is_no_such_command() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The hotspot servers configured on the router.
    pub async fn hotspot_servers(&self) -> Result<Vec<HotspotServer>, RouterError> {
        let print = Request::new("/ip/hotspot/print").proplist(&[
            ".id",
            "name",
            "interface",
            "profile",
            "disabled",
        ]);
        let response = self.call_read(print).await?;
        response
            .items
            .iter()
            .map(|item| {
                let f = Fields::new(item, "hotspot server");
                Ok(HotspotServer {
                    id: f.id()?,
                    name: f.text_or_empty("name"),
                    interface: f.text("interface"),
                    profile: f.text("profile"),
                    disabled: f.flag("disabled")?.unwrap_or(false),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> Attributes {
        pairs.iter().map(|(k, v)| (*k, *v)).collect()
    }

    #[test]
    fn chr_is_not_a_routerboard() {
        assert_eq!(
            Routerboard::parse(&attrs(&[("routerboard", "false")])).expect("ok"),
            None
        );
        assert_eq!(
            Routerboard::parse(&attrs(&[("routerboard", "no"), ("model", "x")])).expect("ok"),
            None
        );
        let rb = Routerboard::parse(&attrs(&[
            ("routerboard", "true"),
            ("model", "RB951Ui-2HnD"),
        ]))
        .expect("ok");
        assert_eq!(rb.map(|r| r.model), Some("RB951Ui-2HnD".to_owned()));
    }

    #[test]
    fn resource_fields() {
        let r = SystemResource::parse(&attrs(&[
            ("uptime", "1w2d3h4m5s"),
            ("version", "7.16.2 (stable)"),
            ("cpu-load", "12"),
            ("free-memory", "1000"),
            ("total-memory", "4000"),
        ]))
        .expect("ok");
        assert_eq!(
            r.uptime.as_secs(),
            7 * 86_400 + 2 * 86_400 + 3 * 3600 + 4 * 60 + 5
        );
        assert_eq!(
            (r.cpu_load, r.free_memory, r.total_memory, r.cpu_count),
            (12, 1000, 4000, 0)
        );
        assert!(SystemResource::parse(&attrs(&[("cpu-load", "high")])).is_err());
    }
}
