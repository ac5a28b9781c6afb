//! Kubernetes' strategic merge patch (`application/strategic-merge-patch+json`), the patch
//! `kubectl apply` and `kubectl patch` send: a JSON merge patch whose lists may merge with the
//! live lists instead of replacing them, steered by directives.
//!
//! Like `k8s.io/apimachinery/pkg/util/strategicpatch`, a map merges key by key (`null` deletes a
//! key), and a list merges or is replaced as the `schema` table says for that field:
//! - a list of maps with a merge key merges element by element, matched by that key;
//! - a list of primitives with the `merge` strategy merges as a set;
//! - any other list is replaced whole.
//!
//! Directives, which never reach the result:
//! - `"$patch": "replace"` in a map replaces the live map with the rest of the patch map; as an
//!   element of a merging list it replaces the live list with the patch's other elements.
//! - `"$patch": "delete"` in a map deletes the map; as an element of a merging list it deletes
//!   the live element with the same merge key.
//! - `"$patch": "merge"` is the default and changes nothing.
//! - `"$retainKeys": [...]` keeps only these keys of the live map (Kubernetes' `retainKeys`
//!   strategy, used for volumes so that switching a volume's source drops the old one).
//! - `"$setElementOrder/<list>": [...]` gives the order of the merged list: the listed elements
//!   come in that order; elements only the live list has keep their places relative to the
//!   listed ones, as Kubernetes places them.
//! - `"$deleteFromPrimitiveList/<list>": [...]` removes these values from a merging primitive
//!   list.
//!
//! Where this differs from Kubernetes, it is deliberate and noted at the spot: a directive never
//! leaks into the result (Kubernetes copies a patch value verbatim when the live object lacks the
//! field), `"$patch": "delete"` on a map removes the key rather than leaving `{}`, and errors
//! Kubernetes reports as 500 are 400s here.

#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::schema::{Field, Schema, Strategy};
use super::{PatchError, Result, excerpt, type_name};

const PATCH: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";

type Object = Map<String, Value>;

pub(super) fn apply(kind: &str, original: &Value, body: &[u8]) -> Result<Value> {
    let patch: Value = serde_json::from_slice(body)
        .map_err(|e| PatchError::malformed(format!("invalid strategic merge patch: {e}")))?;
    let Value::Object(patch) = patch else {
        return Err(PatchError::malformed(format!(
            "invalid strategic merge patch: expected an object, got {}",
            type_name(&patch)
        )));
    };
    let original = original.as_object().cloned().unwrap_or_default();
    let merged = merge_map(original, patch, Schema::for_kind(kind))?;
    Ok(Value::Object(merged.unwrap_or_default()))
}

/// Merges a patch map into a live map; `None` when the patch deletes the map.
fn merge_map(mut original: Object, mut patch: Object, schema: Schema) -> Result<Option<Object>> {
    if let Some(directive) = patch.remove(PATCH) {
        match directive.as_str() {
            Some("replace") => return merge_map(Object::new(), patch, schema),
            // Kubernetes leaves `{}` behind; the key going away is what the client asked for.
            Some("delete") => return Ok(None),
            Some("merge") => {}
            _ => return Err(unknown_patch_type(&directive, &patch)),
        }
    }
    if let Some(keys) = patch.remove(RETAIN_KEYS) {
        retain_keys(&mut original, &patch, keys)?;
    }

    // Lists with an order first: each is merged with its patch list, then put in order.
    let ordered: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER))
        .cloned()
        .collect();
    for directive in ordered {
        let Some(order) = patch.remove(&directive) else {
            continue;
        };
        let name = &directive[SET_ELEMENT_ORDER.len()..];
        let patch_list = patch.remove(name);
        let live_list = original.remove(name);
        if let Some(list) = set_element_order(name, live_list, patch_list, order, schema)? {
            original.insert(name.to_owned(), Value::Array(list));
        }
    }

    // Deletions from primitive lists last, so that they win over additions in the same patch.
    let mut deletions = Vec::new();
    for (key, value) in patch {
        if let Some(name) = key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            deletions.push((name.to_owned(), value));
            continue;
        }
        if value.is_null() {
            original.remove(&key);
            continue;
        }
        let field = schema.field(&key).unwrap_or(Field::UNKNOWN);
        let merged = match original.remove(&key) {
            Some(live) => merge_value(live, value, field)?,
            None => clean(value, field)?,
        };
        if let Some(merged) = merged {
            original.insert(key, merged);
        }
    }
    for (name, values) in deletions {
        delete_from_primitive_list(&mut original, &name, values)?;
    }
    Ok(Some(original))
}

/// Merges a patch value into the live value of one field.
fn merge_value(live: Value, patch: Value, field: Field) -> Result<Option<Value>> {
    match (live, patch) {
        (Value::Object(live), Value::Object(patch)) => Ok(merge_map(live, patch, field.schema)?.map(Value::Object)),
        (Value::Array(live), Value::Array(patch)) => {
            merge_list(live, patch, field).map(|list| Some(Value::Array(list)))
        }
        (_, patch) => clean(patch, field),
    }
}

/// A patch value for a field the live object lacks: the patch merged into nothing, so that its
/// directives are carried out rather than copied (Kubernetes copies it verbatim).
fn clean(patch: Value, field: Field) -> Result<Option<Value>> {
    match patch {
        Value::Object(patch) => Ok(merge_map(Object::new(), patch, field.schema)?.map(Value::Object)),
        Value::Array(patch) => merge_list(Vec::new(), patch, field).map(|list| Some(Value::Array(list))),
        scalar => Ok(Some(scalar)),
    }
}

/// The field of each element of a list field.
fn element_of(field: Field) -> Field<'static> {
    Field {
        schema: field.schema,
        ..Field::UNKNOWN
    }
}

/// Merges a patch list into a live list as the field's strategy says.
fn merge_list(live: Vec<Value>, patch: Vec<Value>, field: Field) -> Result<Vec<Value>> {
    if field.merges() {
        return merge_slice(live, patch, field);
    }
    // Replaced whole. Directive elements have nothing to act on in a list that does not merge.
    let mut list = Vec::with_capacity(patch.len());
    for value in patch {
        if !is_directive_element(&value) {
            list.extend(clean(value, element_of(field))?);
        }
    }
    Ok(list)
}

fn is_directive_element(value: &Value) -> bool {
    matches!(value, Value::Object(map) if map.contains_key(PATCH))
}

/// What a merging list holds: Kubernetes merges lists of maps and lists of primitives, never
/// lists of lists or a mixture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Elements {
    Maps,
    Primitives,
}

fn elements(live: &[Value], patch: &[Value]) -> Result<Option<Elements>> {
    let mut seen = None;
    for value in live.iter().chain(patch) {
        let this = match value {
            Value::Object(_) => Elements::Maps,
            Value::Array(_) => return Err(PatchError::inapplicable("", "lists of lists are not supported")),
            _ => Elements::Primitives,
        };
        if seen.is_some_and(|seen| seen != this) {
            return Err(PatchError::malformed(format!(
                "list element types are not identical: {} and {}",
                excerpt(&live),
                excerpt(&patch)
            )));
        }
        seen = Some(this);
    }
    Ok(seen)
}

/// Merges two lists with the `merge` strategy, then orders the result as Kubernetes does.
fn merge_slice(mut live: Vec<Value>, patch: Vec<Value>, field: Field) -> Result<Vec<Value>> {
    let Some(elements) = elements(&live, &patch)? else {
        return Ok(live);
    };
    if elements == Elements::Primitives {
        let mut seen = HashSet::new();
        let merged = live
            .iter()
            .chain(&patch)
            .filter(|v| seen.insert(identity(v)))
            .cloned()
            .collect();
        return Ok(order_merged(
            merged,
            &Positions::of(&patch, ""),
            &Positions::of(&live, ""),
            "",
        ));
    }

    let key = field.merge_key;
    if key.is_empty() {
        return Err(PatchError::malformed(format!(
            "cannot merge lists without merge key: {}",
            excerpt(&patch)
        )));
    }
    // Special elements first: deletions, and whether the live list is replaced.
    let mut replace = false;
    let mut deleted = HashSet::new();
    let mut plain = Vec::with_capacity(patch.len());
    for value in patch {
        let Value::Object(mut map) = value else { continue };
        let Some(directive) = map.remove(PATCH) else {
            plain.push(map);
            continue;
        };
        match directive.as_str() {
            Some("delete") => match map.get(key) {
                Some(target) => {
                    deleted.insert(identity(target));
                }
                None => return Err(no_merge_key(&map, key)),
            },
            Some("replace") => replace = true,
            Some("merge") => plain.push(map),
            _ => return Err(unknown_patch_type(&directive, &map)),
        }
    }
    if replace {
        live.clear();
    }
    live.retain(|element| element_identity(element, key).is_none_or(|id| !deleted.contains(&id)));
    let server = Positions::of(&live, key);

    let mut merged = live;
    let mut at = server.clone();
    let mut named = Positions::default();
    let mut dropped = HashSet::new();
    for map in plain {
        let Some(id) = map.get(key).map(identity) else {
            return Err(no_merge_key(&map, key));
        };
        named.add(id.clone());
        match at.get(&id) {
            Some(index) => {
                let Value::Object(live) = std::mem::take(&mut merged[index]) else {
                    continue;
                };
                match merge_map(live, map, field.schema)? {
                    Some(result) => merged[index] = Value::Object(result),
                    None => {
                        dropped.insert(index);
                    }
                }
            }
            None => {
                if let Some(element) = clean(Value::Object(map), element_of(field))? {
                    at.add_at(id, merged.len());
                    merged.push(element);
                }
            }
        }
    }
    let merged = merged
        .into_iter()
        .enumerate()
        .filter(|(index, _)| !dropped.contains(index))
        .map(|(_, element)| element)
        .collect();
    Ok(order_merged(merged, &named, &server, key))
}

/// Handles `$setElementOrder/<name>`: merges the live and patch lists, then orders the result.
/// `None` when neither the live object nor the patch has the list.
fn set_element_order(
    name: &str,
    live: Option<Value>,
    patch: Option<Value>,
    order: Value,
    schema: Schema,
) -> Result<Option<Vec<Value>>> {
    let bad = |what: &str| PatchError::malformed(format!("invalid patch format of setElementOrder list: {what}"));
    if name.is_empty() {
        return Err(bad("no list named after the prefix"));
    }
    let Value::Array(order) = order else {
        return Err(bad(&format!(
            "{SET_ELEMENT_ORDER}{name} is {}, not a list",
            type_name(&order)
        )));
    };
    let as_list = |value: Option<Value>, whose: &str| match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(list)) => Ok(Some(list)),
        Some(other) => Err(PatchError::malformed(format!(
            "expected a list for {name} in the {whose}, got {}",
            type_name(&other)
        ))),
    };
    let live = as_list(live, "live object")?;
    let patch = as_list(patch, "patch")?;
    if live.is_none() && patch.is_none() {
        return Ok(None);
    }
    let field = schema.field(name).unwrap_or_else(|| field_from_order(&order));
    if !field.merges() {
        // An order for a list that is replaced anyway: the patch list (or the live one) stands.
        return match patch {
            Some(patch) => merge_list(Vec::new(), patch, field).map(Some),
            None => Ok(live),
        };
    }
    let key = field.merge_key;
    if let Some(element) = order.iter().find(|e| !key.is_empty() && e.get(key).is_none()) {
        return Err(match element {
            Value::Object(map) => no_merge_key(map, key),
            other => bad(&format!("expected maps, got {}", type_name(other))),
        });
    }
    let live = live.unwrap_or_default();
    let patch = patch.unwrap_or_default();
    check_patch_follows_order(&patch, &order, key)?;
    let server = Positions::of(&live, key);
    let merged = merge_list(live, patch, field)?;
    Ok(Some(order_merged(merged, &Positions::of(&order, key), &server, key)))
}

/// For a field the schema does not know, what the client's `$setElementOrder` list implies: a
/// list of one-key maps names the merge key, a list of primitives is a primitive merge list. The
/// client computed the patch from its own copy of the schema, so following it merges what it
/// meant to merge; kinds without a table thus still take `kubectl apply` patches correctly.
fn field_from_order(order: &[Value]) -> Field<'_> {
    let merge_key = match order.first() {
        Some(Value::Object(first)) if first.len() == 1 => first.keys().next().map(String::as_str),
        Some(Value::String(_) | Value::Number(_) | Value::Bool(_)) => None,
        _ => return Field::UNKNOWN,
    };
    let consistent = order.iter().all(|element| match (merge_key, element) {
        (Some(key), Value::Object(map)) => map.len() == 1 && map.contains_key(key),
        (None, element) => matches!(element, Value::String(_) | Value::Number(_) | Value::Bool(_)),
        _ => false,
    });
    if !consistent {
        return Field::UNKNOWN;
    }
    Field {
        strategy: Strategy::Merge,
        merge_key: merge_key.unwrap_or_default(),
        ..Field::UNKNOWN
    }
}

/// Kubernetes' check that the patch list names its elements in the order the directive gives.
fn check_patch_follows_order(patch: &[Value], order: &[Value], key: &str) -> Result<()> {
    let mut wanted = order.iter().map(|element| element_identity(element, key));
    for element in patch.iter().filter(|e| !is_directive_element(e)) {
        let id = element_identity(element, key);
        if id.is_none() || !wanted.any(|w| w == id) {
            return Err(PatchError::malformed(format!(
                "invalid patch format of setElementOrder list: the order in patch list {} doesn't match \
                 {SET_ELEMENT_ORDER} list {}",
                excerpt(&patch),
                excerpt(&order)
            )));
        }
    }
    Ok(())
}

/// Orders a merged list as Kubernetes' `normalizeElementOrder` does: the elements the patch (or
/// its order directive) names come in that order; the others, which only the live list has, keep
/// their live order and are slotted in before the first named element that comes after them in
/// the live list. New elements have no live position, so the live-only ones go after them.
fn order_merged(merged: Vec<Value>, named: &Positions, server: &Positions, key: &str) -> Vec<Value> {
    let mut in_patch = Vec::new();
    let mut server_only = Vec::new();
    for element in merged {
        let id = element_identity(&element, key);
        let live_position = id.as_ref().and_then(|id| server.get(id));
        match id.as_ref().and_then(|id| named.get(id)) {
            Some(position) => in_patch.push((position, live_position, element)),
            None => server_only.push((live_position, element)),
        }
    }
    in_patch.sort_by_key(|(position, ..)| *position);
    server_only.sort_by_key(|(live_position, _)| *live_position);

    let mut result = Vec::with_capacity(in_patch.len() + server_only.len());
    let mut in_patch = in_patch.into_iter().peekable();
    let mut server_only = server_only.into_iter().peekable();
    loop {
        let live_first = match (server_only.peek(), in_patch.peek()) {
            (Some(_), None) => true,
            (Some((Some(left), _)), Some((_, Some(right), _))) => left < right,
            _ => false,
        };
        let next = if live_first {
            server_only.next().map(|(_, element)| element)
        } else {
            in_patch.next().map(|(.., element)| element)
        };
        match next {
            Some(element) => result.push(element),
            None => break,
        }
    }
    result
}

/// `$retainKeys`: drops the live keys the list does not name. The patch may set only keys it
/// names.
fn retain_keys(original: &mut Object, patch: &Object, keys: Value) -> Result<()> {
    let bad = |what: String| PatchError::malformed(format!("invalid patch format of retainKeys: {what}"));
    let Value::Array(keys) = keys else {
        return Err(bad(format!("{RETAIN_KEYS} is {}, not a list", type_name(&keys))));
    };
    let keys = keys
        .iter()
        .map(|key| {
            key.as_str()
                .ok_or_else(|| bad(format!("{} is not a field name", excerpt(key))))
        })
        .collect::<Result<HashSet<&str>>>()?;
    let unlisted = patch.iter().find(|(key, value)| {
        !value.is_null()
            && !key.starts_with(SET_ELEMENT_ORDER)
            && !key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
            && !keys.contains(key.as_str())
    });
    if let Some((key, _)) = unlisted {
        return Err(bad(format!(
            "the patch sets {key:?}, which {RETAIN_KEYS} does not list"
        )));
    }
    original.retain(|key, _| keys.contains(key.as_str()));
    Ok(())
}

/// `$deleteFromPrimitiveList/<name>`: removes the given values from a live list.
fn delete_from_primitive_list(original: &mut Object, name: &str, values: Value) -> Result<()> {
    let bad = |what: String| PatchError::malformed(format!("invalid patch format of primitive list: {what}"));
    let Value::Array(values) = values else {
        return Err(bad(format!(
            "{DELETE_FROM_PRIMITIVE_LIST}{name} is {}, not a list",
            type_name(&values)
        )));
    };
    if let Some(value) = values.iter().find(|v| v.is_object() || v.is_array()) {
        return Err(bad(format!("{} is not a primitive", excerpt(value))));
    }
    let doomed: HashSet<String> = values.iter().map(identity).collect();
    if let Some(Value::Array(live)) = original.get_mut(name) {
        live.retain(|element| !doomed.contains(&identity(element)));
    }
    Ok(())
}

/// Where elements sit in a list, by identity (first occurrence wins): lookups stay cheap on long
/// lists, so a large patch costs time in proportion to its size.
#[derive(Debug, Clone, Default)]
struct Positions(HashMap<String, usize>);

impl Positions {
    /// The index of each element of a list.
    fn of(list: &[Value], key: &str) -> Positions {
        let mut positions = Positions::default();
        for (index, element) in list.iter().enumerate() {
            if let Some(id) = element_identity(element, key) {
                positions.add_at(id, index);
            }
        }
        positions
    }

    /// Records the next element of a list being built, unless an earlier one has the same
    /// identity.
    fn add(&mut self, id: String) {
        let next = self.0.len();
        self.0.entry(id).or_insert(next);
    }

    fn add_at(&mut self, id: String, index: usize) {
        self.0.entry(id).or_insert(index);
    }

    fn get(&self, id: &str) -> Option<usize> {
        self.0.get(id).copied()
    }
}

/// Who an element of a merging list is: its merge key's value, or itself for a primitive.
fn element_identity(element: &Value, key: &str) -> Option<String> {
    if key.is_empty() {
        Some(identity(element))
    } else {
        element.get(key).map(identity)
    }
}

/// A value as text for lookups, with `80` and `80.0` alike (Go decodes JSON numbers as `float64`).
fn identity(value: &Value) -> String {
    match value {
        Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), |f| format!("{f:e}")),
        other => other.to_string(),
    }
}

fn unknown_patch_type(directive: &Value, map: &Object) -> PatchError {
    let shown = directive.as_str().map_or_else(|| excerpt(directive), str::to_owned);
    PatchError::malformed(format!(
        "unknown patch type: {shown} in map: {}: {PATCH} must be \"replace\", \"delete\" or \"merge\"",
        excerpt(map)
    ))
}

fn no_merge_key(map: &Object, key: &str) -> PatchError {
    PatchError::malformed(format!(
        "map: {} does not contain declared merge key: {key}",
        excerpt(map)
    ))
}
