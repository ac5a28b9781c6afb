//! Generates the Rust types and gRPC stubs from `proto/`, and derives their Kubernetes JSON form.
//!
//! The `.proto` files are the single source of the object model. Each message in a `k8s.*`
//! package gets serde derives; each field is renamed to its protobuf `json_name` and omitted
//! from JSON when empty (Go's `omitempty`), unless it carries `(podium.required) = true`.
//! Quantity, IntOrString, Time and MicroTime get hand-written JSON impls in `src/json.rs`.

use std::path::PathBuf;

use prost_reflect::{Cardinality, FieldDescriptor, Kind, Value};

/// The files compiled into Rust, in dependency order.
const FILES: &[&str] = &[
    "k8s/meta.proto",
    "k8s/core.proto",
    "k8s/coordination.proto",
    "k8s/scheduling.proto",
    "k8s/runtime.proto",
    "podium/api.proto",
    "podium/agent.proto",
];

/// Messages whose JSON form is written by hand rather than derived.
const CUSTOM_JSON: &[&str] = &[
    "k8s.meta.v1.Quantity",
    "k8s.meta.v1.IntOrString",
    "k8s.meta.v1.Time",
    "k8s.meta.v1.MicroTime",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let mut compiler = protox::Compiler::new(["proto"])?;
    compiler.include_source_info(true).include_imports(false);
    compiler.open_files(FILES)?;
    let pool = compiler.descriptor_pool();
    let required = pool
        .get_extension_by_name("podium.required")
        .ok_or("podium.required option is not defined")?;

    let mut builder = tonic_prost_build::configure()
        .btree_map(".")
        .emit_rerun_if_changed(false);
    for message in pool.all_messages() {
        let name = message.full_name();
        if !name.starts_with("k8s.") || CUSTOM_JSON.contains(&name) || message.is_map_entry() {
            continue;
        }
        builder = builder.type_attribute(
            name,
            "#[derive(serde::Serialize, serde::Deserialize)] #[serde(default)]",
        );
        for field in message.fields() {
            if field.containing_oneof().is_some_and(|o| !o.is_synthetic()) {
                return Err(format!("{}: oneofs have no Kubernetes JSON form", field.full_name()).into());
            }
            if matches!(field.kind(), Kind::Enum(_)) {
                return Err(format!("{}: Kubernetes enums are strings", field.full_name()).into());
            }
            let is_required = matches!(field.options().get_extension(&required).as_ref(), Value::Bool(true));
            let path = format!("{name}.{}", field.name());
            builder = builder.field_attribute(path, serde_attribute(&field, is_required));
        }
    }
    let fds = compiler.file_descriptor_set();
    builder.compile_fds(fds)?;
    // Reflection and schema checks need the imports (options, descriptor.proto) too.
    compiler.include_imports(true);
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out_dir.join("descriptor.bin"), compiler.encode_file_descriptor_set())?;
    Ok(())
}

/// The serde attribute for one field: its JSON name, how a JSON null or absence reads, and
/// when it is left out.
fn serde_attribute(field: &FieldDescriptor, required: bool) -> String {
    let rename = format!("rename = \"{}\"", field.json_name());
    let presence = field.supports_presence();
    let skip = if required {
        None
    } else if presence {
        Some("Option::is_none")
    } else if field.is_map() {
        Some("std::collections::BTreeMap::is_empty")
    } else if field.cardinality() == Cardinality::Repeated {
        Some("Vec::is_empty")
    } else {
        Some("crate::json::is_zero")
    };
    let null = if !presence {
        ", deserialize_with = \"crate::json::null_as_default\""
    } else if required && matches!(field.kind(), Kind::Message(_)) {
        // A required struct is written as `{}` when unset, as Go writes a non-pointer struct.
        ", serialize_with = \"crate::json::or_default\""
    } else {
        ""
    };
    match skip {
        Some(skip) => format!("#[serde({rename}, skip_serializing_if = \"{skip}\"{null})]"),
        None => format!("#[serde({rename}{null})]"),
    }
}
