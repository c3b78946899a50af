//! The application's hooks into the link, besides [`crate::Inbound`]: answering requests,
//! enrolling new agents, renewing certificates.
//!
//! Hooks are async traits (implement them with `async fn`). The link stores them type-erased
//! (`Dyn*` below, boxing each future) so that handles stay free of the hooks' types.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use hotspot_pki::SiteId;

use crate::peer::PeerId;
use crate::wire::{EnrollGrant, EnrollRequest};

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Answers the peer's requests (`Q` → `R`). An `Err` reaches the requester as
/// [`crate::LinkError::Denied`]. The link drops an answer that misses the requester's deadline.
pub trait Responder<Q, R>: Send + Sync + 'static {
    fn respond(&self, peer: PeerId, request: Q) -> impl Future<Output = Result<R, String>> + Send;
}

/// A responder for a side that answers no requests.
#[derive(Clone, Copy, Debug, Default)]
pub struct RefuseRequests;

impl<Q: Send + 'static, R: Send + 'static> Responder<Q, R> for RefuseRequests {
    async fn respond(&self, _peer: PeerId, _request: Q) -> Result<R, String> {
        Err("this side answers no requests".to_string())
    }
}

/// Why an enrollment was refused; the text reaches the agent's operator.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EnrollRefusal(pub String);

/// Turns a token and a CSR into a certificate (the controller's token store and CA).
pub trait Enroller: Send + Sync + 'static {
    fn enroll(
        &self,
        request: EnrollRequest,
    ) -> impl Future<Output = Result<EnrollGrant, EnrollRefusal>> + Send;
}

/// Issues a new certificate to an authenticated, connected site for the key in `csr_der`.
/// Returns the new chain as PEM (leaf, then CA), or a refusal reason.
pub trait Renewer: Send + Sync + 'static {
    fn renew(
        &self,
        site: SiteId,
        csr_der: Vec<u8>,
    ) -> impl Future<Output = Result<String, String>> + Send;
}

/// The controller's optional control-plane hooks; without them enrollment and renewal are
/// refused with a reason.
#[derive(Clone, Default)]
pub struct ControlHooks {
    pub(crate) enroller: Option<Arc<dyn DynEnroller>>,
    pub(crate) renewer: Option<Arc<dyn DynRenewer>>,
}

impl ControlHooks {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_enroller(mut self, enroller: impl Enroller) -> Self {
        self.enroller = Some(Arc::new(enroller));
        self
    }

    pub fn with_renewer(mut self, renewer: impl Renewer) -> Self {
        self.renewer = Some(Arc::new(renewer));
        self
    }
}

impl std::fmt::Debug for ControlHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlHooks")
            .field("enroller", &self.enroller.is_some())
            .field("renewer", &self.renewer.is_some())
            .finish()
    }
}

pub(crate) trait DynResponder<Q, R>: Send + Sync + 'static {
    fn respond(&self, peer: PeerId, request: Q) -> BoxFuture<'_, Result<R, String>>;
}

impl<Q: 'static, R: 'static, T: Responder<Q, R>> DynResponder<Q, R> for T {
    fn respond(&self, peer: PeerId, request: Q) -> BoxFuture<'_, Result<R, String>> {
        Box::pin(Responder::respond(self, peer, request))
    }
}

pub(crate) trait DynEnroller: Send + Sync + 'static {
    fn enroll(&self, request: EnrollRequest) -> BoxFuture<'_, Result<EnrollGrant, EnrollRefusal>>;
}

impl<T: Enroller> DynEnroller for T {
    fn enroll(&self, request: EnrollRequest) -> BoxFuture<'_, Result<EnrollGrant, EnrollRefusal>> {
        Box::pin(Enroller::enroll(self, request))
    }
}

pub(crate) trait DynRenewer: Send + Sync + 'static {
    fn renew(&self, site: SiteId, csr_der: Vec<u8>) -> BoxFuture<'_, Result<String, String>>;
}

impl<T: Renewer> DynRenewer for T {
    fn renew(&self, site: SiteId, csr_der: Vec<u8>) -> BoxFuture<'_, Result<String, String>> {
        Box::pin(Renewer::renew(self, site, csr_der))
    }
}
