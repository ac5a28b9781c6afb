//! The tonic service implementations, generated per kind by one macro over the registry.

use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use podium_proto::api::v1::{self as pb, DeleteRequest, GetRequest, ListRequest, WatchRequest};
use podium_proto::k8s::coordination::v1::{Lease, LeaseList};
use podium_proto::k8s::core::v1::{Binding, Event, EventList, Namespace, NamespaceList, Node, NodeList, Pod, PodList};
use podium_proto::k8s::meta::v1::Status;
use podium_proto::k8s::scheduling::v1::{PriorityClass, PriorityClassList};
use tonic::{Request, Response};

use super::to_grpc;
use crate::registry::{Api, ListOptions, WatchEvent, WatchOptions};

/// The gRPC services' shared state.
#[derive(Clone)]
pub struct GrpcApi {
    api: Api,
}

impl GrpcApi {
    pub fn new(api: Api) -> Self {
        GrpcApi { api }
    }
}

type GrpcResult<T> = Result<Response<T>, tonic::Status>;

fn list_options(r: ListRequest) -> ListOptions {
    ListOptions {
        label_selector: r.label_selector,
        field_selector: r.field_selector,
        limit: r.limit,
        continue_token: r.r#continue,
        resource_version: r.resource_version,
    }
}

fn watch_options(r: &WatchRequest) -> WatchOptions {
    WatchOptions {
        label_selector: r.label_selector.clone(),
        field_selector: r.field_selector.clone(),
        resource_version: r.resource_version.clone(),
        allow_bookmarks: r.allow_watch_bookmarks,
        timeout: u64::try_from(r.timeout_seconds)
            .ok()
            .filter(|s| *s > 0)
            .map(Duration::from_secs),
    }
}

macro_rules! kind_service {
    ($kind:ident, $list:ident, $event:ident, $module:ident, $trait:ident $(, $extra:item)*) => {
        #[tonic::async_trait]
        impl pb::$module::$trait for GrpcApi {
            type WatchStream = BoxStream<'static, Result<pb::$event, tonic::Status>>;

            async fn get(&self, request: Request<GetRequest>) -> GrpcResult<$kind> {
                let r = request.into_inner();
                self.api.get::<$kind>(&r.namespace, &r.name).await.map(Response::new).map_err(to_grpc)
            }

            async fn list(&self, request: Request<ListRequest>) -> GrpcResult<$list> {
                let r = request.into_inner();
                let namespace = r.namespace.clone();
                self.api.list::<$kind>(&namespace, &list_options(r)).await.map(Response::new).map_err(to_grpc)
            }

            async fn watch(&self, request: Request<WatchRequest>) -> GrpcResult<Self::WatchStream> {
                let r = request.into_inner();
                let events = self.api.watch::<$kind>(&r.namespace, watch_options(&r)).await.map_err(to_grpc)?;
                let events = events.map(|e: WatchEvent<$kind>| {
                    Ok(pb::$event {
                        r#type: e.r#type.as_str().to_owned(),
                        object: e.object,
                        status: e.error.map(|err| *err.status),
                    })
                });
                Ok(Response::new(events.boxed()))
            }

            async fn create(&self, request: Request<$kind>) -> GrpcResult<$kind> {
                self.api.create("", request.into_inner()).await.map(Response::new).map_err(to_grpc)
            }

            async fn update(&self, request: Request<$kind>) -> GrpcResult<$kind> {
                self.api.update("", request.into_inner()).await.map(Response::new).map_err(to_grpc)
            }

            async fn update_status(&self, request: Request<$kind>) -> GrpcResult<$kind> {
                self.api.update_status("", request.into_inner()).await.map(Response::new).map_err(to_grpc)
            }

            async fn delete(&self, request: Request<DeleteRequest>) -> GrpcResult<$kind> {
                let r = request.into_inner();
                let options = r.options.unwrap_or_default();
                self.api.delete::<$kind>(&r.namespace, &r.name, options).await.map(Response::new).map_err(to_grpc)
            }

            $($extra)*
        }
    };
}

kind_service!(
    Pod,
    PodList,
    PodWatchEvent,
    pod_service_server,
    PodService,
    async fn bind(&self, request: Request<Binding>) -> GrpcResult<Status> {
        self.api
            .bind("", request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_grpc)
    }
);
kind_service!(Node, NodeList, NodeWatchEvent, node_service_server, NodeService);
kind_service!(
    Namespace,
    NamespaceList,
    NamespaceWatchEvent,
    namespace_service_server,
    NamespaceService
);
kind_service!(Event, EventList, EventWatchEvent, event_service_server, EventService);
kind_service!(Lease, LeaseList, LeaseWatchEvent, lease_service_server, LeaseService);
kind_service!(
    PriorityClass,
    PriorityClassList,
    PriorityClassWatchEvent,
    priority_class_service_server,
    PriorityClassService
);

/// Every gRPC service, with health and reflection, as tonic routes.
pub fn routes(api: Api) -> tonic::service::Routes {
    let grpc = GrpcApi::new(api);
    let (health_reporter, health) = tonic_health::server::health_reporter();
    // Serving status of the whole server; the default status is SERVING for "".
    drop(health_reporter);
    let mut builder = tonic::service::Routes::builder();
    builder
        .add_service(health)
        .add_service(pb::pod_service_server::PodServiceServer::new(grpc.clone()))
        .add_service(pb::node_service_server::NodeServiceServer::new(grpc.clone()))
        .add_service(pb::namespace_service_server::NamespaceServiceServer::new(grpc.clone()))
        .add_service(pb::event_service_server::EventServiceServer::new(grpc.clone()))
        .add_service(pb::lease_service_server::LeaseServiceServer::new(grpc.clone()))
        .add_service(pb::priority_class_service_server::PriorityClassServiceServer::new(grpc));
    match tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(podium_proto::FILE_DESCRIPTOR_SET)
        .build_v1()
    {
        Ok(reflection) => {
            builder.add_service(reflection);
        }
        Err(e) => tracing::warn!(error = %e, "gRPC reflection is unavailable"),
    }
    builder.routes()
}
