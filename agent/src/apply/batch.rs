//! One batch of queued items against one router: what became of each.
//!
//! Items run in queue order, in runs: consecutive creates are one pipelined run (each distinct
//! profile ensured once first), a removal runs alone. At the first run that cannot finish
//! (the router is unreachable, a command's outcome is unknown) the batch stops: the items not
//! decided stay queued, in order, and are tried again later — re-adding one that did reach the
//! router meets `AlreadyExists`, is read back and compared, and so ends as `Applied`.

use std::collections::HashMap;

use hotspot_shared::domain::{ProfileSpec, RemovalReason};
use tokio::sync::mpsc::UnboundedSender;

use super::compare::{differences, hotspot_user};
use crate::routeros::{self, HotspotUserEntry, Router, RouterError, UserQuery};
use crate::store::{ApplyItem, ApplyOp};

/// Above this many read-backs, one full print is cheaper than one query per user.
const READ_BACK_ONE_BY_ONE: usize = 16;

/// What became of one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The user is on the router as wanted.
    Applied,
    /// The router refused it, or a different user holds the name (`conflict`).
    Failed { reason: String, conflict: bool },
    /// The user is gone from the router and its sessions were kicked.
    Removed(RemovalReason),
    /// The router refused to remove it.
    RemoveFailed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    pub seq: u64,
    pub code: String,
    pub outcome: Outcome,
}

/// A batch in progress: its sink closes when the batch returns.
struct Batch {
    retry: Option<RouterError>,
    sink: UnboundedSender<Decided>,
}

/// The router answered "no" (as opposed to "could not ask" or "outcome unknown").
fn is_refusal(e: &RouterError) -> bool {
    matches!(
        e,
        RouterError::Trap { .. }
            | RouterError::NoSuchItem { .. }
            | RouterError::AlreadyExists { .. }
    )
}

/// Runs `items` (one router's, in queue order) on `pool`, sending each decision to `sink` as
/// soon as it is made: the events of a long batch leave while its later adds are in flight.
/// Within a run of creates decisions come as the router answers (each item is its own code);
/// every run's come after the run before it. Returns why the items not decided could not be
/// decided now, if any remain.
pub async fn run(
    pool: &Router,
    items: &[(u64, ApplyItem)],
    sink: UnboundedSender<Decided>,
) -> Option<RouterError> {
    let mut out = Batch { retry: None, sink };
    let mut i = 0;
    while i < items.len() && out.retry.is_none() {
        let (seq, item) = &items[i];
        if let ApplyOp::Remove { code, reason } = &item.op {
            match remove(pool, code).await {
                Ok(()) => out.decide(*seq, code, Outcome::Removed(*reason)),
                Err(e) if is_refusal(&e) => {
                    out.decide(*seq, code, Outcome::RemoveFailed(e.to_string()))
                }
                Err(e) => out.retry = Some(e),
            }
            i += 1;
            continue;
        }
        let end = items[i..]
            .iter()
            .position(|(_, it)| matches!(it.op, ApplyOp::Remove { .. }))
            .map_or(items.len(), |p| i + p);
        create_run(pool, &items[i..end], &mut out).await;
        i = end;
    }
    out.retry
}

impl Batch {
    fn decide(&mut self, seq: u64, code: &str, outcome: Outcome) {
        // A closed sink means its stage failed: the item stays queued and runs again later.
        let _ = self.sink.send(Decided {
            seq,
            code: code.to_owned(),
            outcome,
        });
    }

    fn keep(&mut self, err: RouterError) {
        self.retry.get_or_insert(err);
    }
}

/// Consecutive creates: profiles, then one pipelined add, then read-back of duplicates.
async fn create_run(pool: &Router, items: &[(u64, ApplyItem)], out: &mut Batch) {
    let creates: Vec<(u64, &hotspot_shared::domain::VoucherUser, &ProfileSpec)> = items
        .iter()
        .filter_map(|(seq, it)| match &it.op {
            ApplyOp::Create { user, profile } => Some((*seq, user, profile)),
            ApplyOp::Remove { .. } => None,
        })
        .collect();
    let mut profiles: Vec<&ProfileSpec> = Vec::new();
    for (_, _, p) in &creates {
        if !profiles.contains(p) {
            profiles.push(p);
        }
    }
    let mut refused: HashMap<&str, String> = HashMap::new();
    for p in profiles {
        let spec = routeros::ProfileSpec {
            name: p.name.clone(),
            rate_limit: p.rate_limit.clone(),
            shared_users: p.shared_users,
        };
        match pool.ensure_profile_once(&spec).await {
            Ok(_) => {}
            Err(e) if is_refusal(&e) => {
                refused.insert(&p.name, format!("profile {:?}: {e}", p.name));
            }
            Err(e) => return out.keep(e),
        }
    }
    let mut todo = Vec::new();
    for (seq, user, profile) in creates {
        match refused.get(profile.name.as_str()) {
            Some(reason) => out.decide(
                seq,
                &user.code,
                Outcome::Failed {
                    reason: reason.clone(),
                    conflict: false,
                },
            ),
            None => todo.push((seq, user, profile)),
        }
    }
    let users: Vec<_> = todo.iter().map(|(_, u, _)| hotspot_user(u)).collect();
    // Each add the router took is decided as its `!done` arrives; the rest after the run.
    let results = pool
        .add_hotspot_users_reporting(&users, |i, result| {
            if result.is_ok() {
                out.decide(todo[i].0, &todo[i].1.code, Outcome::Applied);
            }
        })
        .await;
    let mut existing = Vec::new();
    let mut refusals = Vec::new();
    for ((seq, user, profile), result) in todo.into_iter().zip(results) {
        match result {
            Ok(_) => {}
            Err(RouterError::AlreadyExists { .. }) => existing.push((seq, user)),
            Err(e) if is_refusal(&e) => refusals.push((seq, user, profile, e)),
            Err(e) => out.keep(e),
        }
    }
    if let Err(e) = decide_refusals(pool, refusals, out).await {
        return out.keep(e);
    }
    if existing.is_empty() {
        return;
    }
    let names: Vec<&str> = existing.iter().map(|(_, u)| u.code.as_str()).collect();
    let found = match read_back(pool, &names).await {
        Ok(found) => found,
        Err(e) => return out.keep(e),
    };
    for (seq, wanted) in existing {
        let Some(entry) = found.get(wanted.code.as_str()) else {
            out.keep(RouterError::Protocol(format!(
                "user {} was reported to exist but is not there",
                wanted.code
            )));
            continue;
        };
        let diff = differences(wanted, entry);
        let outcome = if diff.is_empty() {
            Outcome::Applied
        } else {
            Outcome::Failed {
                reason: format!(
                    "a different hotspot user named {} already exists on the router (differs in {})",
                    wanted.code,
                    diff.join(", ")
                ),
                conflict: true,
            }
        };
        out.decide(seq, &wanted.code, outcome);
    }
}

/// Adds the router refused. A refusal is final unless the user's profile is gone from the
/// router: the profile was ensured before the adds, so it vanished meanwhile (a configuration
/// reset between the two, the adds resent on a new session). Those items stay queued; the
/// next batch ensures the profile again.
async fn decide_refusals(
    pool: &Router,
    refusals: Vec<(
        u64,
        &hotspot_shared::domain::VoucherUser,
        &ProfileSpec,
        RouterError,
    )>,
    out: &mut Batch,
) -> Result<(), RouterError> {
    let mut present: HashMap<&str, bool> = HashMap::new();
    for (seq, user, profile, e) in refusals {
        let exists = match present.get(profile.name.as_str()) {
            Some(exists) => *exists,
            None => {
                let exists = pool.profile_exists(&profile.name).await?;
                present.insert(&profile.name, exists);
                exists
            }
        };
        if exists {
            out.decide(
                seq,
                &user.code,
                Outcome::Failed {
                    reason: e.to_string(),
                    conflict: false,
                },
            );
        } else {
            pool.forget_profile(&profile.name);
            out.keep(RouterError::Protocol(format!(
                "profile {:?} vanished from the router during the batch (reset?); trying again",
                profile.name
            )));
        }
    }
    Ok(())
}

/// The users called `names`, by name.
async fn read_back(
    pool: &Router,
    names: &[&str],
) -> Result<HashMap<String, HotspotUserEntry>, RouterError> {
    let mut found = HashMap::new();
    if names.len() <= READ_BACK_ONE_BY_ONE {
        for name in names {
            if let Some(entry) = pool.find_hotspot_user(name).await? {
                found.insert(entry.name.clone(), entry);
            }
        }
    } else {
        let wanted: std::collections::HashSet<&str> = names.iter().copied().collect();
        for entry in pool.print_hotspot_users(&UserQuery::default()).await? {
            if wanted.contains(entry.name.as_str()) {
                found.insert(entry.name.clone(), entry);
            }
        }
    }
    Ok(found)
}

/// Removes the user called `code` (gone already is fine) and kicks its sessions.
async fn remove(pool: &Router, code: &str) -> Result<(), RouterError> {
    let ok_if_gone = |r: Result<(), RouterError>| match r {
        Err(RouterError::NoSuchItem { .. }) => Ok(()),
        other => other,
    };
    if let Some(user) = pool.find_hotspot_user(code).await? {
        ok_if_gone(pool.remove_hotspot_user(&user.id).await)?;
    }
    for session in pool.active_sessions().await? {
        if session.user == code {
            ok_if_gone(pool.kick_session(&session.id).await)?;
        }
    }
    Ok(())
}
