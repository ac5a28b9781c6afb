//! The JSON form is Kubernetes' own: fixtures in Kubernetes' JSON round-trip through the
//! generated types (and through protobuf), and k8s-openapi, an independent implementation of
//! the same schema, reads what we write and writes it back identically.

use podium_proto::k8s::coordination::v1::Lease;
use podium_proto::k8s::core::v1::{Event, Namespace, Node, Pod, PodList};
use podium_proto::k8s::meta::v1::{ListMeta, Status};
use podium_proto::k8s::scheduling::v1::PriorityClass;
use prost::Message;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Decode, encode, decode: equal; protobuf round trip: equal; returns our JSON.
fn round_trip<T>(fixture: &str) -> Value
where
    T: Serialize + DeserializeOwned + Message + Default + PartialEq + std::fmt::Debug,
{
    let decoded: T = serde_json::from_str(fixture).expect("fixture decodes");
    let json = serde_json::to_value(&decoded).unwrap();
    let again: T = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(again, decoded, "JSON round trip");
    let bytes = decoded.encode_to_vec();
    assert_eq!(T::decode(bytes.as_slice()).unwrap(), decoded, "protobuf round trip");
    json
}

/// k8s-openapi reads our JSON and writes the same JSON back.
fn openapi_agrees<O: Serialize + DeserializeOwned>(ours: &Value) {
    let theirs: O = serde_json::from_value(ours.clone()).expect("k8s-openapi reads our JSON");
    let rewritten = serde_json::to_value(&theirs).unwrap();
    assert_eq!(&rewritten, ours, "k8s-openapi writes back what we wrote");
}

#[test]
fn pod_fixture_round_trips_and_matches_k8s_openapi() {
    let json = round_trip::<Pod>(include_str!("fixtures/pod.json"));
    assert_eq!(
        json["spec"]["containers"][0]["ports"][0]["containerPort"], 80,
        "int32 as a JSON number"
    );
    assert_eq!(
        json["spec"]["containers"][0]["resources"]["limits"]["cpu"], "500m",
        "Quantity as a string"
    );
    assert_eq!(
        json["spec"]["containers"][0]["livenessProbe"]["httpGet"]["port"], "http",
        "IntOrString string"
    );
    assert_eq!(
        json["spec"]["containers"][0]["readinessProbe"]["tcpSocket"]["port"], 80,
        "IntOrString int"
    );
    assert_eq!(
        json["metadata"]["creationTimestamp"], "2024-05-01T10:00:00Z",
        "RFC 3339 time"
    );
    assert_eq!(
        json["status"]["hostIP"], "192.0.2.10",
        "acronyms spelled as Kubernetes does"
    );
    assert_eq!(
        json["spec"]["terminationGracePeriodSeconds"], 30,
        "int64 as a JSON number"
    );
    openapi_agrees::<k8s_openapi::api::core::v1::Pod>(&json);
}

#[test]
fn other_kinds_round_trip_and_match_k8s_openapi() {
    let node = round_trip::<Node>(include_str!("fixtures/node.json"));
    assert_eq!(node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"], 10250);
    openapi_agrees::<k8s_openapi::api::core::v1::Node>(&node);
    let event = round_trip::<Event>(include_str!("fixtures/event.json"));
    assert_eq!(
        event["eventTime"], "2024-05-01T10:00:00.123456Z",
        "MicroTime keeps microseconds"
    );
    openapi_agrees::<k8s_openapi::api::core::v1::Event>(&event);
    let lease = round_trip::<Lease>(include_str!("fixtures/lease.json"));
    openapi_agrees::<k8s_openapi::api::coordination::v1::Lease>(&lease);
    let class = round_trip::<PriorityClass>(include_str!("fixtures/priorityclass.json"));
    openapi_agrees::<k8s_openapi::api::scheduling::v1::PriorityClass>(&class);
    let ns = round_trip::<Namespace>(include_str!("fixtures/namespace.json"));
    openapi_agrees::<k8s_openapi::api::core::v1::Namespace>(&ns);
}

#[test]
fn required_fields_are_always_written_and_empty_ones_omitted() {
    let list = PodList {
        kind: "PodList".into(),
        api_version: "v1".into(),
        metadata: Some(ListMeta::default()),
        items: vec![],
    };
    let json = serde_json::to_value(&list).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": []})
    );
    let pod: Pod = serde_json::from_str(r#"{"spec":{"containers":[{"name":""}]}}"#).unwrap();
    let json = serde_json::to_value(&pod).unwrap();
    assert_eq!(json, serde_json::json!({"spec": {"containers": [{"name": ""}]}}));
    let status = Status::default();
    assert_eq!(
        serde_json::to_value(&status).unwrap(),
        serde_json::json!({"metadata": {}})
    );
}

#[test]
fn nulls_read_as_empty_and_numbers_as_quantities() {
    let pod: Pod = serde_json::from_str(
        r#"{"metadata":{"labels":null,"name":null},"spec":{"containers":[{"name":"a","args":null,"resources":{"limits":{"cpu":1,"memory":"1Gi"}}}]}}"#,
    )
    .unwrap();
    let container = &pod.spec.unwrap().containers[0];
    assert!(container.args.is_empty());
    assert_eq!(container.resources.as_ref().unwrap().limits["cpu"].string, "1");
}

#[test]
fn malformed_json_is_an_error_not_a_panic() {
    for bad in [
        r#"{"metadata":{"creationTimestamp":"yesterday"}}"#,
        r#"{"spec":{"containers":[{"ports":[{"containerPort":"eighty"}]}]}}"#,
        r#"{"spec":{"containers":[{"livenessProbe":{"httpGet":{"port":99999999999}}}]}}"#,
        r#"{"spec":{"containers":{}}}"#,
        r#"[1,2,3]"#,
    ] {
        assert!(serde_json::from_str::<Pod>(bad).is_err(), "{bad}");
    }
}
