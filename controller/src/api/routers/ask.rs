//! Asking a router's agent with a deadline, and turning what comes back into API answers.
//!
//! [`ask`] never waits past its deadline and sorts every way of not getting an answer into
//! [`Unanswered`], which says why in words (for a stale answer's `reason`) or becomes the
//! error when nothing is known. [`router_failure`] turns the router's own refusal into 422 when
//! what was entered is at fault (address, password, API service, certificate pin) and 502
//! otherwise, with [`RouterFailure::explain`] as the message. [`Freshness`] is the stale/age
//! part every answer from the last known state carries.

use std::time::Duration;

use hotspot_link::LinkError;
use hotspot_pki::SiteId;
use hotspot_shared::domain::{FailureKind, RouterFailure, RouterId};
use hotspot_shared::fleet::msg::{Answer, Query};
use serde::Serialize;
use utoipa::ToSchema;

use super::view::{FailureView, kind_name};
use crate::api::error::{ApiError, ErrorCode};
use crate::api::extract::{fmt_time, link_err};
use crate::app::AppState;
use crate::store::{RouterObservation, RouterRecord};

/// Deadline of reads (info, stats, active users, kick).
pub const READ_DEADLINE: Duration = Duration::from_secs(5);
/// Deadline of a connection test and a sync (the agent may have to connect first).
pub const TEST_DEADLINE: Duration = Duration::from_secs(10);

/// Why the agent gave no answer.
#[derive(Debug)]
pub enum Unanswered {
    /// The site is not connected.
    Offline,
    /// No answer before the deadline, or the connection dropped meanwhile.
    Slow(Duration),
    /// The agent refused the request.
    Refused(String),
    Other(ApiError),
}

impl Unanswered {
    pub fn reason(&self) -> String {
        match self {
            Unanswered::Offline => "the site's agent is offline".into(),
            Unanswered::Slow(d) => format!("the site's agent did not answer within {d:?}"),
            Unanswered::Refused(r) => format!("the site's agent refused: {r}"),
            Unanswered::Other(e) => e.message().to_owned(),
        }
    }

    /// The error when settings a client gave were being tried: whatever kept them from
    /// working is the settings' fault (422, with the router's reason), an offline site a state
    /// to wait out (409). Nothing was changed either way.
    pub fn into_settings_error(self, site: &SiteId) -> ApiError {
        match self {
            Unanswered::Offline => ApiError::conflict(format!(
                "site {site}'s agent is not connected, so the router settings cannot be \
                 tried; nothing was changed: try again when the agent is connected"
            )),
            Unanswered::Other(e) if e.code() == ErrorCode::RouterError => {
                e.recoded(ErrorCode::ValidationFailed)
            }
            Unanswered::Other(e) => e,
            why @ (Unanswered::Slow(_) | Unanswered::Refused(_)) => ApiError::validation(format!(
                "the router settings did not work: {}",
                why.reason()
            )),
        }
    }

    /// The error when there is no known state to answer with.
    pub fn into_error(self, r: &RouterRecord) -> ApiError {
        let site = serde_json::json!({ "site_id": r.site.as_str(), "router_id": r.id.0 });
        match self {
            Unanswered::Offline => ApiError::site_offline(format!(
                "site {} is offline and nothing is known yet about router {}",
                r.site, r.id.0
            ))
            .with_details(site),
            Unanswered::Slow(_) => {
                ApiError::new(ErrorCode::Timeout, self.reason()).with_details(site)
            }
            Unanswered::Refused(_) => ApiError::router_error(self.reason()).with_details(site),
            Unanswered::Other(e) => e,
        }
    }
}

/// Asks `site`'s agent, waiting at most `deadline`.
pub async fn ask(
    state: &AppState,
    site: &SiteId,
    query: Query,
    deadline: Duration,
) -> Result<Answer, Unanswered> {
    match state.fleet.request(site, query, deadline).await {
        Ok(answer) => Ok(answer),
        Err(LinkError::Offline { .. }) => Err(Unanswered::Offline),
        Err(LinkError::Timeout(d)) => Err(Unanswered::Slow(d)),
        Err(LinkError::Closed | LinkError::ClosedByPeer { .. } | LinkError::ClosedHere(_)) => {
            Err(Unanswered::Slow(deadline))
        }
        Err(LinkError::Denied(reason)) => Err(Unanswered::Refused(reason)),
        Err(e) => Err(Unanswered::Other(link_err(e))),
    }
}

/// Failures the person adding the router can fix by changing what they entered.
fn input_fault(kind: FailureKind) -> bool {
    matches!(
        kind,
        FailureKind::Unreachable
            | FailureKind::Refused
            | FailureKind::BadCredentials
            | FailureKind::Tls
            | FailureKind::PinMismatch
    )
}

/// A router-side failure as an API error: 422 when the entered settings are at fault, 502
/// otherwise; the message is [`RouterFailure::explain`].
pub fn router_failure(f: &RouterFailure) -> ApiError {
    let code = if input_fault(f.kind) {
        ErrorCode::ValidationFailed
    } else {
        ErrorCode::RouterError
    };
    ApiError::new(code, f.explain())
        .with_details(serde_json::json!({ "kind": kind_name(f), "router_message": f.message }))
}

/// An answer the agent should never give to this question.
pub fn odd_answer(query: &str, answer: &Answer) -> ApiError {
    ApiError::internal(format!("the agent answered {query} with {answer:?}"))
}

/// Records what was learned; a failure to record is logged, the answer still goes out.
pub async fn observe(state: &AppState, router: RouterId, seen: RouterObservation, at: i64) {
    let written = state.store.observe_router(router, seen, at);
    if let Err(e) = async { written?.durable().await }.await {
        tracing::warn!(%router, "cannot record what the router reported: {e}");
    }
}

/// How fresh an answer is.
#[derive(Debug, Serialize, ToSchema)]
pub struct Freshness {
    /// The answer is the last known state, not the router's answer now.
    pub stale: bool,
    /// Age of the answer in seconds (0 when fresh).
    pub age_secs: u64,
    /// When the state was read from the router (RFC 3339).
    pub as_of: Option<String>,
    /// Why the answer is stale.
    pub reason: Option<String>,
    /// The router's failure, when the agent could not reach it.
    pub failure: Option<FailureView>,
}

impl Freshness {
    pub fn fresh(at: i64) -> Self {
        Freshness {
            stale: false,
            age_secs: 0,
            as_of: Some(fmt_time(at)),
            reason: None,
            failure: None,
        }
    }

    pub fn stale(now: i64, at: i64, reason: String, failure: Option<&RouterFailure>) -> Self {
        Freshness {
            stale: true,
            age_secs: u64::try_from(now.saturating_sub(at)).unwrap_or(0),
            as_of: Some(fmt_time(at)),
            reason: Some(reason),
            failure: failure.map(|f| FailureView::of(f, Some(now))),
        }
    }
}
