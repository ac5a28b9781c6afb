//! A kubeconfig that points kubectl (and other Kubernetes clients) at this apiserver.

use std::path::Path;

/// The kubeconfig text for a server at `url` (e.g. `http://127.0.0.1:6443`), as context
/// `podium`.
pub fn kubeconfig(url: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: podium
  cluster:
    server: {url}
contexts:
- name: podium
  context:
    cluster: podium
    user: podium
    namespace: default
current-context: podium
users:
- name: podium
  user: {{}}
"
    )
}

/// Writes the kubeconfig for `url` to `path`, creating its directory.
pub fn write_kubeconfig(path: &Path, url: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, kubeconfig(url))
}
