//! The menus: which command does what, and the router's own words when it refuses.
//!
//! A command is `menu/verb` (`/ip/hotspot/user/add`). [`dispatch`] finds the menu; each menu
//! module answers its verbs with replies, or with a [`Trap`] that becomes `!trap` + `!done`.
//! An unknown menu is `no such command prefix`, an unknown verb in a known menu `no such
//! command`; both leave the session usable, as on a router. `print` (and the API's old alias
//! `getall`) is shared by every menu: `?` queries, `.proplist`, `=count-only=`, and `!empty`
//! from RouterOS 7.18.

mod active;
mod profiles;
mod system;
mod users;
pub mod values;

use hotspot_shared::routeros::{Attributes, Reply, ReplyKind, Request, TrapCategory};

use super::Shared;
use super::query::Query;

/// A refusal: `!trap =category=… =message=…`, then `!done`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trap {
    pub category: Option<TrapCategory>,
    pub message: String,
}

impl Trap {
    pub fn new(category: Option<TrapCategory>, message: impl Into<String>) -> Self {
        Trap {
            category,
            message: message.into(),
        }
    }

    pub fn no_such_command() -> Self {
        Trap::new(Some(TrapCategory::MissingItemOrCommand), "no such command")
    }

    pub fn no_such_prefix() -> Self {
        Trap::new(
            Some(TrapCategory::MissingItemOrCommand),
            "no such command prefix",
        )
    }

    pub fn no_such_item() -> Self {
        Trap::new(None, "no such item")
    }

    pub fn invalid_value(name: &str) -> Self {
        Trap::new(
            Some(TrapCategory::ArgumentValueFailure),
            format!("invalid value for argument {name}"),
        )
    }

    pub fn unknown_parameter(name: &[u8]) -> Self {
        Trap::new(
            Some(TrapCategory::ArgumentValueFailure),
            format!("unknown parameter {}", String::from_utf8_lossy(name)),
        )
    }

    pub fn failure(message: impl Into<String>) -> Self {
        Trap::new(None, message)
    }

    fn into_replies(self) -> Vec<Reply> {
        vec![Reply::trap(self.category, self.message), Reply::done()]
    }
}

pub type Answer = Result<Vec<Reply>, Trap>;

/// Menus that exist (with their parents), for the "prefix" versus "command" distinction.
const MENUS: &[&str] = &[
    "/ip",
    "/ip/hotspot",
    "/ip/hotspot/user",
    "/ip/hotspot/user/profile",
    "/ip/hotspot/active",
    "/system",
    "/system/resource",
    "/system/identity",
    "/system/routerboard",
];

/// Answers one command of a logged-in session.
pub fn dispatch(shared: &Shared, req: &Request) -> Vec<Reply> {
    let command = String::from_utf8_lossy(&req.command);
    let (menu, verb) = command.rsplit_once('/').unwrap_or(("", &command));
    let chr = is_chr(shared);
    let answer = match menu {
        "/ip/hotspot/user" => users::handle(shared, verb, req),
        "/ip/hotspot/user/profile" => profiles::handle(shared, verb, req),
        "/ip/hotspot/active" => active::handle(shared, verb, req),
        "/ip/hotspot" => system::hotspot(shared, verb, req),
        "/system/resource" => system::resource(shared, verb, req),
        "/system/identity" => system::identity(shared, verb, req),
        "/system/routerboard" if !chr => system::routerboard(shared, verb, req),
        "/system/routerboard" => Err(Trap::no_such_prefix()),
        m if MENUS.contains(&m) => Err(Trap::no_such_command()),
        _ => Err(Trap::no_such_prefix()),
    };
    answer.unwrap_or_else(Trap::into_replies)
}

/// A virtual router (CHR) has no `/system/routerboard`.
pub fn is_chr(shared: &Shared) -> bool {
    shared.cfg.model.eq_ignore_ascii_case("chr")
}

/// `print` / `getall` over `items`: query, `count-only`, `.proplist`, `!empty`.
pub fn print(
    shared: &Shared,
    req: &Request,
    items: impl IntoIterator<Item = Attributes>,
) -> Answer {
    let query = Query::parse(&req.queries)
        .map_err(|e| Trap::new(Some(TrapCategory::ArgumentValueFailure), e.to_string()))?;
    let selected = items.into_iter().filter(|i| query.matches(i));
    if req.attrs.get("count-only").is_some() {
        let mut done = Reply::done();
        done.attrs.set("ret", selected.count().to_string());
        return Ok(vec![done]);
    }
    let props = req.proplist_names();
    let mut out: Vec<Reply> = selected
        .map(|item| match &props {
            None => Reply::re(item),
            Some(names) => Reply::re(item.iter().filter(|(k, _)| names.contains(k)).collect()),
        })
        .collect();
    if out.is_empty() && shared.cfg.ros_version.sends_empty() {
        out.push(Reply::new(ReplyKind::Empty));
    }
    out.push(Reply::done());
    Ok(out)
}

/// The ids named by `=.id=` or `=numbers=` (comma-separated `*1A` ids or names), resolved with
/// `lookup`; every one must exist.
pub fn targets(req: &Request, lookup: impl Fn(&[u8]) -> Option<u64>) -> Result<Vec<u64>, Trap> {
    let list = req
        .attrs
        .get(".id")
        .or_else(|| req.attrs.get("numbers"))
        .ok_or_else(Trap::no_such_item)?;
    let ids: Vec<u64> = values::item_refs(list)
        .map(&lookup)
        .collect::<Option<_>>()
        .ok_or_else(Trap::no_such_item)?;
    if ids.is_empty() {
        return Err(Trap::no_such_item());
    }
    Ok(ids)
}

/// Attributes of a set/add other than the item selectors.
pub fn settable(req: &Request) -> impl Iterator<Item = (&[u8], &[u8])> {
    req.attrs
        .iter()
        .filter(|(k, _)| *k != b".id" && *k != b"numbers" && *k != b".proplist")
}

/// Builds an item from `(name, value)` pairs.
pub fn item<'a>(pairs: impl IntoIterator<Item = (&'a str, Vec<u8>)>) -> Attributes {
    pairs
        .into_iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v))
        .collect()
}

/// `!done =ret=*1A`, the answer to `add`.
pub fn done_ret(id: u64) -> Vec<Reply> {
    let mut done = Reply::done();
    done.attrs.set("ret", super::state::format_id(id));
    vec![done]
}
