//! Which JSON fields the object model declares, for `fieldValidation=Strict` and `Warn`.
//!
//! serde ignores fields it does not know, as Kubernetes' default decoding does. Strict
//! validation must instead name them, and name fields given twice. The schema is the one the
//! types come from: the `.proto` descriptors compiled into `podium-proto`.

use std::collections::HashSet;
use std::fmt;
use std::sync::OnceLock;

use prost_reflect::{DescriptorPool, Kind, MessageDescriptor};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// Messages whose JSON is a scalar: nothing inside them is a field.
const SCALAR_MESSAGES: [&str; 4] = [
    "k8s.meta.v1.Quantity",
    "k8s.meta.v1.IntOrString",
    "k8s.meta.v1.Time",
    "k8s.meta.v1.MicroTime",
];

fn pool() -> Option<&'static DescriptorPool> {
    static POOL: OnceLock<Option<DescriptorPool>> = OnceLock::new();
    POOL.get_or_init(|| DescriptorPool::decode(podium_proto::FILE_DESCRIPTOR_SET).ok())
        .as_ref()
}

/// The paths of fields in `value` that message `message` (a full protobuf name such as
/// `k8s.core.v1.Pod`) does not declare, in Kubernetes' notation (`spec.containers[0].imagee`).
pub fn unknown_fields(message: &str, value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(descriptor) = pool().and_then(|p| p.get_message_by_name(message)) {
        walk(&descriptor, value, "", &mut out);
    }
    out
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn walk(message: &MessageDescriptor, value: &Value, path: &str, out: &mut Vec<String>) {
    if SCALAR_MESSAGES.contains(&message.full_name()) {
        return;
    }
    let Value::Object(map) = value else { return };
    for (key, child) in map {
        let here = join(path, key);
        let Some(field) = message.fields().find(|f| f.json_name() == key) else {
            out.push(here);
            continue;
        };
        let Kind::Message(inner) = field.kind() else { continue };
        if field.is_map() {
            // Map values: the entry message's `value` field.
            let Some(Kind::Message(value_type)) = inner.get_field_by_name("value").map(|f| f.kind()) else {
                continue;
            };
            if let Value::Object(entries) = child {
                for (k, v) in entries {
                    walk(&value_type, v, &format!("{here}[{k}]"), out);
                }
            }
        } else if field.is_list() {
            if let Value::Array(items) = child {
                for (i, item) in items.iter().enumerate() {
                    walk(&inner, item, &format!("{here}[{i}]"), out);
                }
            }
        } else {
            walk(&inner, child, &here, out);
        }
    }
}

/// The paths of object keys given more than once in a JSON document.
pub fn duplicate_fields(json: &[u8]) -> Result<Vec<String>, serde_json::Error> {
    let mut out = Vec::new();
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    Walker {
        path: String::new(),
        out: &mut out,
    }
    .deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(out)
}

/// Walks any JSON value, recording duplicate keys under their path.
struct Walker<'a> {
    path: String,
    out: &'a mut Vec<String>,
}

impl<'de> DeserializeSeed<'de> for Walker<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walker<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        while seq
            .next_element_seed(Walker {
                path: format!("{}[{i}]", self.path),
                out: self.out,
            })?
            .is_some()
        {
            i += 1;
        }
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let here = join(&self.path, &key);
            if !seen.insert(key) {
                self.out.push(here.clone());
            }
            map.next_value_seed(Walker {
                path: here,
                out: self.out,
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn unknown_fields_are_named_by_path() {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "x", "labelz": {}},
            "spec": {"containers": [{"name": "a", "imagee": "busybox", "resources": {"limits": {"cpu": "1"}}}],
                     "overhead": {"cpu": "1"}},
            "status": {"phase": "Running", "bogus": 1}
        });
        assert_eq!(
            unknown_fields("k8s.core.v1.Pod", &pod),
            ["metadata.labelz", "spec.containers[0].imagee", "status.bogus"]
        );
    }

    #[test]
    fn a_complete_fixture_has_no_unknown_fields() {
        let pod: Value = serde_json::from_str(include_str!("../../proto/tests/fixtures/pod.json")).unwrap();
        assert!(unknown_fields("k8s.core.v1.Pod", &pod).is_empty());
        let node: Value = serde_json::from_str(include_str!("../../proto/tests/fixtures/node.json")).unwrap();
        assert!(unknown_fields("k8s.core.v1.Node", &node).is_empty());
    }

    #[test]
    fn duplicate_keys_are_found_at_any_depth() {
        let json = br#"{"a":1,"b":{"c":1,"c":2},"d":[{"e":1,"e":1}],"a":2}"#;
        assert_eq!(duplicate_fields(json).unwrap(), ["b.c", "d[0].e", "a"]);
        assert!(duplicate_fields(b"{").is_err());
        assert!(duplicate_fields(br#"{"a":1} trailing"#).is_err());
    }
}
