//! Request bodies: size limit, media types, and Kubernetes' field validation.
//!
//! JSON bodies are checked against the schema before decoding: with `fieldValidation=Strict`
//! unknown and duplicate fields are a 400 naming them, with `Warn` (the default) they become
//! `Warning` headers, with `Ignore` nothing is said. Protobuf bodies (`kubectl create
//! namespace` sends one) are unwrapped from Kubernetes' `k8s\0` + `Unknown` envelope.

use axum::body::Body;
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use bytes::Bytes;
use podium_api::{ApiError, Resource, schema};
use podium_proto::k8s::runtime::Unknown;
use prost::Message;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::request::Query;

/// The largest request body accepted, as Kubernetes' apiserver limits it (3 MiB).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// The magic prefix of Kubernetes' protobuf encoding.
const PROTOBUF_MAGIC: &[u8] = b"k8s\0";

/// Reads the whole body, refusing one over the limit with 413.
pub async fn read(body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, MAX_BODY_BYTES).await.map_err(|_| {
        ApiError::new(
            413,
            "RequestEntityTooLarge",
            format!("the request body is too large: the limit is {MAX_BODY_BYTES} bytes"),
            None,
        )
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    Ignore,
    Warn,
    Strict,
}

impl FieldValidation {
    pub fn from_query(query: &Query) -> Result<Self, ApiError> {
        match query.get("fieldValidation").unwrap_or_default() {
            "" | "Warn" => Ok(FieldValidation::Warn),
            "Strict" => Ok(FieldValidation::Strict),
            "Ignore" => Ok(FieldValidation::Ignore),
            other => Err(ApiError::bad_request(format!(
                "fieldValidation parameter unsupported: {other:?}: must be one of \"Ignore\", \"Warn\", or \"Strict\""
            ))),
        }
    }
}

/// The media type of a body, without parameters; JSON when none is given.
fn media_type(headers: &HeaderMap) -> String {
    let value = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

/// A decoded object with the warnings its decoding produced.
#[derive(Debug)]
pub struct Decoded<T> {
    pub object: T,
    pub warnings: Vec<String>,
}

/// "Pod in version "v1" cannot be handled as a Pod: ...", as Kubernetes words decode errors.
fn cannot_handle<K: Resource>(detail: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!(
        "{} in version {:?} cannot be handled as a {}: {detail}",
        K::KIND,
        K::VERSION,
        K::KIND
    ))
}

/// Decodes a body into a `K`, applying field validation to JSON.
pub fn decode_object<K: Resource>(headers: &HeaderMap, query: &Query, body: &[u8]) -> Result<Decoded<K>, ApiError> {
    match media_type(headers).as_str() {
        "application/json" | "" => decode_json::<K>(K::PROTO_NAME, query, body, Some((K::KIND, &K::api_version()))),
        "application/vnd.kubernetes.protobuf" => decode_protobuf::<K>(body),
        other => Err(unsupported_media_type(other)),
    }
}

pub fn unsupported_media_type(media: &str) -> ApiError {
    ApiError::new(
        415,
        "UnsupportedMediaType",
        format!(
            "the body of the request was in an unknown format ({media}) - accepted media types include: application/json, application/vnd.kubernetes.protobuf"
        ),
        None,
    )
}

/// Decodes a JSON body of protobuf message `proto_name`; `type_meta` is the kind and
/// apiVersion the body must carry, if it carries any.
pub fn decode_json<T: DeserializeOwned>(
    proto_name: &str,
    query: &Query,
    body: &[u8],
    type_meta: Option<(&str, &str)>,
) -> Result<Decoded<T>, ApiError> {
    let kind = type_meta.map_or("object", |(k, _)| k);
    let invalid = |detail: String| ApiError::bad_request(format!("the request body is not a valid {kind}: {detail}"));
    let value: Value = serde_json::from_slice(body).map_err(|e| invalid(e.to_string()))?;
    if !value.is_object() {
        return Err(invalid("expected a JSON object".into()));
    }
    if let Some((kind, api_version)) = type_meta {
        let given_kind = value.get("kind").and_then(Value::as_str).unwrap_or_default();
        let given_version = value.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
        if !given_version.is_empty() && given_version != api_version {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({given_version}) does not match the expected API version ({api_version})"
            )));
        }
        if !given_kind.is_empty() && given_kind != kind {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({given_kind}) does not match the expected kind ({kind})"
            )));
        }
    }
    let validation = FieldValidation::from_query(query)?;
    let mut problems = Vec::new();
    if validation != FieldValidation::Ignore {
        for field in schema::duplicate_fields(body).map_err(|e| invalid(e.to_string()))? {
            problems.push(format!("duplicate field {field:?}"));
        }
        for field in schema::unknown_fields(proto_name, &value) {
            problems.push(format!("unknown field {field:?}"));
        }
    }
    let strict_kind = type_meta.map(|(k, _)| k).unwrap_or("object");
    if validation == FieldValidation::Strict && !problems.is_empty() {
        return Err(ApiError::bad_request(format!(
            "{strict_kind} in version \"v1\" cannot be handled as a {strict_kind}: strict decoding error: {}",
            problems.join(", ")
        )));
    }
    let object = serde_json::from_value(value).map_err(|e| {
        ApiError::bad_request(format!(
            "{strict_kind} in version \"v1\" cannot be handled as a {strict_kind}: {e}"
        ))
    })?;
    Ok(Decoded {
        object,
        warnings: problems,
    })
}

fn decode_protobuf<K: Resource>(body: &[u8]) -> Result<Decoded<K>, ApiError> {
    let Some(envelope) = body.strip_prefix(PROTOBUF_MAGIC) else {
        return Err(cannot_handle::<K>("protobuf body without the k8s magic prefix"));
    };
    let unknown = Unknown::decode(envelope).map_err(|e| cannot_handle::<K>(e))?;
    let kind = unknown.type_meta.as_ref().map(|t| t.kind.as_str()).unwrap_or_default();
    if kind != K::KIND {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({kind}) does not match the expected kind ({})",
            K::KIND
        )));
    }
    // Kubernetes' field numbers for ObjectMeta, spec and status are Podium's own.
    let object = K::decode(unknown.raw.as_slice()).map_err(|e| cannot_handle::<K>(e))?;
    Ok(Decoded {
        object,
        warnings: Vec::new(),
    })
}

/// The `Warning` header value for one warning (RFC 7234 warn-code 299, as Kubernetes sends).
pub fn warning_header(text: &str) -> String {
    format!("299 - {:?}", text)
}

#[cfg(test)]
mod tests {
    use podium_proto::k8s::core::v1::Pod;
    use proptest::prelude::*;

    use super::*;

    fn headers(content_type: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, content_type.parse().unwrap());
        headers
    }

    const MEDIA: [&str; 3] = [
        "application/json",
        "application/vnd.kubernetes.protobuf",
        "application/json; charset=utf-8",
    ];

    proptest! {
        /// Any bytes, as any accepted media type and validation mode: a Pod or a 4xx.
        #[test]
        fn arbitrary_bodies_decode_or_fail_with_a_4xx(
            body in proptest::collection::vec(any::<u8>(), 0..512),
            media in 0..MEDIA.len(),
            mode in prop::sample::select(vec!["", "Strict", "Warn", "Ignore", "bogus"]),
        ) {
            let query = Query::parse(Some(&format!("fieldValidation={mode}")));
            if let Err(e) = decode_object::<Pod>(&headers(MEDIA[media]), &query, &body) {
                prop_assert!((400..500).contains(&e.code()));
            }
        }

        /// Pod-shaped JSON with arbitrary values in arbitrary places: a Pod or a 4xx.
        #[test]
        fn arbitrary_pod_json_decodes_or_fails_with_a_4xx(
            key in "[a-zA-Z]{1,12}",
            value in prop_oneof![
                Just(json_value("null")), Just(json_value("[]")), Just(json_value("{}")), Just(json_value("-1")),
                Just(json_value("\"x\"")), Just(json_value("1e400")), Just(json_value("true")),
            ],
            place in 0..4usize,
        ) {
            let mut pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                "spec": {"containers": [{"name": "a", "image": "b"}]}});
            let target = match place {
                0 => &mut pod,
                1 => &mut pod["metadata"],
                2 => &mut pod["spec"],
                _ => &mut pod["spec"]["containers"][0],
            };
            target[key.as_str()] = value;
            let body = serde_json::to_vec(&pod).unwrap();
            for mode in ["Strict", "Warn"] {
                let query = Query::parse(Some(&format!("fieldValidation={mode}")));
                if let Err(e) = decode_object::<Pod>(&headers("application/json"), &query, &body) {
                    prop_assert!((400..500).contains(&e.code()));
                }
            }
        }
    }

    fn json_value(text: &str) -> Value {
        serde_json::from_str(text).unwrap_or(Value::Null)
    }

    #[test]
    fn protobuf_envelopes_decode() {
        use podium_proto::k8s::core::v1::Namespace;
        use podium_proto::k8s::meta::v1::ObjectMeta;
        use podium_proto::k8s::runtime::TypeMeta;

        let namespace = Namespace {
            metadata: Some(ObjectMeta {
                name: "team".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let unknown = Unknown {
            type_meta: Some(TypeMeta {
                api_version: "v1".into(),
                kind: "Namespace".into(),
            }),
            raw: namespace.encode_to_vec(),
            ..Default::default()
        };
        let body = [PROTOBUF_MAGIC, &unknown.encode_to_vec()].concat();
        let decoded = decode_object::<Namespace>(
            &headers("application/vnd.kubernetes.protobuf"),
            &Query::default(),
            &body,
        )
        .unwrap();
        assert_eq!(decoded.object.metadata.unwrap().name, "team");
        let wrong = decode_object::<Pod>(
            &headers("application/vnd.kubernetes.protobuf"),
            &Query::default(),
            &body,
        );
        assert_eq!(wrong.unwrap_err().code(), 400);
    }
}
