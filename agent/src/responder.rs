//! Questions from the controller, answered from the live router within a deadline.
//!
//! Why it is shaped so: these are the calls behind the dashboard's "Test", "Info", "Stats",
//! "Active users", "Kick" and "Sync" buttons, so each answers within `router.query_deadline`
//! (the controller has its own, shorter or not) and a router's failure is an *answer*
//! (`Answer::Failed` with a kind a person can act on), not a link error. `Err` is kept for
//! "the agent cannot answer at all".
//!
//! `SetRouter` is the only query that writes: the password is sealed under the agent's own
//! master key before it touches the database, a barrier makes it durable, and only then does the answer
//! say `Stored`. `TestRouter` stores nothing and tries once, without reconnect retries.

use std::future::Future;
use std::sync::Arc;

use hotspot_link::{PeerId, Responder};
use hotspot_shared::domain::{FailureKind, RouterFailure, RouterId, RouterSpec};
use hotspot_shared::fleet::msg::{Answer, Query};

use crate::core::Core;
use crate::jobs::health::{fetch_health, fetch_info, session_of};
use crate::jobs::usage;
use crate::routeros::{RouterError, RouterId as ItemId, SecretString};
use crate::routers::{Endpoint, LiveRouter, failure_of, router_config, seal_password, test_config};
use crate::store::RouterEntry;

/// The agent's [`Responder`] for [`Query`]s.
#[derive(Clone)]
pub struct AgentResponder {
    core: Arc<Core>,
}

impl AgentResponder {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        AgentResponder { core }
    }
}

fn failed(kind: FailureKind, message: impl Into<String>) -> Answer {
    Answer::Failed(RouterFailure::new(kind, message))
}

fn endpoint(spec: &RouterSpec) -> Endpoint<'_> {
    Endpoint {
        host: &spec.host,
        port: spec.port,
        username: &spec.username,
        tls: spec.tls.as_ref(),
    }
}

impl Responder<Query, Answer> for AgentResponder {
    async fn respond(&self, _peer: PeerId, query: Query) -> Result<Answer, String> {
        let deadline = self.core.settings.router.query_deadline;
        let answer = tokio::time::timeout(deadline, self.answer(query)).await;
        Ok(answer.unwrap_or_else(|_| {
            failed(
                FailureKind::Timeout,
                format!("the router did not answer within {deadline:?}"),
            )
        }))
    }
}

impl AgentResponder {
    async fn answer(&self, query: Query) -> Answer {
        match query {
            Query::TestRouter(spec) => self.test(&spec).await,
            Query::SetRouter(spec) => self.set(&spec).await,
            Query::RouterInfo { router } => {
                self.with_router(router, |live| async move {
                    fetch_info(&live.pool()).await.map(Answer::Info)
                })
                .await
            }
            Query::Stats { router } => {
                self.with_router(router, |live| async move {
                    fetch_health(&live.pool()).await.map(Answer::Stats)
                })
                .await
            }
            Query::ActiveUsers { router } => {
                self.with_router(router, |live| async move {
                    let sessions = live.pool().active_sessions().await?;
                    Ok(Answer::Active(
                        sessions.into_iter().map(session_of).collect(),
                    ))
                })
                .await
            }
            Query::Kick { router, session } => match ItemId::new(session) {
                Err(e) => failed(FailureKind::Trap, e.to_string()),
                Ok(id) => {
                    self.with_router(router, |live| async move {
                        live.pool().kick_session(&id).await.map(|()| Answer::Kicked)
                    })
                    .await
                }
            },
            Query::Sync { router } => match self.core.routers.get(router) {
                None => unknown(router),
                Some(live) => match usage::sync(&self.core, &live).await {
                    Ok(samples) => Answer::Synced { samples },
                    Err(usage::SyncError::Router(e)) => Answer::Failed(failure_of(&e)),
                    Err(usage::SyncError::Agent(e)) => failed(FailureKind::Agent, e),
                },
            },
        }
    }

    /// Runs `op` on a known router; failures become `Answer::Failed`.
    async fn with_router<F, Fut>(&self, router: RouterId, op: F) -> Answer
    where
        F: FnOnce(Arc<LiveRouter>) -> Fut,
        Fut: Future<Output = Result<Answer, RouterError>>,
    {
        match self.core.routers.get(router) {
            None => unknown(router),
            Some(live) => op(live)
                .await
                .unwrap_or_else(|e| Answer::Failed(failure_of(&e))),
        }
    }

    async fn test(&self, spec: &RouterSpec) -> Answer {
        let password = SecretString::new(spec.password.clone());
        let config = match test_config(endpoint(spec), password, &self.core.settings) {
            Ok(c) => c,
            Err(f) => return Answer::Failed(f),
        };
        let router = crate::routeros::Router::new(config);
        let info = fetch_info(&router).await;
        router.close().await;
        match info {
            Ok(info) => Answer::Tested(info),
            Err(e) => {
                tracing::info!(router = %spec.id, host = %spec.host, error = %e, "router test failed");
                Answer::Failed(failure_of(&e))
            }
        }
    }

    async fn set(&self, spec: &RouterSpec) -> Answer {
        let core = &self.core;
        let password = SecretString::new(spec.password.clone());
        let config = match router_config(endpoint(spec), password, &core.settings) {
            Ok(c) => c,
            Err(f) => return Answer::Failed(f),
        };
        let sealed = match seal_password(&core.keyring, spec.id, &spec.password) {
            Ok(s) => s,
            Err(e) => return failed(FailureKind::Agent, e),
        };
        let entry = RouterEntry {
            id: spec.id,
            name: spec.name.clone(),
            host: spec.host.clone(),
            port: spec.port,
            username: spec.username.clone(),
            password: sealed,
            tls: spec.tls.clone(),
        };
        if let Err(e) = core.store.put_router(&entry).await {
            return failed(FailureKind::Agent, format!("cannot store the router: {e}"));
        }
        core.routers.upsert(spec.id, config);
        tracing::info!(router = %spec.id, name = %spec.name, host = %spec.host, "router settings stored");
        Answer::Stored
    }
}

fn unknown(router: RouterId) -> Answer {
    failed(
        FailureKind::UnknownRouter,
        format!("{router} is not configured on this agent"),
    )
}
