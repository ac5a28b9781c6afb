//! The resource endpoints: every verb on every kind, over `registry::Api`.
//!
//! `dispatch` reads the path into a `RequestInfo` and picks the kind; `Endpoint<K>` carries
//! one request through the verb. Responses are JSON objects, lists, or `meta.k8s.io/v1`
//! Tables when `kubectl get` asks for them.

use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use podium_api::patch::{PatchType, apply_patch};
use podium_api::table::{IncludeObject, Printable};
use podium_api::{ApiError, Resource};
use podium_proto::k8s::coordination::v1::Lease;
use podium_proto::k8s::core::v1::{Binding, Event, Namespace, Node, Pod};
use podium_proto::k8s::meta::v1::DeleteOptions;
use podium_proto::k8s::scheduling::v1::PriorityClass;
use serde::Serialize;

use super::RestState;
use super::body::{self, FieldValidation, warning_header};
use super::error::{RestError, RestResult, method_not_allowed, not_found};
use super::request::{Query, RequestInfo, wants_table};
use super::watch::watch_response;
use crate::registry::{Api, Kind, ListOptions};

/// How often a PATCH is retried when the object changes under it.
const PATCH_ATTEMPTS: usize = 5;

/// A kind the REST face serves.
pub trait RestKind: Kind + Printable {}
impl<K: Kind + Printable> RestKind for K {}

/// One request on one resource.
pub struct Endpoint {
    pub api: Api,
    pub info: RequestInfo,
    pub method: Method,
    pub query: Query,
    pub headers: HeaderMap,
    pub body: Body,
}

/// The entry point for `/api/v1/...` and `/apis/{group}/v1/...`.
pub async fn dispatch(
    State(state): State<RestState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(info) = RequestInfo::parse(uri.path()) else {
        return RestError(not_found()).into_response();
    };
    let endpoint = Endpoint {
        api: state.api.clone(),
        info,
        method,
        query: Query::parse(uri.query()),
        headers,
        body,
    };
    let result = match (endpoint.info.group.as_str(), endpoint.info.resource.as_str()) {
        ("", "pods") => endpoint.serve::<Pod>().await,
        ("", "nodes") => endpoint.serve::<Node>().await,
        ("", "namespaces") => endpoint.serve::<Namespace>().await,
        ("", "events") => endpoint.serve::<Event>().await,
        ("", "bindings") => endpoint.bindings().await,
        (g, "leases") if g == Lease::GROUP => endpoint.serve::<Lease>().await,
        (g, "priorityclasses") if g == PriorityClass::GROUP => endpoint.serve::<PriorityClass>().await,
        _ => Err(not_found().into()),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

/// A JSON response with `Warning` headers.
fn json<T: Serialize>(code: StatusCode, value: &T, warnings: &[String]) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut response = (code, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for warning in warnings {
        if let Ok(value) = HeaderValue::from_str(&warning_header(warning)) {
            headers.append(header::WARNING, value);
        }
    }
    response
}

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

impl Endpoint {
    async fn serve<K: RestKind>(self) -> RestResult<Response> {
        let scoped = !self.info.namespace.is_empty();
        let all_namespaces_read = !scoped && self.info.name.is_empty() && self.method == Method::GET;
        if K::NAMESPACED != scoped && !(K::NAMESPACED && all_namespaces_read) {
            // Cluster-scoped kinds have no namespace; namespaced ones need one except to read
            // across all namespaces.
            return Err(not_found().into());
        }
        let named = !self.info.name.is_empty();
        match (self.method.clone(), named, self.info.subresource.as_str()) {
            (Method::GET, false, "") if self.query.flag("watch") => self.watch::<K>().await,
            (Method::GET, false, "") => self.list::<K>().await,
            (Method::POST, false, "") => self.create::<K>().await,
            (Method::DELETE, false, "") => self.delete_collection::<K>().await,
            (Method::GET, true, "") => self.get::<K>().await,
            (Method::PUT, true, "") => self.update::<K>(false).await,
            (Method::PATCH, true, "") => self.patch::<K>(false).await,
            (Method::DELETE, true, "") => self.delete::<K>().await,
            (Method::GET, true, "status") if K::HAS_STATUS => self.get::<K>().await,
            (Method::PUT, true, "status") if K::HAS_STATUS => self.update::<K>(true).await,
            (Method::PATCH, true, "status") if K::HAS_STATUS => self.patch::<K>(true).await,
            (Method::POST, true, "binding") if K::KIND == "Pod" => self.bind().await,
            (Method::PUT, true, "finalize") if K::KIND == "Namespace" => self.finalize().await,
            (_, true, "attach" | "portforward") if K::KIND == "Pod" => {
                Err(ApiError::service_unavailable(format!("pods/{} is not served yet", self.info.subresource)).into())
            }
            (_, _, "") => Err(method_not_allowed().into()),
            (_, _, "status") if K::HAS_STATUS => Err(method_not_allowed().into()),
            _ => Err(not_found().into()),
        }
    }

    fn list_options(&self) -> ListOptions {
        ListOptions {
            label_selector: self.query.get_or_empty("labelSelector"),
            field_selector: self.query.get_or_empty("fieldSelector"),
            limit: self.query.int("limit").ok().flatten().unwrap_or(0),
            continue_token: self.query.get_or_empty("continue"),
            resource_version: self.query.get_or_empty("resourceVersion"),
        }
    }

    fn include_object(&self) -> RestResult<IncludeObject> {
        Ok(IncludeObject::from_query(
            self.query.get("includeObject").unwrap_or_default(),
        )?)
    }

    /// One object, as JSON or as a one-row Table.
    fn object<K: RestKind>(&self, code: StatusCode, obj: &K, warnings: &[String]) -> RestResult<Response> {
        if wants_table(&self.headers) {
            let table = podium_api::table::table(std::slice::from_ref(obj), self.include_object()?, now());
            return Ok(json(code, &table, warnings));
        }
        Ok(json(code, obj, warnings))
    }

    async fn get<K: RestKind>(self) -> RestResult<Response> {
        let obj = self.api.get::<K>(&self.info.namespace, &self.info.name).await?;
        self.object(StatusCode::OK, &obj, &[])
    }

    async fn list<K: RestKind>(self) -> RestResult<Response> {
        self.query.int("limit")?;
        let list = self.api.list::<K>(&self.info.namespace, &self.list_options()).await?;
        if wants_table(&self.headers) {
            let metadata = K::list_metadata(&list).cloned().unwrap_or_default();
            let mut table = podium_api::table::table(&K::list_items(list), self.include_object()?, now());
            table.metadata.resource_version = metadata.resource_version;
            table.metadata.r#continue = metadata.r#continue;
            return Ok(json(StatusCode::OK, &table, &[]));
        }
        Ok(json(StatusCode::OK, &list, &[]))
    }

    async fn watch<K: RestKind>(self) -> RestResult<Response> {
        let timeout = self
            .query
            .int("timeoutSeconds")?
            .filter(|s| *s > 0)
            .map(|s| Duration::from_secs(s as u64));
        let options = crate::registry::WatchOptions {
            label_selector: self.query.get_or_empty("labelSelector"),
            field_selector: self.query.get_or_empty("fieldSelector"),
            resource_version: self.query.get_or_empty("resourceVersion"),
            allow_bookmarks: self.query.flag("allowWatchBookmarks"),
            timeout: Some(timeout.unwrap_or(super::watch::DEFAULT_WATCH_TIMEOUT)),
        };
        let table = if wants_table(&self.headers) {
            Some(self.include_object()?)
        } else {
            None
        };
        watch_response::<K>(&self.api, &self.info.namespace, options, table).await
    }

    async fn create<K: RestKind>(mut self) -> RestResult<Response> {
        let bytes = body::read(std::mem::take(&mut self.body)).await?;
        let decoded = body::decode_object::<K>(&self.headers, &self.query, &bytes)?;
        let created = self.api.create(&self.info.namespace, decoded.object).await?;
        self.object(StatusCode::CREATED, &created, &decoded.warnings)
    }

    async fn update<K: RestKind>(mut self, status: bool) -> RestResult<Response> {
        let bytes = body::read(std::mem::take(&mut self.body)).await?;
        let decoded = body::decode_object::<K>(&self.headers, &self.query, &bytes)?;
        let mut obj = decoded.object;
        self.check_name(&mut obj)?;
        let updated = if status {
            self.api.update_status(&self.info.namespace, obj).await?
        } else {
            self.api.update(&self.info.namespace, obj).await?
        };
        self.object(StatusCode::OK, &updated, &decoded.warnings)
    }

    /// The body names the object the URL names (an empty name takes the URL's).
    fn check_name<K: Resource>(&self, obj: &mut K) -> RestResult<()> {
        let meta = obj.metadata_mut();
        if meta.name.is_empty() {
            meta.name = self.info.name.clone();
        } else if meta.name != self.info.name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({})",
                meta.name, self.info.name
            ))
            .into());
        }
        Ok(())
    }

    async fn patch<K: RestKind>(mut self, status: bool) -> RestResult<Response> {
        let media = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let patch_type = PatchType::from_content_type(media).ok_or_else(|| body::unsupported_media_type(media))?;
        let patch = body::read(std::mem::take(&mut self.body)).await?;
        let validation = FieldValidation::from_query(&self.query)?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let current = self.api.get::<K>(&self.info.namespace, &self.info.name).await?;
            let original = serde_json::to_value(&current).map_err(ApiError::internal)?;
            let patched = apply_patch(K::KIND, patch_type, &original, &patch)?;
            let unknown = if validation == FieldValidation::Ignore {
                Vec::new()
            } else {
                podium_api::schema::unknown_fields(K::PROTO_NAME, &patched)
            };
            let warnings: Vec<String> = unknown.iter().map(|f| format!("unknown field {f:?}")).collect();
            if validation == FieldValidation::Strict && !warnings.is_empty() {
                return Err(ApiError::bad_request(format!("strict decoding error: {}", warnings.join(", "))).into());
            }
            let pinned = patched
                .pointer("/metadata/resourceVersion")
                .and_then(|v| v.as_str())
                .is_some_and(|rv| rv != current.resource_version());
            let mut obj: K = serde_json::from_value(patched)
                .map_err(|e| ApiError::bad_request(format!("the patched {} is not valid: {e}", K::KIND)))?;
            self.check_name(&mut obj)?;
            if obj.resource_version().is_empty() {
                obj.metadata_mut().resource_version = current.resource_version().to_owned();
            }
            let result = if status {
                self.api.update_status(&self.info.namespace, obj).await
            } else {
                self.api.update(&self.info.namespace, obj).await
            };
            match result {
                Ok(updated) => return self.object(StatusCode::OK, &updated, &warnings),
                // The object changed between read and write: patch the newer one.
                Err(e) if e.is_conflict() && !pinned && attempt < PATCH_ATTEMPTS => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Delete options from the body (if any) and the query.
    async fn delete_options(&mut self) -> RestResult<DeleteOptions> {
        let bytes = body::read(std::mem::take(&mut self.body)).await?;
        let mut options = if bytes.iter().all(u8::is_ascii_whitespace) {
            DeleteOptions::default()
        } else {
            body::decode_json::<DeleteOptions>("k8s.meta.v1.DeleteOptions", &Query::default(), &bytes, None)?.object
        };
        if let Some(grace) = self.query.int("gracePeriodSeconds")? {
            options.grace_period_seconds = Some(grace);
        }
        Ok(options)
    }

    async fn delete<K: RestKind>(mut self) -> RestResult<Response> {
        let options = self.delete_options().await?;
        let deleted = self
            .api
            .delete::<K>(&self.info.namespace, &self.info.name, options)
            .await?;
        self.object(StatusCode::OK, &deleted, &[])
    }

    async fn delete_collection<K: RestKind>(mut self) -> RestResult<Response> {
        let options = self.delete_options().await?;
        let list = self.api.list::<K>(&self.info.namespace, &self.list_options()).await?;
        let metadata = K::list_metadata(&list).cloned().unwrap_or_default();
        let mut deleted = Vec::new();
        for obj in K::list_items(list) {
            match self.api.delete::<K>(obj.namespace(), obj.name(), options.clone()).await {
                Ok(obj) => deleted.push(obj),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(json(StatusCode::OK, &K::new_list(deleted, metadata), &[]))
    }

    /// `POST .../pods/{name}/binding`, or `POST .../namespaces/{ns}/bindings` with the pod
    /// named in the body.
    async fn bind(mut self) -> RestResult<Response> {
        let bytes = body::read(std::mem::take(&mut self.body)).await?;
        let decoded =
            body::decode_json::<Binding>("k8s.core.v1.Binding", &self.query, &bytes, Some(("Binding", "v1")))?;
        let mut binding = decoded.object;
        let meta = binding.metadata.get_or_insert_with(Default::default);
        if meta.name.is_empty() {
            meta.name = self.info.name.clone();
        }
        let status = self.api.bind(&self.info.namespace, binding).await?;
        Ok(json(StatusCode::CREATED, &status, &decoded.warnings))
    }

    async fn bindings(self) -> RestResult<Response> {
        if self.method != Method::POST || !self.info.name.is_empty() || self.info.namespace.is_empty() {
            return Err(method_not_allowed().into());
        }
        self.bind().await
    }

    /// `PUT /api/v1/namespaces/{name}/finalize`: replaces the namespace's spec.finalizers.
    async fn finalize(mut self) -> RestResult<Response> {
        let bytes = body::read(std::mem::take(&mut self.body)).await?;
        let decoded = body::decode_object::<Namespace>(&self.headers, &self.query, &bytes)?;
        let finalizers = decoded.object.spec.map(|s| s.finalizers).unwrap_or_default();
        let namespace = self.api.finalize_namespace(&self.info.name, finalizers).await?;
        self.object(StatusCode::OK, &namespace, &decoded.warnings)
    }
}
