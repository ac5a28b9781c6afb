//! `ClientKind`: how each kind reaches its generated gRPC client.

use std::future::Future;

use futures::StreamExt;
use futures::stream::BoxStream;
use podium_api::Resource;
use podium_proto::api::v1 as pb;
use podium_proto::k8s::coordination::v1::Lease;
use podium_proto::k8s::core::v1::{Event, Namespace, Node, Pod};
use podium_proto::k8s::meta::v1::Status;
use podium_proto::k8s::scheduling::v1::PriorityClass;
use podium_telemetry::propagation::trace_interceptor;
use tonic::transport::Channel;

/// One watch event, as the apiserver sent it: `r#type` is ADDED, MODIFIED, DELETED, BOOKMARK
/// or ERROR (then `status` says why).
#[derive(Debug, Clone)]
pub struct WatchEvent<K> {
    pub r#type: String,
    pub object: Option<K>,
    pub status: Option<Status>,
}

type Call<T> = Result<T, tonic::Status>;

/// Lists of 100k pods are tens of megabytes; tonic's default limit is 4 MiB.
const MAX_MESSAGE: usize = usize::MAX;

/// A kind this client can read and write.
pub trait ClientKind: Resource {
    fn get(ch: Channel, r: pb::GetRequest) -> impl Future<Output = Call<Self>> + Send;
    fn list(ch: Channel, r: pb::ListRequest) -> impl Future<Output = Call<Self::List>> + Send;
    fn watch(
        ch: Channel,
        r: pb::WatchRequest,
    ) -> impl Future<Output = Call<BoxStream<'static, Call<WatchEvent<Self>>>>> + Send;
    fn create(ch: Channel, obj: Self) -> impl Future<Output = Call<Self>> + Send;
    fn update(ch: Channel, obj: Self) -> impl Future<Output = Call<Self>> + Send;
    fn update_status(ch: Channel, obj: Self) -> impl Future<Output = Call<Self>> + Send;
    fn delete(ch: Channel, r: pb::DeleteRequest) -> impl Future<Output = Call<Self>> + Send;
}

macro_rules! client_kind {
    ($kind:ident, $module:ident, $client:ident) => {
        impl ClientKind for $kind {
            async fn get(ch: Channel, r: pb::GetRequest) -> Call<Self> {
                pb::$module::$client::with_interceptor(ch, trace_interceptor)
                    .max_decoding_message_size(MAX_MESSAGE)
                    .get(r)
                    .await
                    .map(|r| r.into_inner())
            }
            async fn list(ch: Channel, r: pb::ListRequest) -> Call<Self::List> {
                pb::$module::$client::with_interceptor(ch, trace_interceptor)
                    .max_decoding_message_size(MAX_MESSAGE)
                    .list(r)
                    .await
                    .map(|r| r.into_inner())
            }
            async fn watch(ch: Channel, r: pb::WatchRequest) -> Call<BoxStream<'static, Call<WatchEvent<Self>>>> {
                let stream = pb::$module::$client::with_interceptor(ch, trace_interceptor)
                    .max_decoding_message_size(MAX_MESSAGE)
                    .watch(r)
                    .await?
                    .into_inner();
                Ok(stream
                    .map(|e| {
                        e.map(|e| WatchEvent {
                            r#type: e.r#type,
                            object: e.object,
                            status: e.status,
                        })
                    })
                    .boxed())
            }
            async fn create(ch: Channel, obj: Self) -> Call<Self> {
                pb::$module::$client::with_interceptor(ch, trace_interceptor)
                    .max_decoding_message_size(MAX_MESSAGE)
                    .create(obj)
                    .await
                    .map(|r| r.into_inner())
            }
            async fn update(ch: Channel, obj: Self) -> Call<Self> {
                pb::$module::$client::with_interceptor(ch, trace_interceptor)
                    .max_decoding_message_size(MAX_MESSAGE)
                    .update(obj)
                    .await
                    .map(|r| r.into_inner())
            }
            async fn update_status(ch: Channel, obj: Self) -> Call<Self> {
                pb::$module::$client::with_interceptor(ch, trace_interceptor)
                    .max_decoding_message_size(MAX_MESSAGE)
                    .update_status(obj)
                    .await
                    .map(|r| r.into_inner())
            }
            async fn delete(ch: Channel, r: pb::DeleteRequest) -> Call<Self> {
                pb::$module::$client::with_interceptor(ch, trace_interceptor)
                    .max_decoding_message_size(MAX_MESSAGE)
                    .delete(r)
                    .await
                    .map(|r| r.into_inner())
            }
        }
    };
}

client_kind!(Pod, pod_service_client, PodServiceClient);
client_kind!(Node, node_service_client, NodeServiceClient);
client_kind!(Namespace, namespace_service_client, NamespaceServiceClient);
client_kind!(Event, event_service_client, EventServiceClient);
client_kind!(Lease, lease_service_client, LeaseServiceClient);
client_kind!(PriorityClass, priority_class_service_client, PriorityClassServiceClient);
