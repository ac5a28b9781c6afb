//! Probe checks against real servers on loopback: a gRPC health service (SERVING, then
//! NOT_SERVING), an HTTP server by named port, an HTTPS server with a self-signed certificate,
//! a closed TCP port, and a timeout.

use std::time::Duration;

use podium_agent::pod::prober::{Outcome, Target, probe};
use podium_agent::runtime::FakeRuntime;
use podium_proto::k8s::core::v1::{Container, ContainerPort, GrpcAction, HttpGetAction, Probe, TcpSocketAction};
use podium_proto::k8s::meta::v1::IntOrString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn target(ports: Vec<ContainerPort>) -> Target {
    Target {
        container_id: "none".into(),
        pod_ip: "127.0.0.1".into(),
        container: Container {
            name: "app".into(),
            ports,
            ..Default::default()
        },
    }
}

#[tokio::test]
async fn grpc_probes_follow_the_health_service() {
    let (reporter, service) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("shop", tonic_health::ServingStatus::Serving)
        .await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let p = Probe {
        grpc: Some(GrpcAction {
            port: i32::from(port),
            service: Some("shop".into()),
        }),
        timeout_seconds: 5,
        ..Default::default()
    };
    let runtime = FakeRuntime::default();
    assert_eq!(probe(&runtime, &target(vec![]), &p).await, Outcome::Success);
    reporter
        .set_service_status("shop", tonic_health::ServingStatus::NotServing)
        .await;
    assert!(matches!(probe(&runtime, &target(vec![]), &p).await, Outcome::Failure(m) if m.contains("NotServing")));
}

#[tokio::test]
async fn http_probes_use_named_ports_and_headers_and_tcp_probes_see_closed_ports() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 1024];
            let n = conn.read(&mut buf).await.unwrap();
            let request = String::from_utf8_lossy(&buf[..n]).into_owned();
            let status = if request.starts_with("GET /ok ") && request.contains("X-Probe: yes") {
                "200 OK"
            } else {
                "503 Service Unavailable"
            };
            let _ = conn
                .write_all(format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n").as_bytes())
                .await;
        }
    });
    let ports = vec![ContainerPort {
        name: "web".into(),
        container_port: i32::from(port),
        ..Default::default()
    }];
    let http = |path: &str, header: bool| Probe {
        http_get: Some(HttpGetAction {
            path: path.into(),
            port: Some(IntOrString::string("web")),
            http_headers: if header {
                vec![podium_proto::k8s::core::v1::HttpHeader {
                    name: "X-Probe".into(),
                    value: "yes".into(),
                }]
            } else {
                vec![]
            },
            ..Default::default()
        }),
        timeout_seconds: 5,
        ..Default::default()
    };
    let runtime = FakeRuntime::default();
    assert_eq!(
        probe(&runtime, &target(ports.clone()), &http("/ok", true)).await,
        Outcome::Success
    );
    assert_eq!(
        probe(&runtime, &target(ports.clone()), &http("/ok", false)).await,
        Outcome::Failure("HTTP probe failed with statuscode: 503".into())
    );
    // A port nobody listens on.
    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tcp = Probe {
        tcp_socket: Some(TcpSocketAction {
            port: Some(IntOrString::int(i32::from(closed))),
            host: String::new(),
        }),
        timeout_seconds: 5,
        ..Default::default()
    };
    assert!(matches!(
        probe(&runtime, &target(ports), &tcp).await,
        Outcome::Failure(_)
    ));
}

/// A self-signed certificate for 127.0.0.1 and localhost (made once with openssl), and its key.
const CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIBnDCCAUGgAwIBAgIUKFkBLFY9NxROio7ghVhj2uLiqdUwCgYIKoZIzj0EAwIw\nFDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyNzEzNTQ1OVoYDzIxMjYxMTAz\nMTM1NDU5WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO\nPQMBBwNCAASF5/Bu1LSS+ysPRfI3IyF7itMPHlBzALFesgsLH5SdnNnRvkY7aoZI\nzczAvJ7uVLO6+tLyxS85oAaATOYAEIHgo28wbTAdBgNVHQ4EFgQUk7GVK8SpHT5J\nrCrIR7+zIg/DpEMwHwYDVR0jBBgwFoAUk7GVK8SpHT5JrCrIR7+zIg/DpEMwDwYD\nVR0TAQH/BAUwAwEB/zAaBgNVHREEEzARhwR/AAABgglsb2NhbGhvc3QwCgYIKoZI\nzj0EAwIDSQAwRgIhAKjPzhK8SjcVl3AL5K9ZVvXTpRTPeiTBAb/23Or5HKatAiEA\n7bAbjrEhY/FqJAm623K2lxZzogQPhYOAFseIoA5XEo4=\n-----END CERTIFICATE-----\n";
const KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgk27IAS7MjrKD53Hy\nsEixHrd5mK2jJUmUvFwAW9Y8xKyhRANCAASF5/Bu1LSS+ysPRfI3IyF7itMPHlBz\nALFesgsLH5SdnNnRvkY7aoZIzczAvJ7uVLO6+tLyxS85oAaATOYAEIHg\n-----END PRIVATE KEY-----\n";

#[tokio::test]
async fn https_probes_skip_certificate_verification() {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let cert = CertificateDer::from_pem_slice(CERT.as_bytes()).unwrap();
    let key = PrivateKeyDer::from_pem_slice(KEY.as_bytes()).unwrap();
    let config =
        rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let (conn, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(conn).await else {
                    return;
                };
                let mut buf = vec![0u8; 1024];
                let n = tls.read(&mut buf).await.unwrap_or(0);
                let ok = String::from_utf8_lossy(&buf[..n]).starts_with("GET /secure ");
                let status = if ok { "200 OK" } else { "404 Not Found" };
                let _ = tls
                    .write_all(format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n").as_bytes())
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    let https = |path: &str| Probe {
        http_get: Some(HttpGetAction {
            path: path.into(),
            port: Some(IntOrString::int(i32::from(port))),
            scheme: "HTTPS".into(),
            ..Default::default()
        }),
        timeout_seconds: 5,
        ..Default::default()
    };
    let runtime = FakeRuntime::default();
    assert_eq!(
        probe(&runtime, &target(vec![]), &https("/secure")).await,
        Outcome::Success
    );
    assert_eq!(
        probe(&runtime, &target(vec![]), &https("/other")).await,
        Outcome::Failure("HTTP probe failed with statuscode: 404".into())
    );
}

#[tokio::test(start_paused = true)]
async fn a_slow_check_times_out() {
    let runtime = FakeRuntime::default();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    // A server that accepts but never answers.
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let (conn, _) = listener.accept().await.unwrap();
            held.push(conn);
        }
    });
    let p = Probe {
        http_get: Some(HttpGetAction {
            path: "/".into(),
            port: Some(IntOrString::int(i32::from(port))),
            ..Default::default()
        }),
        timeout_seconds: 1,
        ..Default::default()
    };
    let outcome = tokio::time::timeout(Duration::from_secs(30), probe(&runtime, &target(vec![]), &p))
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Failure("probe timed out after 1s".into()));
}
