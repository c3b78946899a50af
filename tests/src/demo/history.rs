//! A week of simulated past for a fresh demo, so Reports and their charts have something to
//! show: sales by several sellers every day, usage of what was sold, one site whose link was
//! down for an afternoon (its sales made at the site and delivered late), and one voucher
//! that never reached its router, which the reconciliation finds and repairs for real.
//!
//! The past is written into the ledger while the controller is stopped (nothing in the API
//! may backdate a sale, rightly), and it stays true to what the routers hold: every past
//! voucher has run out its validity and was removed from its router (`expired`), or was
//! revoked; only the stuck one belongs on a router, and the reconciliation puts it there.
//! Reports are then made by the controller itself (`POST /api/reports/run`).

use hotspot_controller::config::JobsConfig;
use hotspot_controller::jobs::reconcile::date_key;
use hotspot_controller::jobs::schedule::{day_bounds, local_date};
use hotspot_controller::store::{
    MAX_BATCH, PackageRecord, Stamp, Store, VoucherLimits, VoucherRecord,
};
use hotspot_shared::domain::{Origin, RouterId, StaffId, VoucherState};
use hotspot_shared::voucher::ALPHABET;
use rand::{Rng, RngExt};
use time::Date;

/// Days of past sales, yesterday included.
pub const DAYS: i64 = 7;
/// Sellers made for the past besides the demo's `staff` account (their passwords are not
/// kept: an admin can set new ones on the Staff page).
pub const SELLERS: [&str; 2] = ["maria", "joko"];
/// Characters of a past voucher's code after its prefix.
const CODE_TAIL: usize = 6;

/// Where past sales happen: a site, its router and its offline code prefix.
#[derive(Debug, Clone)]
pub struct PastSite {
    pub site: hotspot_pki::SiteId,
    pub router: RouterId,
    pub code_prefix: String,
}

/// What was written.
#[derive(Debug, Clone, Default)]
pub struct Past {
    /// The local dates with sales, oldest first.
    pub dates: Vec<String>,
    pub vouchers: usize,
    /// The date of the site's offline afternoon and the site.
    pub offline: Option<(String, hotspot_pki::SiteId)>,
    /// The voucher that never reached its router, and the date it was sold.
    pub stuck: Option<(String, String)>,
}

fn draw(prefix: &str, n: usize, rng: &mut impl Rng) -> String {
    let mut c = String::from(prefix);
    for _ in 0..n {
        c.push(char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]));
    }
    c
}

/// A code sold at `place`: at the site, its offline prefix and [`CODE_TAIL`] characters; a
/// central one, eight characters that start with no site's prefix (as generate draws them).
fn code(origin: Origin, place: &PastSite, prefixes: &[String], rng: &mut impl Rng) -> String {
    match origin {
        Origin::Site => draw(&place.code_prefix, CODE_TAIL, rng),
        Origin::Central => loop {
            let c = draw("", 8, rng);
            if !prefixes.iter().any(|p| c.starts_with(p.as_str())) {
                return c;
            }
        },
    }
}

/// One past sale at `at` that was used and ran out its validity before `now`, or `None`
/// when it could not have ended by then.
#[allow(clippy::too_many_arguments)]
fn sold(
    package: &PackageRecord,
    place: &PastSite,
    prefixes: &[String],
    staff: StaffId,
    origin: Origin,
    at: i64,
    now: i64,
    rng: &mut impl Rng,
) -> Option<VoucherRecord> {
    let p = &package.package;
    let validity = p.validity?.as_secs() as i64;
    let first_login = at + rng.random_range(120..3 * 3600);
    let limits = VoucherLimits::of(p);
    // A customer who uses up an uptime limit shorter than the validity (the 1-hour voucher)
    // ends it within a couple of hours of use; otherwise the validity ends it.
    let used_up = limits
        .uptime_secs
        .and_then(|l| i64::try_from(l).ok())
        .map(|l| l + rng.random_range(0..2 * 3600))
        .filter(|&span| span < validity);
    let ends = first_login + used_up.unwrap_or(validity);
    if ends >= now {
        return None;
    }
    let uptime = match (used_up, limits.uptime_secs) {
        (Some(_), Some(l)) => l,
        (_, limit) => limit.map_or(rng.random_range(600..7200), |l| rng.random_range(l / 4..=l)),
    };
    let bytes_total: u64 = limits
        .bytes_total
        .map_or(rng.random_range(20..900) << 20, |l| {
            rng.random_range(l / 5..=l)
        });
    let down = bytes_total / 10 * rng.random_range(7..10);
    let code = code(origin, place, prefixes, rng);
    let revoked = rng.random_range(0..50) == 0;
    let mut v = VoucherRecord::new_sale(
        p,
        (code.clone(), code),
        (place.router, place.site.clone()),
        staff,
        origin,
        at,
    );
    v.state = if revoked {
        VoucherState::Revoked
    } else {
        VoucherState::Expired
    };
    v.reason = revoked.then(|| "refunded: the customer could not connect".to_owned());
    v.applied_at = Some(at + rng.random_range(1..4));
    v.first_login_at = Some(first_login);
    v.expires_at = Some(ends);
    v.uptime_secs = uptime;
    v.bytes_in = down;
    v.bytes_out = bytes_total - down;
    v.updated_at = ends;
    Some(v)
}

/// Writes the past into `store` (the controller stopped): sales of the last [`DAYS`] days at
/// `sites` by `sellers`, of the packages with a validity. Returns what it wrote.
pub async fn write(
    store: &dyn Store,
    jobs: &JobsConfig,
    sites: &[PastSite],
    sellers: &[StaffId],
    now: i64,
) -> anyhow::Result<Past> {
    let packages: Vec<PackageRecord> = store
        .packages(false)?
        .into_iter()
        .filter(|p| p.package.validity.is_some_and(|v| v.as_secs() <= 86_400))
        .collect();
    anyhow::ensure!(
        !packages.is_empty(),
        "no package with a validity of a day or less"
    );
    anyhow::ensure!(
        !sellers.is_empty() && !sites.is_empty(),
        "no sellers or sites"
    );
    let rng = &mut rand::rng();
    let prefixes: Vec<String> = sites.iter().map(|s| s.code_prefix.clone()).collect();
    let today = local_date(jobs, now);
    let mut past = Past::default();
    let mut records = Vec::new();
    let offline_day = today - time::Duration::days(3);
    for back in (1..=DAYS).rev() {
        let date: Date = today - time::Duration::days(back);
        let (start, _) = day_bounds(jobs, date);
        past.dates.push(date_key(date));
        let weekend = matches!(
            date.weekday(),
            time::Weekday::Saturday | time::Weekday::Sunday
        );
        for (i, place) in sites.iter().enumerate() {
            let sales = rng.random_range(14..30) + if weekend { 12 } else { 0 };
            for _ in 0..sales {
                // Open from 08:00 to 22:00, busiest around noon and the evening.
                let hour = [8, 9, 10, 11, 12, 12, 13, 14, 16, 17, 18, 18, 19, 19, 20, 21]
                    [rng.random_range(0..16)];
                let at = start + hour * 3600 + rng.random_range(0..3600);
                // The first site's link was down from 13:00 to 17:30 that day: its sellers
                // sold at the site, and the sales reached the ledger when the link came back.
                let offline = i == 0
                    && date == offline_day
                    && (13 * 3600..17 * 3600 + 1800).contains(&(at - start));
                let origin = if offline {
                    Origin::Site
                } else {
                    Origin::Central
                };
                let package = &packages[rng.random_range(0..packages.len())];
                let seller = sellers[rng.random_range(0..sellers.len())];
                // A package whose voucher cannot have ended by now (yesterday evening's day
                // pass, just after midnight) gives way to one that can, so every past day
                // keeps its sales whatever the time of day.
                let sale =
                    sold(package, place, &prefixes, seller, origin, at, now, rng).or_else(|| {
                        packages
                            .iter()
                            .find_map(|p| sold(p, place, &prefixes, seller, origin, at, now, rng))
                    });
                if let Some(v) = sale {
                    records.push(v);
                }
            }
        }
        if date == offline_day {
            past.offline = Some((date_key(date), sites[0].site.clone()));
        }
    }
    // A sale the ledger recorded two days ago that never reached its router (a crash between
    // the ledger and the site's queue): the reconciliation re-queues it.
    let stuck_day = today - time::Duration::days(2);
    let (start, _) = day_bounds(jobs, stuck_day);
    let place = &sites[sites.len() - 1];
    let package = &packages[0];
    let stuck_code = code(Origin::Central, place, &prefixes, rng);
    let at = start + 15 * 3600;
    records.push(VoucherRecord::new_sale(
        &package.package,
        (stuck_code.clone(), stuck_code.clone()),
        (place.router, place.site.clone()),
        sellers[0],
        Origin::Central,
        at,
    ));
    past.stuck = Some((stuck_code, date_key(stuck_day)));
    // Codes are drawn at random: a repeat in this batch would abort it, so drop repeats.
    let mut seen = std::collections::HashSet::new();
    records.retain(|v| seen.insert(v.code.clone()));
    past.vouchers = records.len();
    let by = Stamp::system(now);
    for chunk in records.chunks(MAX_BATCH) {
        store
            .insert_vouchers(chunk.to_vec(), &by)?
            .durable()
            .await?;
    }
    store.sync().durable().await?;
    Ok(past)
}
