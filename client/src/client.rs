//! `Client` and `Objects<K>`: the typed verbs over one gRPC channel.

use std::marker::PhantomData;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use podium_api::ApiError;
use podium_proto::api::v1 as pb;
use podium_proto::k8s::core::v1::Binding;
use podium_proto::k8s::meta::v1::{DeleteOptions, Status};
use podium_telemetry::propagation::trace_interceptor;
use prost::Message;
use tonic::Code;
use tonic::transport::{Channel, Endpoint};

use crate::kind::{ClientKind, WatchEvent};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The apiserver answered with a Kubernetes error (or could not be reached: 503).
    #[error("{0}")]
    Api(#[from] ApiError),
    #[error("invalid apiserver address {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
}

impl ClientError {
    /// The API error, if the server gave one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            ClientError::Api(e) => Some(e),
            ClientError::InvalidUrl { .. } => None,
        }
    }
    pub fn is_not_found(&self) -> bool {
        self.api().is_some_and(ApiError::is_not_found)
    }
    pub fn is_conflict(&self) -> bool {
        self.api().is_some_and(ApiError::is_conflict)
    }
    pub fn code(&self) -> i32 {
        self.api().map_or(0, ApiError::code)
    }
}

/// Recovers the server's `ApiError` from a gRPC status (the details carry the encoded
/// Kubernetes Status); statuses without one get a code-derived error.
pub(crate) fn from_grpc(status: tonic::Status) -> ClientError {
    if let Ok(decoded) = Status::decode(status.details())
        && decoded.code != 0
    {
        return ClientError::Api(ApiError {
            status: Box::new(decoded),
        });
    }
    let (code, reason) = match status.code() {
        Code::InvalidArgument => (400, "BadRequest"),
        Code::NotFound => (404, "NotFound"),
        Code::AlreadyExists => (409, "AlreadyExists"),
        Code::Aborted => (409, "Conflict"),
        Code::PermissionDenied => (403, "Forbidden"),
        Code::Unauthenticated => (401, "Unauthorized"),
        Code::OutOfRange => (410, "Expired"),
        Code::ResourceExhausted => (429, "TooManyRequests"),
        Code::Unavailable => (503, "ServiceUnavailable"),
        Code::DeadlineExceeded => (504, "Timeout"),
        _ => (500, "InternalError"),
    };
    ClientError::Api(ApiError::new(code, reason, status.message().to_owned(), None))
}

/// A connection to the apiserver. Cheap to clone; reconnects by itself.
#[derive(Debug, Clone)]
pub struct Client {
    channel: Channel,
}

impl Client {
    /// A client for `url` (e.g. `http://127.0.0.1:6443`). It connects on first use and
    /// reconnects after the apiserver restarts.
    pub fn new(url: &str) -> crate::Result<Self> {
        let invalid = |reason: String| ClientError::InvalidUrl {
            url: url.to_owned(),
            reason,
        };
        let endpoint = Endpoint::from_shared(url.to_owned())
            .map_err(|e| invalid(e.to_string()))?
            .connect_timeout(Duration::from_secs(5))
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_while_idle(true);
        Ok(Client {
            channel: endpoint.connect_lazy(),
        })
    }

    /// The verbs for one kind in one namespace (ignored for cluster-scoped kinds; empty for
    /// all namespaces in lists and watches).
    pub fn resource<K: ClientKind>(&self, namespace: &str) -> Objects<K> {
        Objects {
            channel: self.channel.clone(),
            namespace: namespace.to_owned(),
            kind: PhantomData,
        }
    }

    /// Binds a pod to a node (what the scheduler does).
    pub async fn bind(&self, binding: Binding) -> crate::Result<Status> {
        let mut client =
            pb::pod_service_client::PodServiceClient::with_interceptor(self.channel.clone(), trace_interceptor);
        client.bind(binding).await.map(|r| r.into_inner()).map_err(from_grpc)
    }
}

/// A list query.
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub label_selector: String,
    pub field_selector: String,
    pub limit: i64,
    pub continue_token: String,
    pub resource_version: String,
}

/// A watch query.
#[derive(Debug, Clone, Default)]
pub struct WatchParams {
    pub label_selector: String,
    pub field_selector: String,
    pub resource_version: String,
    pub allow_bookmarks: bool,
    pub timeout_seconds: i64,
}

/// The verbs for one kind.
#[derive(Debug, Clone)]
pub struct Objects<K> {
    channel: Channel,
    namespace: String,
    kind: PhantomData<fn() -> K>,
}

impl<K: ClientKind> Objects<K> {
    fn namespace(&self) -> String {
        if K::NAMESPACED {
            self.namespace.clone()
        } else {
            String::new()
        }
    }

    fn with_namespace(&self, mut obj: K) -> K {
        if K::NAMESPACED && obj.namespace().is_empty() {
            obj.metadata_mut().namespace = self.namespace.clone();
        }
        obj
    }

    pub async fn get(&self, name: &str) -> crate::Result<K> {
        let request = pb::GetRequest {
            namespace: self.namespace(),
            name: name.to_owned(),
        };
        K::get(self.channel.clone(), request).await.map_err(from_grpc)
    }

    /// The object, or `None` when it does not exist.
    pub async fn get_opt(&self, name: &str) -> crate::Result<Option<K>> {
        match self.get(name).await {
            Ok(obj) => Ok(Some(obj)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn list(&self, params: &ListParams) -> crate::Result<K::List> {
        let request = pb::ListRequest {
            namespace: self.namespace(),
            label_selector: params.label_selector.clone(),
            field_selector: params.field_selector.clone(),
            limit: params.limit,
            r#continue: params.continue_token.clone(),
            resource_version: params.resource_version.clone(),
        };
        K::list(self.channel.clone(), request).await.map_err(from_grpc)
    }

    pub async fn watch(&self, params: &WatchParams) -> crate::Result<BoxStream<'static, crate::Result<WatchEvent<K>>>> {
        let request = pb::WatchRequest {
            namespace: self.namespace(),
            label_selector: params.label_selector.clone(),
            field_selector: params.field_selector.clone(),
            resource_version: params.resource_version.clone(),
            allow_watch_bookmarks: params.allow_bookmarks,
            timeout_seconds: params.timeout_seconds,
        };
        let stream = K::watch(self.channel.clone(), request).await.map_err(from_grpc)?;
        Ok(stream.map(|e| e.map_err(from_grpc)).boxed())
    }

    pub async fn create(&self, obj: K) -> crate::Result<K> {
        K::create(self.channel.clone(), self.with_namespace(obj))
            .await
            .map_err(from_grpc)
    }

    pub async fn update(&self, obj: K) -> crate::Result<K> {
        K::update(self.channel.clone(), self.with_namespace(obj))
            .await
            .map_err(from_grpc)
    }

    pub async fn update_status(&self, obj: K) -> crate::Result<K> {
        K::update_status(self.channel.clone(), self.with_namespace(obj))
            .await
            .map_err(from_grpc)
    }

    /// Deletes (or, for a bound pod, starts deleting) an object; returns its last state.
    pub async fn delete(&self, name: &str, options: DeleteOptions) -> crate::Result<K> {
        let request = pb::DeleteRequest {
            namespace: self.namespace(),
            name: name.to_owned(),
            options: Some(options),
        };
        K::delete(self.channel.clone(), request).await.map_err(from_grpc)
    }
}
