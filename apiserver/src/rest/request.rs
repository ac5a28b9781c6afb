//! Reading a REST request: which resource a path names (Kubernetes' RequestInfo), the query
//! parameters, and what the client accepts.

use axum::http::HeaderMap;
use axum::http::header::ACCEPT;
use podium_api::ApiError;

/// What a resource path names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestInfo {
    /// The API group; empty for the core group.
    pub group: String,
    pub namespace: String,
    pub resource: String,
    pub name: String,
    pub subresource: String,
}

/// Namespace subresources, which `/namespaces/{name}/{sub}` names instead of a resource.
const NAMESPACE_SUBRESOURCES: [&str; 2] = ["status", "finalize"];

impl RequestInfo {
    /// Parses a request path: `/api/v1/...` or `/apis/{group}/v1/...`.
    pub fn parse(path: &str) -> Option<Self> {
        let (group, rest) = if let Some(rest) = path.strip_prefix("/api/v1/") {
            (String::new(), rest)
        } else {
            let rest = path.strip_prefix("/apis/")?;
            let (group, rest) = rest.split_once('/')?;
            (group.to_owned(), rest.strip_prefix("v1/")?)
        };
        let mut parts: Vec<&str> = rest.split('/').collect();
        if parts.last() == Some(&"") {
            parts.pop();
        }
        if parts.iter().any(|p| p.is_empty()) || parts.is_empty() {
            return None;
        }
        let mut info = RequestInfo {
            group,
            ..Default::default()
        };
        if parts[0] == "namespaces" && parts.len() > 1 {
            info.namespace = parts[1].to_owned();
            if parts.len() > 2 && !NAMESPACE_SUBRESOURCES.contains(&parts[2]) {
                parts.drain(..2);
            }
        }
        if parts.len() > 3 {
            return None;
        }
        info.resource = parts[0].to_owned();
        info.name = parts.get(1).map(|s| (*s).to_owned()).unwrap_or_default();
        info.subresource = parts.get(2).map(|s| (*s).to_owned()).unwrap_or_default();
        if info.resource == "namespaces" {
            info.namespace.clear();
        }
        Some(info)
    }
}

/// Decoded query parameters, in order (some, such as exec's `command`, repeat).
#[derive(Debug, Clone, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub fn parse(query: Option<&str>) -> Self {
        let pairs = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
        Query { pairs }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Every value of a repeated parameter, in order.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub fn get_or_empty(&self, key: &str) -> String {
        self.get(key).unwrap_or_default().to_owned()
    }

    /// A boolean parameter: `true` or `1`.
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1"))
    }

    /// An integer parameter; a malformed one is a 400 naming it.
    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| ApiError::bad_request(format!("invalid value {v:?} for {key}"))),
        }
    }
}

/// Whether the client asked for a `meta.k8s.io/v1` Table (`kubectl get`).
pub fn wants_table(headers: &HeaderMap) -> bool {
    let Some(accept) = headers.get(ACCEPT).and_then(|a| a.to_str().ok()) else {
        return false;
    };
    // The first acceptable media range decides, as content negotiation prefers earlier ones.
    for range in accept.split(',') {
        let mut params = range.split(';').map(str::trim);
        let media = params.next().unwrap_or_default();
        if media != "application/json" && media != "*/*" && media != "application/*" {
            continue;
        }
        let params: Vec<&str> = params.collect();
        let as_table = params.contains(&"as=Table");
        let meta = params.contains(&"g=meta.k8s.io") && (params.contains(&"v=v1") || params.contains(&"v=v1beta1"));
        if as_table && meta {
            return true;
        }
        if !params.iter().any(|p| p.starts_with("as=")) {
            return false;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(group: &str, namespace: &str, resource: &str, name: &str, subresource: &str) -> RequestInfo {
        RequestInfo {
            group: group.into(),
            namespace: namespace.into(),
            resource: resource.into(),
            name: name.into(),
            subresource: subresource.into(),
        }
    }

    #[test]
    fn paths_name_resources_as_kubernetes_does() {
        let cases = [
            ("/api/v1/pods", info("", "", "pods", "", "")),
            ("/api/v1/namespaces/default/pods", info("", "default", "pods", "", "")),
            (
                "/api/v1/namespaces/default/pods/web",
                info("", "default", "pods", "web", ""),
            ),
            (
                "/api/v1/namespaces/default/pods/web/status",
                info("", "default", "pods", "web", "status"),
            ),
            ("/api/v1/namespaces", info("", "", "namespaces", "", "")),
            ("/api/v1/namespaces/team", info("", "", "namespaces", "team", "")),
            (
                "/api/v1/namespaces/team/status",
                info("", "", "namespaces", "team", "status"),
            ),
            (
                "/api/v1/namespaces/team/finalize",
                info("", "", "namespaces", "team", "finalize"),
            ),
            ("/api/v1/nodes/n1/status", info("", "", "nodes", "n1", "status")),
            (
                "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1",
                info("coordination.k8s.io", "kube-node-lease", "leases", "n1", ""),
            ),
            (
                "/apis/scheduling.k8s.io/v1/priorityclasses",
                info("scheduling.k8s.io", "", "priorityclasses", "", ""),
            ),
        ];
        for (path, expected) in cases {
            assert_eq!(RequestInfo::parse(path), Some(expected), "{path}");
        }
        for bad in [
            "/api/v2/pods",
            "/api/v1/",
            "/api/v1//pods",
            "/api/v1/namespaces/a/pods/b/c/d",
            "/apis/x/v2/y",
        ] {
            assert_eq!(RequestInfo::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn table_is_chosen_only_when_asked_for_first() {
        let accept = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(ACCEPT, value.parse().unwrap());
            wants_table(&headers)
        };
        assert!(accept(
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
        ));
        assert!(!accept("application/json"));
        assert!(!accept(
            "application/json, application/json;as=Table;v=v1;g=meta.k8s.io"
        ));
        assert!(!accept("application/vnd.kubernetes.protobuf,application/json"));
    }
}
