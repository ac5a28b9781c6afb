//! RFC 6902 JSON Patch (`application/json-patch+json`): a list of `add`, `remove`, `replace`,
//! `move`, `copy` and `test` operations, applied in order, all or nothing.
//!
//! The `json-patch` crate applies the operations; this file reads them and words the errors the
//! way Kubernetes (which uses `evanphx/json-patch`) does. As there, a body that is not a JSON list
//! of objects is a 400, and an operation that cannot be carried out (an unknown `op`, a missing
//! path, a failed `test`) is a 422. Like the apiserver, it refuses more than 10000 operations and
//! bounds how much `copy` may grow the document, so a small patch cannot build a huge object.

use json_patch::jsonptr::PointerBuf;
use json_patch::{
    AddOperation, CopyOperation, MoveOperation, PatchErrorKind, PatchOperation, RemoveOperation, ReplaceOperation,
    TestOperation,
};
use serde_json::{Map, Value};

use super::{PatchError, Result, type_name};

/// Kubernetes' `maxJSONPatchOperations`.
const MAX_OPERATIONS: usize = 10_000;

/// How many bytes (as JSON) all `copy` operations of one patch may add together.
const MAX_COPIED_BYTES: usize = 3 * 1024 * 1024;

pub(super) fn apply(original: &Value, body: &[u8]) -> Result<Value> {
    let patch: Value =
        serde_json::from_slice(body).map_err(|e| PatchError::malformed(format!("invalid JSON patch: {e}")))?;
    let Value::Array(operations) = patch else {
        return Err(PatchError::malformed(format!(
            "invalid JSON patch: expected a list of operations, got {}",
            type_name(&patch)
        )));
    };
    if operations.len() > MAX_OPERATIONS {
        return Err(PatchError::TooLarge(format!(
            "The allowed maximum operations in a JSON patch is {MAX_OPERATIONS}, got {}",
            operations.len()
        )));
    }
    let operations = operations
        .into_iter()
        .enumerate()
        .map(|(index, operation)| match operation {
            Value::Object(fields) => Ok(fields),
            other => Err(PatchError::malformed(format!(
                "invalid JSON patch: operation {index} is {}, not an object",
                type_name(&other)
            ))),
        })
        .collect::<Result<Vec<_>>>()?;

    let mut document = original.clone();
    let mut copied_bytes = 0;
    for (index, fields) in operations.into_iter().enumerate() {
        let operation = read_operation(index, fields)?;
        if let PatchOperation::Copy(copy) = &operation {
            let size = document
                .pointer(copy.from.as_str())
                .and_then(|source| serde_json::to_vec(source).ok())
                .map_or(0, |json| json.len());
            copied_bytes += size;
            if copied_bytes > MAX_COPIED_BYTES {
                return Err(PatchError::inapplicable(
                    copy.path.as_str(),
                    format!(
                        "unable to complete the copy, the accumulated size increase of copy is {copied_bytes}, \
                         exceeding the limit {MAX_COPIED_BYTES}"
                    ),
                ));
            }
        }
        // Nothing to undo on failure: the whole copy is dropped.
        json_patch::patch_unsafe(&mut document, std::slice::from_ref(&operation))
            .map_err(|error| explain(&operation, error.kind))?;
    }
    Ok(document)
}

/// One operation from its JSON fields, checked the way applying it would check them.
fn read_operation(index: usize, mut fields: Map<String, Value>) -> Result<PatchOperation> {
    let op = match fields.remove("op") {
        Some(Value::String(op)) => op,
        Some(other) => {
            return Err(PatchError::inapplicable(
                "op",
                format!("operation {index}: \"op\" must be a string, got {}", type_name(&other)),
            ));
        }
        None => {
            return Err(PatchError::inapplicable(
                "op",
                format!("operation {index} has no \"op\""),
            ));
        }
    };
    let mut pointer = |name: &str| -> Result<PointerBuf> {
        match fields.remove(name) {
            Some(Value::String(text)) => PointerBuf::parse(text.as_str()).map_err(|e| {
                PatchError::inapplicable(
                    text.as_str(),
                    format!("{op} operation: invalid \"{name}\" {text:?}: {e}"),
                )
            }),
            Some(other) => Err(PatchError::inapplicable(
                name,
                format!("{op} operation: \"{name}\" must be a string, got {}", type_name(&other)),
            )),
            None => Err(PatchError::inapplicable(
                name,
                format!("{op} operation missing {name} field"),
            )),
        }
    };
    let path = pointer("path")?;
    let operation = match op.as_str() {
        "remove" => PatchOperation::Remove(RemoveOperation { path }),
        "move" => PatchOperation::Move(MoveOperation {
            from: pointer("from")?,
            path,
        }),
        "copy" => PatchOperation::Copy(CopyOperation {
            from: pointer("from")?,
            path,
        }),
        "add" | "replace" | "test" => {
            let Some(value) = fields.remove("value") else {
                return Err(PatchError::inapplicable(
                    path.as_str(),
                    format!("{op} operation missing value field"),
                ));
            };
            match op.as_str() {
                "add" => PatchOperation::Add(AddOperation { path, value }),
                "replace" => PatchOperation::Replace(ReplaceOperation { path, value }),
                _ => PatchOperation::Test(TestOperation { path, value }),
            }
        }
        _ => {
            return Err(PatchError::inapplicable(
                "op",
                format!("Unexpected kind: {op:?} in operation {index}: want add, remove, replace, move, copy or test"),
            ));
        }
    };
    Ok(operation)
}

/// The error for an operation that failed, in `evanphx/json-patch`'s words.
fn explain(operation: &PatchOperation, kind: PatchErrorKind) -> PatchError {
    let (op, from) = match operation {
        PatchOperation::Add(_) => ("add", None),
        PatchOperation::Remove(_) => ("remove", None),
        PatchOperation::Replace(_) => ("replace", None),
        PatchOperation::Move(m) => ("move", Some(m.from.as_str())),
        PatchOperation::Copy(c) => ("copy", Some(c.from.as_str())),
        PatchOperation::Test(_) => ("test", None),
    };
    let path = operation.path().as_str();
    match kind {
        PatchErrorKind::TestFailed => {
            PatchError::inapplicable(path, format!("testing value {path:?} failed: test failed"))
        }
        PatchErrorKind::InvalidFromPointer => {
            let from = from.unwrap_or_default();
            PatchError::inapplicable(
                from,
                format!("jsonpatch {op} operation does not apply: doc is missing from path: {from:?}"),
            )
        }
        PatchErrorKind::CannotMoveInsideItself => PatchError::inapplicable(
            path,
            format!(
                "jsonpatch move operation does not apply: cannot move {:?} inside itself to {path:?}",
                from.unwrap_or_default()
            ),
        ),
        _ => PatchError::inapplicable(
            path,
            format!("jsonpatch {op} operation does not apply: doc is missing path: {path:?}"),
        ),
    }
}
