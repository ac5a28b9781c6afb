//! The apiserver's metrics and middleware on a real server: `/metrics` parsed as Prometheus
//! text with counters moving after requests, load shedding (429 with Retry-After for REST,
//! RESOURCE_EXHAUSTED for gRPC) while health checks still answer, request timeouts (504), and
//! request ids.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use common::{TestServer, pod};
use podium_apiserver::Config;
use podium_proto::k8s::core::v1::Pod;
use podium_telemetry::metrics::parse_text;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A raw HTTP/1.1 exchange: the status code, the headers (lower-cased names) and the body.
async fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, BTreeMap<String, String>, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.unwrap();
    let (head, body) = reply.split_once("\r\n\r\n").unwrap_or((&reply, ""));
    let mut lines = head.lines();
    let code = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (code, headers, body.to_owned())
}

/// A POST whose body never finishes arriving: its handler holds a request slot meanwhile.
async fn stalled_post(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = "POST /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{";
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

async fn scrape(addr: SocketAddr) -> BTreeMap<String, f64> {
    let (code, headers, body) = http(addr, "GET", "/metrics", "").await;
    assert_eq!(code, 200);
    assert!(headers["content-type"].starts_with("text/plain; version=0.0.4"));
    parse_text(&body).unwrap()
}

fn sample(samples: &BTreeMap<String, f64>, series: &str) -> f64 {
    samples.get(series).copied().unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_count_requests_objects_watchers_and_store_writes() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let before = scrape(s.addr).await;
    for name in ["a", "b"] {
        let body = serde_json::to_string(&pod(name)).unwrap();
        let (code, _, _) = http(s.addr, "POST", "/api/v1/namespaces/default/pods", &body).await;
        assert_eq!(code, 201);
    }
    let (code, _, _) = http(s.addr, "GET", "/api/v1/namespaces/default/pods/missing", "").await;
    assert_eq!(code, 404);
    s.client.resource::<Pod>("default").get("a").await.unwrap();
    let mut watch = s
        .client
        .resource::<Pod>("default")
        .watch(&Default::default())
        .await
        .unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(1), futures::StreamExt::next(&mut watch)).await;

    let after = scrape(s.addr).await;
    let moved = |series: &str| sample(&after, series) - sample(&before, series);
    assert_eq!(
        moved(r#"apiserver_request_total{code="201",resource="pods",verb="POST"}"#),
        2.0
    );
    assert_eq!(
        moved(r#"apiserver_request_total{code="404",resource="pods",verb="GET"}"#),
        1.0
    );
    // The gRPC get counts too.
    assert_eq!(
        moved(r#"apiserver_request_total{code="200",resource="pods",verb="GET"}"#),
        1.0
    );
    assert!(moved(r#"apiserver_request_duration_seconds_count{resource="pods",verb="POST"}"#) >= 2.0);
    assert_eq!(sample(&after, r#"apiserver_storage_objects{resource="pods"}"#), 2.0);
    assert!(sample(&after, r#"apiserver_storage_objects{resource="namespaces"}"#) >= 4.0);
    assert_eq!(sample(&after, r#"apiserver_registered_watchers{kind="Pod"}"#), 1.0);
    assert!(moved("apiserver_storage_write_duration_seconds_count") >= 2.0);
    assert!(sample(&after, "apiserver_storage_flush_duration_seconds_count") >= 1.0);
    assert!(sample(&after, "process_resident_memory_bytes") > 0.0);
    assert!(sample(&after, "process_open_fds") > 0.0);
    drop(watch);
    let mut gone = 1.0;
    for _ in 0..50 {
        gone = sample(&scrape(s.addr).await, r#"apiserver_registered_watchers{kind="Pod"}"#);
        if gone == 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(gone, 0.0, "the watcher is unregistered when its stream ends");
    s.stop().await;
}

#[tokio::test]
async fn a_flood_beyond_the_limit_gets_429_while_health_answers() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path().to_owned());
    config.max_requests_inflight = 2;
    let s = TestServer::start_with(config).await;
    // Two requests hold both slots.
    let _held = [stalled_post(s.addr).await, stalled_post(s.addr).await];
    tokio::time::sleep(Duration::from_millis(200)).await;

    let flood: Vec<_> = (0..20)
        .map(|_| tokio::spawn(http(s.addr, "GET", "/api/v1/namespaces/default/pods", "")))
        .collect();
    for reply in flood {
        let (code, headers, body) = reply.await.unwrap();
        assert_eq!(code, 429, "{body}");
        assert_eq!(headers["retry-after"], "1");
        let status: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(status["kind"], "Status");
        assert_eq!(status["reason"], "TooManyRequests");
        assert_eq!(status["message"], "Too many requests, please try again later.");
    }
    for path in ["/healthz", "/readyz", "/livez"] {
        let (code, _, _) = http(s.addr, "GET", path, "").await;
        assert_eq!(code, 200, "{path} answers during the flood");
    }
    let shed = s.client.resource::<Pod>("default").get("any").await.unwrap_err();
    assert_eq!(shed.code(), 429, "gRPC callers get RESOURCE_EXHAUSTED: {shed}");
    let metrics = scrape(s.addr).await;
    assert!(
        sample(
            &metrics,
            r#"apiserver_request_total{code="429",resource="pods",verb="LIST"}"#
        ) >= 20.0
    );
    drop(_held);
    // The slots free up.
    let mut code = 0;
    for _ in 0..50 {
        code = http(s.addr, "GET", "/api/v1/namespaces/default/pods", "").await.0;
        if code == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(code, 200);
    s.stop().await;
}

#[tokio::test]
async fn a_request_that_takes_too_long_gets_504_and_ids_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path().to_owned());
    config.request_timeout = Duration::from_secs(1);
    let s = TestServer::start_with(config).await;
    let mut stalled = stalled_post(s.addr).await;
    let mut reply = String::new();
    tokio::time::timeout(Duration::from_secs(10), stalled.read_to_string(&mut reply))
        .await
        .expect("the server answers a stalled request")
        .unwrap();
    assert!(reply.starts_with("HTTP/1.1 504"), "{reply}");
    assert!(reply.contains(r#""reason":"Timeout""#), "{reply}");
    assert!(reply.contains("x-request-id: "), "{reply}");
    let (_, headers, _) = http(s.addr, "GET", "/version", "").await;
    assert_eq!(headers["x-request-id"].len(), 36);
    s.stop().await;
}
