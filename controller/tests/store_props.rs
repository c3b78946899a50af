//! Property test: any sequence of batch inserts, state changes, agents' events and deletions
//! leaves the ledger equal to a model, every index equal to a rebuild from a full scan, and
//! every paged listing equal to the model filtered.
//!
//! The model moves its vouchers with its own small transition table ([`TABLE`], and
//! [`expect_usage`] for usage), written out from the ledger's rules — a voucher only moves
//! forward, late news is ignored — not with `VoucherRecord::apply`, which the store uses: the
//! state machine is checked against a second statement of it, not against itself.

mod store_support;

use std::collections::BTreeMap;

use hotspot_controller::store::{
    CountScope, EmbeddedStore, Stamp, Store, StoreError, Transition, VoucherChange, VoucherFilter,
    VoucherRecord,
};
use hotspot_link::PeerId;
use hotspot_shared::domain::{
    PackageId, RemovalReason, RouterId, StaffId, UsageSample, VoucherState,
};
use hotspot_shared::fleet::msg::Event;
use proptest::prelude::*;
use store_support::*;

const CODES: u8 = 24;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Queued,
    Applied,
    Failed,
    Expired,
    Revoke,
    Usage(u64, u64),
}

#[derive(Debug, Clone)]
enum Op {
    /// `(code, router, staff, package, seconds after T0)`
    Insert(Vec<(u8, u64, u64, u64, u32)>),
    Change(u8, Kind),
    /// The same change arriving from the voucher's site over the link.
    Event(u8, Kind),
    Delete(u8),
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Queued),
        Just(Kind::Applied),
        Just(Kind::Failed),
        Just(Kind::Expired),
        Just(Kind::Revoke),
        (0..5000u64, 0..2_000_000u64).prop_map(|(u, b)| Kind::Usage(u, b)),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let item = (0..CODES, 1..=3u64, 1..=2u64, 1..=2u64, 0..(3 * 86_400u32));
    prop_oneof![
        3 => prop::collection::vec(item, 1..6).prop_map(Op::Insert),
        3 => (0..CODES, kind()).prop_map(|(c, k)| Op::Change(c, k)),
        3 => (0..CODES, kind()).prop_map(|(c, k)| Op::Event(c, k)),
        1 => (0..CODES).prop_map(Op::Delete),
    ]
}

fn code(i: u8) -> String {
    format!("K{i:02}")
}

fn change_of(k: &Kind, code: &str) -> VoucherChange {
    match k {
        Kind::Queued => VoucherChange::Queued,
        Kind::Applied => VoucherChange::Applied,
        Kind::Failed => VoucherChange::Failed {
            reason: "refused".into(),
            conflict: false,
        },
        Kind::Expired => VoucherChange::Removed(RemovalReason::Expired),
        Kind::Revoke => VoucherChange::Revoke {
            reason: Some("test".into()),
        },
        Kind::Usage(u, b) => VoucherChange::Usage(UsageSample {
            code: code.into(),
            uptime_secs: *u,
            bytes_in: *b,
            bytes_out: 0,
            online: false,
        }),
    }
}

use VoucherState as S;

/// What the ledger does with a change in a state it has a row for; a change without a row for
/// the voucher's state is ignored (late or out-of-order news).
#[derive(Debug, Clone, Copy)]
enum Step {
    To(VoucherState),
    /// Already there.
    Same,
}

/// Every state a voucher can be revoked or expire from.
const NOT_ENDED: &[VoucherState] = &[
    S::Issued,
    S::Queued,
    S::Active,
    S::InUse,
    S::Exhausted,
    S::Failed,
];

/// The model's transition table for every change but usage: (change, from, step).
const TABLE: &[(Kind, &[VoucherState], Step)] = &[
    (Kind::Queued, &[S::Issued, S::Failed], Step::To(S::Queued)),
    (Kind::Queued, &[S::Queued], Step::Same),
    (
        Kind::Applied,
        &[S::Issued, S::Queued, S::Failed],
        Step::To(S::Active),
    ),
    (Kind::Applied, &[S::Active], Step::Same),
    (Kind::Failed, &[S::Issued, S::Queued], Step::To(S::Failed)),
    // The same reason again (this test has one).
    (Kind::Failed, &[S::Failed], Step::Same),
    (Kind::Expired, NOT_ENDED, Step::To(S::Expired)),
    (Kind::Expired, &[S::Expired], Step::Same),
    (Kind::Revoke, NOT_ENDED, Step::To(S::Revoked)),
    (Kind::Revoke, &[S::Revoked], Step::Same),
];

/// Where usage moves a voucher from: first use makes it in use.
const FIRST_USE_FROM: &[VoucherState] = &[S::Issued, S::Queued, S::Active, S::Failed];

/// The model's voucher `m` after change `k` at `at`, and the transition the ledger must report.
fn expect(m: &mut VoucherRecord, k: &Kind, at: i64) -> Transition {
    let from = m.state;
    let transition = match k {
        Kind::Usage(uptime, bytes) => expect_usage(m, *uptime, *bytes, at),
        _ => match TABLE
            .iter()
            .find(|(kind, states, _)| kind == k && states.contains(&from))
        {
            None => Transition::Ignored(from),
            Some((_, _, Step::Same)) => Transition::Unchanged,
            Some((_, _, Step::To(to))) => {
                m.state = *to;
                m.reason = match k {
                    Kind::Failed => Some("refused".into()),
                    Kind::Revoke => Some("test".into()),
                    _ => None,
                };
                if *k == Kind::Applied {
                    m.applied_at = Some(at);
                }
                Transition::Moved { from, to: *to }
            }
        },
    };
    if matches!(transition, Transition::Moved { .. } | Transition::Updated) {
        m.updated_at = at;
    }
    transition
}

/// Usage: counters only grow; the first sign of use makes the voucher in use (and starts its
/// validity); in use at a limit is exhausted. Other states keep theirs, counters still grow.
fn expect_usage(m: &mut VoucherRecord, uptime: u64, bytes: u64, at: i64) -> Transition {
    let from = m.state;
    let grew = uptime > m.uptime_secs || bytes > m.bytes_in;
    m.uptime_secs = m.uptime_secs.max(uptime);
    m.bytes_in = m.bytes_in.max(bytes);
    let used = m.uptime_secs > 0 || m.bytes_in + m.bytes_out > 0;
    let mut to = from;
    if used && FIRST_USE_FROM.contains(&from) {
        to = S::InUse;
        if m.first_login_at.is_none() {
            m.first_login_at = Some(at);
            m.expires_at = m.limits.validity_secs.map(|v| at + v as i64);
        }
    }
    let at_limit = m.limits.uptime_secs.is_some_and(|l| m.uptime_secs >= l)
        || m.limits
            .bytes_total
            .is_some_and(|l| m.bytes_in + m.bytes_out >= l);
    if to == S::InUse && at_limit {
        to = S::Exhausted;
    }
    if to != from {
        m.state = to;
        m.reason = None;
        Transition::Moved { from, to }
    } else if grew {
        Transition::Updated
    } else {
        Transition::Unchanged
    }
}

/// The agent's event for a change, if agents send one.
fn event_of(k: &Kind, v: &VoucherRecord, at: i64) -> Option<Event> {
    let (router, code) = (v.router, v.code.clone());
    Some(match change_of(k, &v.code) {
        VoucherChange::Applied => Event::Applied { router, code, at },
        VoucherChange::Failed { reason, conflict } => Event::Failed {
            router,
            code,
            reason,
            conflict,
            at,
        },
        VoucherChange::Removed(reason) => Event::Removed {
            router,
            code,
            reason,
            at,
        },
        VoucherChange::Usage(s) => Event::Usage {
            router,
            at,
            samples: vec![s],
        },
        _ => return None,
    })
}

async fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(ledger_path(&dir)).unwrap();
    let f = populate(dir, store).await;
    let (s, inbound) = (&f.store, f.store.inbound());
    let mut model: BTreeMap<String, VoucherRecord> = BTreeMap::new();
    for (step, op) in ops.into_iter().enumerate() {
        let at = T0 + 10 * 86_400 + step as i64;
        let by = Stamp::system(at);
        match op {
            Op::Insert(items) => {
                let batch: Vec<_> = items
                    .iter()
                    .map(|&(c, r, st, p, t)| voucher(&code(c), r, st, p, T0 + i64::from(t)))
                    .collect();
                let mut seen = std::collections::BTreeSet::new();
                let dup = batch
                    .iter()
                    .any(|v| !seen.insert(v.code.clone()) || model.contains_key(&v.code));
                match s.insert_vouchers(batch.clone(), &by) {
                    Ok(w) => {
                        prop_assert!(!dup);
                        w.durable().await.unwrap();
                        model.extend(batch.into_iter().map(|v| (v.code.clone(), v)));
                    }
                    Err(StoreError::DuplicateCodes(_)) => prop_assert!(dup),
                    Err(e) => prop_assert!(false, "insert: {e}"),
                }
            }
            Op::Change(c, k) => {
                let c = code(c);
                match (
                    s.change_voucher(&c, change_of(&k, &c), &by),
                    model.get_mut(&c),
                ) {
                    (Ok(w), Some(m)) => {
                        let t = expect(m, &k, at);
                        let out = w.durable().await.unwrap();
                        prop_assert_eq!(out.transition, t);
                        prop_assert_eq!(&out.record, m);
                    }
                    (Err(StoreError::NotFound { .. }), None) => {}
                    (r, m) => prop_assert!(
                        false,
                        "change {c}: {:?} with model {m:?}",
                        r.map(|w| w.peek().clone())
                    ),
                }
            }
            Op::Event(c, k) => {
                let c = code(c);
                let Some(m) = model.get_mut(&c) else { continue };
                let Some(event) = event_of(&k, m, at) else {
                    continue;
                };
                inbound
                    .apply_direct(&PeerId::Site(m.site.clone()), &event)
                    .unwrap();
                expect(m, &k, at);
            }
            Op::Delete(c) => {
                let c = code(c);
                let result = s.delete_voucher(&c, &by);
                match (result, model.get(&c).map(|m| m.state)) {
                    (Ok(w), Some(VoucherState::Issued)) => {
                        w.durable().await.unwrap();
                        model.remove(&c);
                    }
                    (Err(StoreError::WrongState { .. }), Some(_))
                    | (Err(StoreError::NotFound { .. }), None) => {}
                    (r, m) => prop_assert!(false, "delete {c}: {:?} with model {m:?}", r.is_ok()),
                }
            }
        }
    }
    prop_assert_eq!(s.verify_vouchers().unwrap(), Ok(()));
    for (code, m) in &model {
        let stored = s.voucher(code).unwrap();
        prop_assert_eq!(stored.as_ref(), Some(m));
    }
    let filters = [
        VoucherFilter::default(),
        VoucherFilter {
            router: Some(RouterId(1)),
            ..Default::default()
        },
        VoucherFilter {
            staff: Some(StaffId(2)),
            state: Some(VoucherState::Issued),
            ..Default::default()
        },
        VoucherFilter {
            site: Some(site("s1")),
            package: Some(PackageId(1)),
            ..Default::default()
        },
        VoucherFilter {
            from: Some(T0 + 86_400),
            until: Some(T0 + 2 * 86_400),
            ..Default::default()
        },
    ];
    for f in &filters {
        let mut want: Vec<_> = model
            .values()
            .filter(|v| {
                f.router.is_none_or(|r| r == v.router)
                    && f.staff.is_none_or(|x| x == v.staff)
                    && f.site.as_ref().is_none_or(|x| *x == v.site)
                    && f.package.is_none_or(|x| x == v.package)
                    && f.state.is_none_or(|x| x == v.state)
                    && f.from.is_none_or(|t| v.issued_at >= t)
                    && f.until.is_none_or(|t| v.issued_at < t)
            })
            .collect();
        want.sort_by(|a, b| (b.issued_at, &b.code).cmp(&(a.issued_at, &a.code)));
        let got = list_all(s, f, 4);
        prop_assert_eq!(got.iter().collect::<Vec<_>>(), want, "{:?}", f);
    }
    for (scope, keep) in [
        (CountScope::Fleet, None),
        (CountScope::Router(RouterId(2)), Some(RouterId(2))),
    ] {
        let counts = s.voucher_counts(&scope).unwrap();
        for state in VoucherState::ALL {
            let n = model
                .values()
                .filter(|v| v.state == state && keep.is_none_or(|r| r == v.router))
                .count();
            prop_assert_eq!(counts.get(state), n as u64, "{:?} {:?}", scope, state);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn the_ledger_matches_its_model_and_its_indexes_match_a_full_scan(
        ops in prop::collection::vec(op(), 1..60)
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(run(ops))?;
    }
}
