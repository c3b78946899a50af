//! The judge of a scenario: the work it did ([`Work`]: what it asked for, what was
//! acknowledged) against the three views it ended with ([`Views`]).
//!
//! The judge proves a run only when the run did something. No voucher acknowledged is
//! [`Problem::NothingExercised`]; fewer (or more) acknowledged than asked for, or fewer than the
//! scenario's own floor, is a problem too. So an empty run fails by the judge itself, not by
//! each scenario remembering to check, and a scenario added later (#11's power cuts) gets the
//! same guard by calling [`compare`].
//!
//! Then every acknowledged (paid) voucher must be in each view exactly once, no view may hold a
//! voucher the ledger does not know, and the four revenues (the ledger's report, its vouchers,
//! the agent's, the router's) must be equal to the minor unit. The unit tests at the end feed
//! it hand-built views with one defect each.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use hotspot_agent::store::DesiredStatus;

use super::views::Views;

/// What a scenario set out to do, and the codes of every answer that acknowledged it.
#[derive(Debug, Clone, Default)]
pub struct Work {
    /// Vouchers asked for centrally (`POST /api/tokens/generate`), in calls that answered 2xx.
    pub central_requested: usize,
    /// The codes those answers held.
    pub central: Vec<String>,
    /// Vouchers asked for at the site (the agent's local `POST /api/vouchers`), in sales that
    /// were accepted.
    pub site_requested: usize,
    /// The codes those sales answered.
    pub site: Vec<String>,
    /// The fewest vouchers acknowledged (central and site) for the run to count.
    pub minimum: usize,
    /// The fewest sold at the site.
    pub site_minimum: usize,
}

impl Work {
    /// Work that counts only with at least `minimum` vouchers acknowledged (never less than 1).
    pub fn at_least(minimum: usize) -> Work {
        Work {
            minimum: minimum.max(1),
            ..Work::default()
        }
    }

    /// And at least `n` of them sold at the site.
    pub fn with_site_minimum(mut self, n: usize) -> Work {
        self.site_minimum = n;
        self
    }

    /// A central call for `requested` vouchers and the codes its 2xx answer held.
    pub fn central(&mut self, requested: u32, codes: Vec<String>) {
        self.central_requested += requested as usize;
        self.central.extend(codes);
    }

    /// An accepted sale of `requested` vouchers at the site and the codes it answered.
    pub fn site(&mut self, requested: u32, codes: Vec<String>) {
        self.site_requested += requested as usize;
        self.site.extend(codes);
    }

    /// Every acknowledged code, central then site.
    pub fn codes(&self) -> Vec<String> {
        [self.central.as_slice(), self.site.as_slice()].concat()
    }
}

/// Where a voucher was looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum View {
    /// The answers that acknowledged the scenario's requests.
    Answers,
    Ledger,
    Agent,
    Router,
}

impl fmt::Display for View {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            View::Answers => "answers",
            View::Ledger => "ledger",
            View::Agent => "agent",
            View::Router => "router",
        })
    }
}

/// One thing wrong with a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// No voucher was acknowledged: the run proves nothing.
    NothingExercised,
    /// The answers acknowledged a different number of vouchers than were asked for.
    Unacknowledged {
        /// `central` or `site`.
        what: &'static str,
        requested: usize,
        acknowledged: usize,
    },
    /// Fewer vouchers acknowledged than the scenario needs for its claim to mean something.
    BelowMinimum {
        /// `vouchers` or `site sales`.
        what: &'static str,
        acknowledged: usize,
        minimum: usize,
    },
    /// Paid vouchers missing from a view.
    Lost { view: View, count: usize },
    /// Codes more than once in a view.
    Duplicated { view: View, count: usize },
    /// Entries of a view the ledger does not know.
    Unknown { view: View, count: usize },
    /// Agent entries whose create or removal is not confirmed (a few of them shown).
    NotConfirmed { count: usize, sample: Vec<String> },
    /// Items still in the agent's apply queue.
    QueueNotEmpty(usize),
    /// Ledger vouchers that never reached their router: issued, queued or failed.
    NotOnRouter { count: usize, sample: Vec<String> },
    /// Vouchers sold at the site that the ledger does not mark `site`.
    WrongOrigin(usize),
    /// The ledger's report, its vouchers, the agent's and the router's revenue.
    RevenueDiffers([i64; 4]),
    /// The views did not agree within the deadline.
    NotConverged(String),
    /// A finding of the scenario's own (the disk-full refusal, say).
    Scenario(String),
}

/// At most this many codes are named in a problem.
const SAMPLE: usize = 5;

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::NothingExercised => {
                f.write_str("nothing was exercised: no voucher was acknowledged")
            }
            Problem::Unacknowledged {
                what,
                requested,
                acknowledged,
            } => write!(
                f,
                "{requested} {what} vouchers requested, {acknowledged} acknowledged"
            ),
            Problem::BelowMinimum {
                what,
                acknowledged,
                minimum,
            } => write!(
                f,
                "{acknowledged} {what} acknowledged, fewer than the scenario's minimum of {minimum}"
            ),
            Problem::Lost { view, count } => {
                write!(f, "{count} paid vouchers missing from the {view}")
            }
            Problem::Duplicated { view, count } => {
                write!(f, "{count} codes more than once in the {view}")
            }
            Problem::Unknown { view, count } => {
                write!(f, "{count} {view} entries the ledger does not know")
            }
            Problem::NotConfirmed { count, sample } => write!(
                f,
                "{count} agent entries not confirmed on the router: {sample:?}"
            ),
            Problem::QueueNotEmpty(n) => write!(f, "{n} items still in the agent's apply queue"),
            Problem::NotOnRouter { count, sample } => {
                write!(f, "{count} ledger vouchers not on their router: {sample:?}")
            }
            Problem::WrongOrigin(n) => write!(
                f,
                "{n} vouchers sold at the site are not `site` in the ledger"
            ),
            Problem::RevenueDiffers([report, ledger, agent, router]) => write!(
                f,
                "revenue differs: report {report}, ledger {ledger}, agent {agent}, router {router}"
            ),
            Problem::NotConverged(why) | Problem::Scenario(why) => f.write_str(why),
        }
    }
}

/// What the judge found.
#[derive(Debug, Clone, Default)]
pub struct Verdict {
    /// Vouchers requested, central and site.
    pub requested: usize,
    /// Vouchers acknowledged, central and site.
    pub acknowledged: usize,
    /// Site sales requested and made.
    pub site: (usize, usize),
    /// Paid vouchers: every acknowledged code, and every ledger voucher that is not failed,
    /// revoked or removed.
    pub vouchers: usize,
    /// Paid vouchers missing from at least one view.
    pub lost: usize,
    /// Codes more than once in some view.
    pub duplicated: usize,
    /// Router users and agent entries the ledger does not know.
    pub unknown: usize,
    /// Revenue: the ledger's report, the ledger's vouchers, the agent's, the router's.
    pub revenue: [i64; 4],
    /// Everything wrong.
    pub problems: Vec<Problem>,
}

impl Verdict {
    pub fn revenue_equal(&self) -> bool {
        self.revenue.iter().all(|r| *r == self.revenue[0])
    }

    pub fn clean(&self) -> bool {
        self.problems.is_empty()
    }

    /// The problems, for people.
    pub fn problems_text(&self) -> String {
        let all: Vec<String> = self.problems.iter().map(Problem::to_string).collect();
        all.join("; ")
    }
}

fn counts<'a>(codes: impl Iterator<Item = &'a str>) -> HashMap<&'a str, usize> {
    let mut m = HashMap::new();
    for c in codes {
        *m.entry(c).or_insert(0) += 1;
    }
    m
}

/// The work a run did, then the three views against it.
pub fn compare(work: &Work, views: &Views) -> Verdict {
    let mut v = Verdict {
        requested: work.central_requested + work.site_requested,
        acknowledged: work.central.len() + work.site.len(),
        site: (work.site_requested, work.site.len()),
        ..Verdict::default()
    };
    judge_work(work, &mut v);
    judge_views(work, views, &mut v);
    v
}

/// Whether the run did what it set out to do, before anything is compared.
fn judge_work(work: &Work, v: &mut Verdict) {
    if v.acknowledged == 0 {
        v.problems.push(Problem::NothingExercised);
    }
    for (what, requested, acknowledged) in [
        ("central", work.central_requested, work.central.len()),
        ("site", work.site_requested, work.site.len()),
    ] {
        if requested != acknowledged {
            v.problems.push(Problem::Unacknowledged {
                what,
                requested,
                acknowledged,
            });
        }
    }
    if v.acknowledged > 0 && v.acknowledged < work.minimum {
        v.problems.push(Problem::BelowMinimum {
            what: "vouchers",
            acknowledged: v.acknowledged,
            minimum: work.minimum,
        });
    }
    if work.site.len() < work.site_minimum {
        v.problems.push(Problem::BelowMinimum {
            what: "site sales",
            acknowledged: work.site.len(),
            minimum: work.site_minimum,
        });
    }
}

fn judge_views(work: &Work, views: &Views, v: &mut Verdict) {
    let paid_state = |s: &str| !matches!(s, "failed" | "revoked" | "removed");
    let acknowledged = work.codes();
    let answers = counts(acknowledged.iter().map(String::as_str));
    let l = counts(views.ledger.iter().map(|x| x.code.as_str()));
    let on_router = |x: &&super::views::AgentVoucher| x.status == DesiredStatus::OnRouter;
    let a = counts(
        views
            .agent
            .iter()
            .filter(on_router)
            .map(|x| x.code.as_str()),
    );
    let r = counts(views.router.iter().map(|u| u.name.as_str()));

    let mut paid: HashSet<&str> = answers.keys().copied().collect();
    paid.extend(
        views
            .ledger
            .iter()
            .filter(|x| paid_state(&x.state))
            .map(|x| x.code.as_str()),
    );
    v.vouchers = paid.len();
    let mut missing: BTreeMap<View, usize> = BTreeMap::new();
    for code in &paid {
        let mut lost = false;
        for (view, m) in [(View::Ledger, &l), (View::Agent, &a), (View::Router, &r)] {
            if !m.contains_key(code) {
                *missing.entry(view).or_insert(0) += 1;
                lost = true;
            }
        }
        v.lost += usize::from(lost);
    }
    v.problems.extend(
        missing
            .into_iter()
            .map(|(view, count)| Problem::Lost { view, count }),
    );

    let mut duplicated = HashSet::new();
    for (view, m) in [
        (View::Answers, &answers),
        (View::Ledger, &l),
        (View::Agent, &a),
        (View::Router, &r),
    ] {
        let twice: Vec<&str> = m.iter().filter(|(_, n)| **n > 1).map(|(c, _)| *c).collect();
        if !twice.is_empty() {
            v.problems.push(Problem::Duplicated {
                view,
                count: twice.len(),
            });
        }
        duplicated.extend(twice);
    }
    v.duplicated = duplicated.len();

    let unknown_router = r.keys().filter(|c| !l.contains_key(*c)).count();
    let unknown_agent = views
        .agent
        .iter()
        .filter(|x| !l.contains_key(x.code.as_str()))
        .count();
    v.unknown = unknown_router + unknown_agent;
    for (view, count) in [(View::Router, unknown_router), (View::Agent, unknown_agent)] {
        if count > 0 {
            v.problems.push(Problem::Unknown { view, count });
        }
    }

    let not_confirmed: Vec<String> = views
        .agent
        .iter()
        .filter(|x| x.status != DesiredStatus::OnRouter)
        .map(|x| format!("{}={:?}", x.code, x.status))
        .collect();
    if !not_confirmed.is_empty() {
        v.problems.push(Problem::NotConfirmed {
            count: not_confirmed.len(),
            sample: not_confirmed.into_iter().take(SAMPLE).collect(),
        });
    }
    if views.agent_queue > 0 {
        v.problems.push(Problem::QueueNotEmpty(views.agent_queue));
    }
    let not_on_router: Vec<String> = views
        .ledger
        .iter()
        .filter(|x| matches!(x.state.as_str(), "issued" | "queued" | "failed"))
        .map(|x| format!("{}={}", x.code, x.state))
        .collect();
    if !not_on_router.is_empty() {
        v.problems.push(Problem::NotOnRouter {
            count: not_on_router.len(),
            sample: not_on_router.into_iter().take(SAMPLE).collect(),
        });
    }
    let site: HashSet<&str> = work.site.iter().map(String::as_str).collect();
    let wrong_origin = views
        .ledger
        .iter()
        .filter(|x| site.contains(x.code.as_str()) && x.origin != "site")
        .count();
    if wrong_origin > 0 {
        v.problems.push(Problem::WrongOrigin(wrong_origin));
    }

    let price = |p: &str| views.prices.get(p).copied().unwrap_or(0);
    v.revenue = [
        views.report_revenue,
        views
            .ledger
            .iter()
            .filter(|x| paid_state(&x.state))
            .map(|x| x.price_minor)
            .sum(),
        views
            .agent
            .iter()
            .filter(on_router)
            .map(|x| price(&x.profile))
            .sum(),
        views.router.iter().map(|u| price(&u.profile)).sum(),
    ];
    if !v.revenue_equal() {
        v.problems.push(Problem::RevenueDiffers(v.revenue));
    }
}

#[cfg(test)]
mod tests {
    //! The judge against known-bad runs: each test starts from one clean run of three vouchers
    //! (two central, one sold at the site) and breaks one thing.

    use super::*;
    use crate::faultkit::views::{AgentVoucher, LedgerVoucher, RouterUser};

    const PROFILE: &str = "hs-1h";
    const PRICE: i64 = 150;

    fn ledger_voucher(code: &str, origin: &str) -> LedgerVoucher {
        LedgerVoucher {
            code: code.into(),
            state: "active".into(),
            price_minor: PRICE,
            origin: origin.into(),
            uptime_secs: 0,
        }
    }

    fn agent_voucher(code: &str) -> AgentVoucher {
        AgentVoucher {
            code: code.into(),
            profile: PROFILE.into(),
            status: DesiredStatus::OnRouter,
        }
    }

    fn router_user(name: &str, server: &str) -> RouterUser {
        RouterUser {
            name: name.into(),
            server: server.into(),
            profile: PROFILE.into(),
        }
    }

    /// Two central vouchers and one site sale, every view agreeing.
    fn clean() -> (Work, Views) {
        let mut work = Work::at_least(3).with_site_minimum(1);
        work.central(2, vec!["C1".into(), "C2".into()]);
        work.site(1, vec!["S1".into()]);
        let views = Views {
            ledger: vec![
                ledger_voucher("C1", "central"),
                ledger_voucher("C2", "central"),
                ledger_voucher("S1", "site"),
            ],
            report_revenue: 3 * PRICE,
            agent: ["C1", "C2", "S1"].map(agent_voucher).to_vec(),
            agent_queue: 0,
            router: ["C1", "C2", "S1"].map(|c| router_user(c, "all")).to_vec(),
            prices: HashMap::from([(PROFILE.to_owned(), PRICE)]),
        };
        (work, views)
    }

    #[test]
    fn a_clean_run_has_no_problem() {
        let (work, views) = clean();
        let v = compare(&work, &views);
        assert_eq!(v.problems, vec![]);
        assert_eq!((v.requested, v.acknowledged, v.site), (3, 3, (1, 1)));
        assert_eq!((v.vouchers, v.lost, v.duplicated, v.unknown), (3, 0, 0, 0));
        assert_eq!(v.revenue, [450; 4]);
    }

    #[test]
    fn an_empty_run_is_nothing_exercised() {
        let v = compare(&Work::default(), &Views::default());
        assert_eq!(v.problems, vec![Problem::NothingExercised]);
        assert!(!v.clean());
        assert_eq!(
            v.problems_text(),
            "nothing was exercised: no voucher was acknowledged"
        );
    }

    #[test]
    fn an_empty_run_of_a_scenario_with_a_floor_is_nothing_exercised() {
        let v = compare(&Work::at_least(100), &Views::default());
        assert_eq!(v.problems, vec![Problem::NothingExercised]);
    }

    #[test]
    fn a_voucher_missing_from_the_router_is_lost() {
        let (work, mut views) = clean();
        views.router.retain(|u| u.name != "C2");
        let v = compare(&work, &views);
        assert_eq!(
            v.problems,
            vec![
                Problem::Lost {
                    view: View::Router,
                    count: 1
                },
                Problem::RevenueDiffers([450, 450, 450, 300]),
            ]
        );
        assert_eq!(v.lost, 1);
    }

    #[test]
    fn an_acknowledged_voucher_missing_everywhere_is_lost_from_every_view() {
        let (mut work, views) = clean();
        work.central(1, vec!["C3".into()]);
        let v = compare(&work, &views);
        assert_eq!(
            v.problems,
            [View::Ledger, View::Agent, View::Router]
                .map(|view| Problem::Lost { view, count: 1 })
                .to_vec()
        );
        assert_eq!((v.vouchers, v.lost), (4, 1));
    }

    #[test]
    fn a_voucher_on_the_router_twice_is_duplicated() {
        let (work, mut views) = clean();
        // The same name under a second hotspot server.
        views.router.push(router_user("C1", "hs-guests"));
        let v = compare(&work, &views);
        assert_eq!(
            v.problems,
            vec![
                Problem::Duplicated {
                    view: View::Router,
                    count: 1
                },
                Problem::RevenueDiffers([450, 450, 450, 600]),
            ]
        );
        assert_eq!(v.duplicated, 1);
    }

    #[test]
    fn a_code_acknowledged_twice_is_duplicated() {
        let (mut work, views) = clean();
        work.central(1, vec!["C1".into()]);
        let v = compare(&work, &views);
        assert_eq!(
            v.problems,
            vec![Problem::Duplicated {
                view: View::Answers,
                count: 1
            }]
        );
    }

    #[test]
    fn a_router_user_the_ledger_does_not_know_is_unknown() {
        let (work, mut views) = clean();
        views.router.push(router_user("X9", "all"));
        let v = compare(&work, &views);
        assert_eq!(
            v.problems,
            vec![
                Problem::Unknown {
                    view: View::Router,
                    count: 1
                },
                Problem::RevenueDiffers([450, 450, 450, 600]),
            ]
        );
        assert_eq!(v.unknown, 1);
    }

    #[test]
    fn revenue_off_by_one_minor_unit_differs() {
        let (work, mut views) = clean();
        views.ledger[1].price_minor = PRICE - 1;
        let v = compare(&work, &views);
        assert_eq!(
            v.problems,
            vec![Problem::RevenueDiffers([450, 449, 450, 450])]
        );
        assert!(!v.revenue_equal());
    }

    #[test]
    fn fewer_acknowledged_than_requested_is_reported() {
        let (mut work, views) = clean();
        work.central_requested += 1;
        work.site(2, Vec::new());
        let v = compare(&work, &views);
        assert_eq!(
            v.problems,
            vec![
                Problem::Unacknowledged {
                    what: "central",
                    requested: 3,
                    acknowledged: 2
                },
                Problem::Unacknowledged {
                    what: "site",
                    requested: 3,
                    acknowledged: 1
                },
            ]
        );
    }

    #[test]
    fn a_run_below_its_minimum_is_reported() {
        let (mut work, views) = clean();
        work.minimum = 4;
        work.site_minimum = 2;
        let v = compare(&work, &views);
        assert_eq!(
            v.problems,
            vec![
                Problem::BelowMinimum {
                    what: "vouchers",
                    acknowledged: 3,
                    minimum: 4
                },
                Problem::BelowMinimum {
                    what: "site sales",
                    acknowledged: 1,
                    minimum: 2
                },
            ]
        );
    }

    #[test]
    fn a_site_sale_the_ledger_calls_central_is_the_wrong_origin() {
        let (work, mut views) = clean();
        views.ledger[2].origin = "central".into();
        let v = compare(&work, &views);
        assert_eq!(v.problems, vec![Problem::WrongOrigin(1)]);
    }

    #[test]
    fn an_acknowledged_voucher_dropped_by_the_agent_is_found() {
        // What the agent's test-only `fault-injection` does: the ledger says active, the
        // agent's entry stays pending, the router never got it.
        let (work, mut views) = clean();
        views.agent[0].status = DesiredStatus::Pending;
        views.router.retain(|u| u.name != "C1");
        let v = compare(&work, &views);
        assert_eq!(
            v.problems,
            vec![
                Problem::Lost {
                    view: View::Agent,
                    count: 1
                },
                Problem::Lost {
                    view: View::Router,
                    count: 1
                },
                Problem::NotConfirmed {
                    count: 1,
                    sample: vec!["C1=Pending".into()]
                },
                Problem::RevenueDiffers([450, 450, 300, 300]),
            ]
        );
    }
}
