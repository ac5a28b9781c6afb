use proptest::prelude::*;
use serde_json::{Value, json};

use super::{PatchType, apply_patch};

fn pod() -> Value {
    serde_json::from_str(include_str!("../../../proto/tests/fixtures/pod.json")).unwrap()
}

fn small_pod() -> Value {
    json!({
        "kind": "Pod",
        "metadata": {"name": "p", "labels": {"app": "web", "tier": "fe"}},
        "spec": {"containers": [{"name": "c", "image": "old", "ports": [{"containerPort": 80}]}]},
    })
}

#[test]
fn content_types() {
    let cases = [
        ("application/json-patch+json", Some(PatchType::Json)),
        ("application/merge-patch+json", Some(PatchType::Merge)),
        (
            "application/strategic-merge-patch+json",
            Some(PatchType::StrategicMerge),
        ),
        ("application/apply-patch+yaml", Some(PatchType::Apply)),
        (
            "application/strategic-merge-patch+json; charset=utf-8",
            Some(PatchType::StrategicMerge),
        ),
        (" Application/Merge-Patch+JSON ;charset=UTF-8", Some(PatchType::Merge)),
        ("application/json", None),
        ("application/yaml", None),
        ("", None),
    ];
    for (content_type, want) in cases {
        assert_eq!(PatchType::from_content_type(content_type), want, "{content_type:?}");
        if let Some(patch_type) = want {
            assert_eq!(PatchType::from_content_type(patch_type.content_type()), want);
        }
    }
}

#[test]
fn json_patch() {
    let cases: Vec<(&str, Value, Value)> = vec![
        (
            "add a label",
            json!([{"op": "add", "path": "/metadata/labels/env", "value": "prod"}]),
            json!({"kind": "Pod", "metadata": {"name": "p", "labels": {"app": "web", "tier": "fe", "env": "prod"}},
                   "spec": {"containers": [{"name": "c", "image": "old", "ports": [{"containerPort": 80}]}]}}),
        ),
        (
            "replace an image, remove a label, test first",
            json!([
                {"op": "test", "path": "/spec/containers/0/name", "value": "c"},
                {"op": "replace", "path": "/spec/containers/0/image", "value": "new"},
                {"op": "remove", "path": "/metadata/labels/tier"},
            ]),
            json!({"kind": "Pod", "metadata": {"name": "p", "labels": {"app": "web"}},
                   "spec": {"containers": [{"name": "c", "image": "new", "ports": [{"containerPort": 80}]}]}}),
        ),
        (
            "append to a list, copy and move",
            json!([
                {"op": "add", "path": "/spec/containers/0/ports/-", "value": {"containerPort": 443}},
                {"op": "copy", "from": "/metadata/labels/app", "path": "/metadata/labels/copy"},
                {"op": "move", "from": "/metadata/labels/tier", "path": "/metadata/labels/layer"},
            ]),
            json!({"kind": "Pod", "metadata": {"name": "p", "labels": {"app": "web", "copy": "web", "layer": "fe"}},
                   "spec": {"containers": [{"name": "c", "image": "old",
                            "ports": [{"containerPort": 80}, {"containerPort": 443}]}]}}),
        ),
        (
            "a key with an escaped slash",
            json!([{"op": "add", "path": "/metadata/labels/example.com~1team", "value": "a"}]),
            json!({"kind": "Pod", "metadata": {"name": "p", "labels": {"app": "web", "tier": "fe", "example.com/team": "a"}},
                   "spec": {"containers": [{"name": "c", "image": "old", "ports": [{"containerPort": 80}]}]}}),
        ),
        ("no operations", json!([]), small_pod()),
    ];
    for (name, patch, want) in cases {
        let got = apply_patch("Pod", PatchType::Json, &small_pod(), patch.to_string().as_bytes());
        assert_eq!(got.unwrap_or_else(|e| panic!("{name}: {e}")), want, "{name}");
    }
}

#[test]
fn json_patch_errors() {
    let too_many = Value::Array(vec![json!({"op": "test", "path": "/kind", "value": "Pod"}); 10_001]);
    let copy_bomb = Value::Array(
        (0..40)
            .map(|i| json!({"op": "copy", "from": "/spec", "path": format!("/spec/x{i}")}))
            .collect(),
    );
    let cases: Vec<(&str, Vec<u8>, i32, &str, &str)> = vec![
        ("not JSON", b"[{".to_vec(), 400, "BadRequest", "invalid JSON patch"),
        (
            "an object",
            b"{\"op\": \"add\"}".to_vec(),
            400,
            "BadRequest",
            "expected a list of operations",
        ),
        (
            "an operation that is not an object",
            b"[1]".to_vec(),
            400,
            "BadRequest",
            "operation 0 is a number",
        ),
        (
            "replace a missing key",
            br#"[{"op": "replace", "path": "/metadata/labels/missing", "value": "x"}]"#.to_vec(),
            422,
            "Invalid",
            "jsonpatch replace operation does not apply: doc is missing path: \"/metadata/labels/missing\"",
        ),
        (
            "remove a missing key",
            br#"[{"op": "remove", "path": "/spec/missing"}]"#.to_vec(),
            422,
            "Invalid",
            "doc is missing path: \"/spec/missing\"",
        ),
        (
            "add under a missing parent",
            br#"[{"op": "add", "path": "/missing/phase", "value": "Running"}]"#.to_vec(),
            422,
            "Invalid",
            "doc is missing path: \"/missing/phase\"",
        ),
        (
            "an index past the end",
            br#"[{"op": "add", "path": "/spec/containers/5", "value": {}}]"#.to_vec(),
            422,
            "Invalid",
            "/spec/containers/5",
        ),
        (
            "a failed test",
            br#"[{"op": "test", "path": "/metadata/name", "value": "q"}]"#.to_vec(),
            422,
            "Invalid",
            "testing value \"/metadata/name\" failed",
        ),
        (
            "move from a missing path",
            br#"[{"op": "move", "from": "/nope", "path": "/x"}]"#.to_vec(),
            422,
            "Invalid",
            "doc is missing from path: \"/nope\"",
        ),
        (
            "move into itself",
            br#"[{"op": "move", "from": "/spec", "path": "/spec/x"}]"#.to_vec(),
            422,
            "Invalid",
            "inside itself",
        ),
        (
            "an unknown op",
            br#"[{"op": "merge", "path": "/spec"}]"#.to_vec(),
            422,
            "Invalid",
            "Unexpected kind: \"merge\"",
        ),
        (
            "no path",
            br#"[{"op": "add", "value": 1}]"#.to_vec(),
            422,
            "Invalid",
            "add operation missing path field",
        ),
        (
            "a path that is not a pointer",
            br#"[{"op": "add", "path": "metadata", "value": 1}]"#.to_vec(),
            422,
            "Invalid",
            "invalid \"path\"",
        ),
        (
            "no value",
            br#"[{"op": "replace", "path": "/kind"}]"#.to_vec(),
            422,
            "Invalid",
            "replace operation missing value field",
        ),
        (
            "no from",
            br#"[{"op": "copy", "path": "/kind"}]"#.to_vec(),
            422,
            "Invalid",
            "copy operation missing from field",
        ),
        (
            "too many operations",
            too_many.to_string().into_bytes(),
            413,
            "RequestEntityTooLarge",
            "The allowed maximum operations in a JSON patch is 10000, got 10001",
        ),
        (
            "copies that would grow the object without bound",
            copy_bomb.to_string().into_bytes(),
            422,
            "Invalid",
            "exceeding the limit",
        ),
    ];
    for (name, body, code, reason, message) in cases {
        let error = apply_patch("Pod", PatchType::Json, &pod(), &body).expect_err(name);
        assert_eq!((error.code(), error.reason()), (code, reason), "{name}: {error}");
        assert!(error.to_string().contains(message), "{name}: {error}");
    }
}

#[test]
fn json_patch_error_names_the_field() {
    let body = br#"[{"op": "replace", "path": "/metadata/labels/missing", "value": "x"}]"#;
    let error = apply_patch("Pod", PatchType::Json, &small_pod(), body).unwrap_err();
    let causes = &error.status.details.as_ref().unwrap().causes;
    assert_eq!(causes.len(), 1);
    assert_eq!(causes[0].field, "/metadata/labels/missing");
    assert!(causes[0].message.contains("doc is missing path"));
}

#[test]
fn merge_patch() {
    let cases: Vec<(&str, Value, Value)> = vec![
        (
            "set and delete labels",
            json!({"metadata": {"labels": {"tier": null, "env": "prod"}}}),
            json!({"kind": "Pod", "metadata": {"name": "p", "labels": {"app": "web", "env": "prod"}},
                   "spec": {"containers": [{"name": "c", "image": "old", "ports": [{"containerPort": 80}]}]}}),
        ),
        (
            "lists are replaced, not merged",
            json!({"spec": {"containers": [{"name": "d", "image": "new"}]}}),
            json!({"kind": "Pod", "metadata": {"name": "p", "labels": {"app": "web", "tier": "fe"}},
                   "spec": {"containers": [{"name": "d", "image": "new"}]}}),
        ),
        (
            "add a map where there was none, dropping its nulls",
            json!({"metadata": {"annotations": {"a": "1", "b": null}}}),
            json!({"kind": "Pod", "metadata": {"name": "p", "labels": {"app": "web", "tier": "fe"}, "annotations": {"a": "1"}},
                   "spec": {"containers": [{"name": "c", "image": "old", "ports": [{"containerPort": 80}]}]}}),
        ),
        ("an empty patch", json!({}), small_pod()),
    ];
    for (name, patch, want) in cases {
        let got = apply_patch("Pod", PatchType::Merge, &small_pod(), patch.to_string().as_bytes());
        assert_eq!(got.unwrap_or_else(|e| panic!("{name}: {e}")), want, "{name}");
    }

    for (body, message) in [
        (&b"{\"metadata\": "[..], "invalid JSON merge patch: EOF"),
        (&b"[]"[..], "expected an object, got a list"),
        (&b"null"[..], "expected an object, got null"),
        (&b"\"x\""[..], "expected an object, got a string"),
        (&b""[..], "invalid JSON merge patch"),
    ] {
        let error = apply_patch("Pod", PatchType::Merge, &small_pod(), body).unwrap_err();
        assert_eq!((error.code(), error.reason()), (400, "BadRequest"), "{error}");
        assert!(error.to_string().contains(message), "{error}");
    }
}

#[test]
fn server_side_apply_is_refused() {
    let body = br#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}"#;
    let error = apply_patch("Pod", PatchType::Apply, &small_pod(), body).unwrap_err();
    assert_eq!((error.code(), error.reason()), (415, "UnsupportedMediaType"));
    assert!(error.to_string().contains("server-side apply"), "{error}");
    assert!(error.to_string().contains("kubectl apply"), "{error}");
}

#[test]
fn the_original_is_left_alone() {
    let original = small_pod();
    let body =
        br#"[{"op": "remove", "path": "/metadata/labels/app"}, {"op": "test", "path": "/kind", "value": "Node"}]"#;
    assert!(apply_patch("Pod", PatchType::Json, &original, body).is_err());
    assert_eq!(original, small_pod());
}

/// Keys that reach the interesting code: directives and the fields lists merge on.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "$patch",
            "$retainKeys",
            "$setElementOrder/containers",
            "$setElementOrder/env",
            "$setElementOrder/finalizers",
            "$setElementOrder/",
            "$setElementOrder/x",
            "$deleteFromPrimitiveList/finalizers",
            "$deleteFromPrimitiveList/x",
            "metadata",
            "spec",
            "status",
            "labels",
            "finalizers",
            "containers",
            "env",
            "ports",
            "volumes",
            "tolerations",
            "conditions",
            "name",
            "containerPort",
            "type",
            "x",
        ])
        .prop_map(String::from),
        "[a-z$/]{0,4}",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (-3i64..3).prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop::sample::select(vec!["replace", "delete", "merge", "c", "name", "x", ""]).prop_map(Value::from),
        "[a-z]{0,3}".prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 96, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..5).prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

fn json_patch_operation() -> impl Strategy<Value = Value> {
    let path = prop_oneof![
        prop::sample::select(vec![
            "",
            "/",
            "/metadata",
            "/metadata/labels/app",
            "/spec/containers/0",
            "/spec/containers/-",
            "/spec/containers/01",
            "/spec/containers/99",
            "/spec",
            "/spec/x",
            "/~2",
            "/a~",
            "metadata",
        ])
        .prop_map(String::from),
        "(/[a-z0-9~-]{0,3}){0,4}",
    ];
    let op = prop::sample::select(vec!["add", "remove", "replace", "move", "copy", "test", "nope"]);
    (op, path.clone(), path, json_value(), any::<u8>()).prop_map(|(op, path, from, value, drop)| {
        let mut operation = json!({"op": op, "path": path, "from": from, "value": value});
        let map = operation.as_object_mut().unwrap();
        for (bit, field) in ["op", "path", "from", "value"].into_iter().enumerate() {
            if drop & (1 << bit) != 0 && drop & 0x80 != 0 {
                map.remove(field);
            }
        }
        operation
    })
}

const KINDS: [&str; 4] = ["Pod", "Node", "Namespace", "Lease"];
const TYPES: [PatchType; 4] = [
    PatchType::Json,
    PatchType::Merge,
    PatchType::StrategicMerge,
    PatchType::Apply,
];

/// Applies a patch every way there is; any error must be a client error, and nothing panics.
fn apply_every_way(original: &Value, body: &[u8]) {
    for kind in KINDS {
        for patch_type in TYPES {
            if let Err(error) = apply_patch(kind, patch_type, original, body) {
                assert!((400..500).contains(&error.code()), "{patch_type:?}: {error}");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..64)) {
        apply_every_way(&pod(), &body);
    }

    #[test]
    fn random_patches_never_panic(patch in json_value(), original in json_value()) {
        let body = patch.to_string();
        apply_every_way(&pod(), body.as_bytes());
        apply_every_way(&original, body.as_bytes());
    }

    #[test]
    fn random_pod_shaped_patches_never_panic(
        spec in prop::collection::vec((key(), json_value()), 0..4),
        containers in prop::collection::vec(json_value(), 0..4),
    ) {
        let mut spec: serde_json::Map<String, Value> = spec.into_iter().collect();
        spec.insert("containers".into(), Value::Array(containers));
        let body = json!({"spec": spec}).to_string();
        apply_every_way(&pod(), body.as_bytes());
    }

    #[test]
    fn random_json_patches_never_panic(operations in prop::collection::vec(json_patch_operation(), 0..6)) {
        let body = Value::Array(operations).to_string();
        apply_every_way(&pod(), body.as_bytes());
    }
}
