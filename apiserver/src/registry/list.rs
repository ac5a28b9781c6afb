//! List: label and field selectors, limit/continue paging, resourceVersion semantics.

use std::time::Duration;

use podium_api::selector::{FieldSelector, LabelSelector};
use podium_api::{ApiError, Resource};
use podium_proto::k8s::meta::v1::ListMeta;

use super::{Api, Kind, Result, prefix};
use crate::store::Rv;

/// The query of a list.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    pub label_selector: String,
    pub field_selector: String,
    /// Page size; 0 = everything.
    pub limit: i64,
    pub continue_token: String,
    pub resource_version: String,
}

/// Parsed selectors for one kind.
#[derive(Debug, Clone)]
pub struct Filter {
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Filter {
    /// Parses both selectors; a bad one is a 400 naming it.
    pub fn new<K: Resource>(label_selector: &str, field_selector: &str) -> Result<Self> {
        let labels = LabelSelector::parse(label_selector)
            .map_err(|e| ApiError::bad_request(format!("unable to parse labelSelector {label_selector:?}: {e}")))?;
        let fields = FieldSelector::parse(field_selector)
            .map_err(|e| ApiError::bad_request(format!("unable to parse fieldSelector {field_selector:?}: {e}")))?;
        fields
            .check_fields(&K::field_selector_fields())
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        Ok(Filter { labels, fields })
    }

    /// A label every match must carry (`key=value`), if the selector has one: lists read only
    /// the objects the label index holds for it.
    pub fn required_label(&self) -> Option<(&str, &str)> {
        self.labels.requirements().iter().find_map(|r| {
            let key = r.key();
            self.labels.exact_match_value(key).map(|value| (key, value))
        })
    }

    pub fn matches<K: Resource>(&self, obj: &K) -> bool {
        let empty = Default::default();
        self.labels.matches(obj.labels().unwrap_or(&empty)) && self.fields.matches(|f| obj.selectable_field(f))
    }
}

/// Reads a resourceVersion parameter: "" and "0" mean none.
pub fn parse_resource_version(value: &str) -> Result<Option<Rv>> {
    match value {
        "" | "0" => Ok(None),
        v => v
            .parse::<Rv>()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("invalid resource version: {v}"))),
    }
}

impl Api {
    /// Lists a kind in a namespace (or all namespaces, with an empty one).
    pub async fn list<K: Kind>(&self, namespace: &str, options: &ListOptions) -> Result<K::List> {
        let filter = Filter::new::<K>(&options.label_selector, &options.field_selector)?;
        let (items, rv, next) = self.list_filtered::<K>(namespace, &filter, options).await?;
        let metadata = ListMeta {
            resource_version: rv.to_string(),
            r#continue: next.map(|key| encode_continue(rv, &key)).unwrap_or_default(),
            ..Default::default()
        };
        Ok(K::new_list(items, metadata))
    }

    /// Every object of a kind in a namespace, unfiltered and unpaged.
    pub fn list_all<K: Kind>(&self, namespace: &str) -> Result<Vec<K>> {
        let mut items = Vec::new();
        self.cache
            .kind::<K>()
            .scan(&prefix::<K>(namespace), None, None, |_, obj| {
                items.push(obj.clone());
                true
            });
        Ok(items.into_iter().map(|obj| (*obj).clone()).collect())
    }

    /// Matching objects, the resourceVersion they are consistent with, and the key to
    /// continue after when the limit cut the list short.
    pub(super) async fn list_filtered<K: Kind>(
        &self,
        namespace: &str,
        filter: &Filter,
        options: &ListOptions,
    ) -> Result<(Vec<K>, Rv, Option<String>)> {
        let prefix = prefix::<K>(namespace);
        let (start_after, token_rv) = if options.continue_token.is_empty() {
            (None, None)
        } else {
            let (rv, key) = decode_continue(&options.continue_token)?;
            if !key.starts_with(&prefix) {
                return Err(ApiError::bad_request("continue key is not valid for this list"));
            }
            if rv < self.store.oldest_rv() {
                return Err(ApiError::expired(CONTINUE_EXPIRED));
            }
            (Some(key), Some(rv))
        };
        if let Some(min) = parse_resource_version(&options.resource_version)? {
            self.wait_for_rv(min).await?;
        }
        // Read before the scan: the snapshot is at least this new, so a watch from it misses
        // nothing (at worst it repeats a change the list already showed).
        let rv = token_rv.unwrap_or_else(|| self.cache.rv());
        let limit = usize::try_from(options.limit.max(0)).unwrap_or(usize::MAX);
        let mut matched = Vec::new();
        let mut next = None;
        self.cache
            .kind::<K>()
            .scan(&prefix, start_after.as_deref(), filter.required_label(), |key, obj| {
                if limit > 0 && matched.len() == limit {
                    // One more match exists beyond the page only if something is left at all.
                    next = Some(String::new());
                    return false;
                }
                if filter.matches(obj.as_ref()) {
                    matched.push((key.to_owned(), obj.clone()));
                }
                true
            });
        // The page continues after its last item.
        let next = next.and_then(|_| matched.last().map(|(key, _)| key.clone()));
        Ok((matched.into_iter().map(|(_, obj)| (*obj).clone()).collect(), rv, next))
    }

    /// Waits briefly for the store to reach a resourceVersion a client has seen.
    async fn wait_for_rv(&self, min: Rv) -> Result<()> {
        for _ in 0..30 {
            if self.cache.rv() >= min {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(ApiError::timeout(format!(
            "Too large resource version: {min}, current: {}",
            self.cache.rv()
        )))
    }
}

const CONTINUE_EXPIRED: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

/// The continue token: the list's resourceVersion and the last key returned, hex-encoded so
/// it needs no escaping in a URL.
fn encode_continue(rv: Rv, key: &str) -> String {
    format!("{rv}:{key}").bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_continue(token: &str) -> Result<(Rv, String)> {
    let invalid = || ApiError::bad_request(format!("continue key is not valid: {token}"));
    if !token.len().is_multiple_of(2) {
        return Err(invalid());
    }
    let bytes: Option<Vec<u8>> = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(token.get(i..i + 2)?, 16).ok())
        .collect();
    let text = String::from_utf8(bytes.ok_or_else(invalid)?).map_err(|_| invalid())?;
    let (rv, key) = text.split_once(':').ok_or_else(invalid)?;
    Ok((rv.parse().map_err(|_| invalid())?, key.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip_and_reject_garbage() {
        let token = encode_continue(42, "pods/default/web-1");
        assert_eq!(decode_continue(&token).unwrap(), (42, "pods/default/web-1".to_owned()));
        for bad in ["zz", "abc", "", "3a"] {
            assert_eq!(decode_continue(bad).unwrap_err().code(), 400, "{bad}");
        }
    }
}
