//! The server as an operator meets it: health and reflection over gRPC, `--help`, and a
//! graceful stop on SIGTERM that keeps what was written.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{ServerProcess, TestServer, free_addr, pod};
use podium_client::Client;
use podium_proto::k8s::core::v1::Pod;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

#[tokio::test]
async fn health_and_reflection_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let url = format!("http://{}", s.addr);
    let channel = tonic::transport::Endpoint::from_shared(url)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = HealthClient::new(channel.clone());
    let status = health
        .check(HealthCheckRequest { service: String::new() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.status, ServingStatus::Serving as i32);

    let mut reflection = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = reflection
        .server_reflection_info(futures::stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let response = responses.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("expected a service list, got {response:?}");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for service in [
        "podium.api.v1.PodService",
        "podium.api.v1.NodeService",
        "podium.api.v1.LeaseService",
    ] {
        assert!(names.iter().any(|n| n == service), "{service} in {names:?}");
    }
    s.stop().await;
}

#[test]
fn help_names_every_flag_and_its_environment_variable() {
    let output = Command::new(env!("CARGO_BIN_EXE_apiserver"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for flag in ["--listen", "--data-dir", "PODIUM_LISTEN", "PODIUM_DATA_DIR"] {
        assert!(help.contains(flag), "{flag} in {help}");
    }
}

#[tokio::test]
async fn sigterm_stops_the_server_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let server = ServerProcess::spawn(dir.path(), addr).await;
    let client = Client::new(&format!("http://{addr}")).unwrap();
    let pods = client.resource::<Pod>("default");
    pods.create(pod("kept")).await.unwrap();
    // An open watch must not hold the shutdown up.
    let _watch = pods.watch(&Default::default()).await.unwrap();
    let mut child = server.child;
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let mut exited = None;
    for _ in 0..150 {
        if let Some(status) = child.try_wait().unwrap() {
            exited = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = exited.expect("the server exits within 15 s of SIGTERM");
    assert!(status.success(), "exit status {status}");

    let server = ServerProcess::spawn(dir.path(), addr).await;
    assert!(pods.get("kept").await.is_ok());
    server.kill();
}
