//! RFC 7386 JSON Merge Patch (`application/merge-patch+json`): objects merge recursively, `null`
//! deletes a key, and anything else (lists included) replaces what was there.
//!
//! RFC 7386 lets a patch that is not an object replace the whole document; an API object must
//! stay an object, so such a patch is refused with 400, as Kubernetes refuses it.

use serde_json::Value;

use super::{PatchError, Result, type_name};

pub(super) fn apply(original: &Value, body: &[u8]) -> Result<Value> {
    let patch: Value =
        serde_json::from_slice(body).map_err(|e| PatchError::malformed(format!("invalid JSON merge patch: {e}")))?;
    if !patch.is_object() {
        return Err(PatchError::malformed(format!(
            "invalid JSON merge patch: expected an object, got {}",
            type_name(&patch)
        )));
    }
    let mut patched = original.clone();
    json_patch::merge(&mut patched, &patch);
    Ok(patched)
}
