//! The official Kubernetes Python client (`kubernetes` on PyPI) against the REST face: runs
//! `tests/python` with pytest in the virtualenv `.ci/run` prepares (`PODIUM_PYTHON`).

mod common;

use std::path::Path;
use std::process::Command;

use common::TestServer;

#[tokio::test]
async fn the_python_client_works() {
    let python = std::env::var("PODIUM_PYTHON")
        .expect("PODIUM_PYTHON must name a python with `kubernetes` and `pytest` installed (bash .ci/run sets it up)");
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python");
    let url = format!("http://{}", server.addr);
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .arg(&tests)
            .env("PODIUM_URL", url)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "pytest failed:\n{stdout}\n{stderr}");
    server.stop().await;
}
