//! Shared set-up for the apiserver's integration tests: a server on 127.0.0.1 over a
//! temporary data directory, in-process or as the real binary.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use podium_apiserver::store::SledStoreOptions;
use podium_apiserver::{Config, RunningServer, start};
use podium_client::Client;
use podium_proto::k8s::core::v1::{Container, Pod, PodSpec};
use podium_proto::k8s::meta::v1::ObjectMeta;
use tokio_util::sync::CancellationToken;

pub struct TestServer {
    pub server: RunningServer,
    pub shutdown: CancellationToken,
    pub client: Client,
    pub addr: SocketAddr,
}

impl TestServer {
    pub async fn start(dir: &Path) -> Self {
        Self::start_at(dir, "127.0.0.1:0".parse().unwrap(), SledStoreOptions::default()).await
    }

    pub async fn start_at(dir: &Path, listen: SocketAddr, store: SledStoreOptions) -> Self {
        let mut config = Config::new(listen, dir.to_owned());
        config.store = store;
        Self::start_with(config).await
    }

    pub async fn start_with(config: Config) -> Self {
        let shutdown = CancellationToken::new();
        let server = start(config, shutdown.clone()).await.expect("server starts");
        let addr = server.local_addr;
        let client = Client::new(&format!("http://{addr}")).unwrap();
        TestServer {
            server,
            shutdown,
            client,
            addr,
        }
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        self.server.wait().await.expect("server stops cleanly");
    }
}

/// The apiserver binary, for tests that kill it.
pub struct ServerProcess {
    pub child: Child,
    pub addr: SocketAddr,
}

impl ServerProcess {
    pub async fn spawn(dir: &Path, addr: SocketAddr) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_apiserver"))
            .args(["--listen", &addr.to_string(), "--data-dir"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("apiserver binary starts");
        let process = ServerProcess { child, addr };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return process;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("apiserver did not listen on {addr}");
    }

    /// SIGKILL: no flush, no goodbye.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// A free port on 127.0.0.1.
pub fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

pub fn pod(name: &str) -> Pod {
    Pod {
        metadata: Some(ObjectMeta {
            name: name.into(),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "app".into(),
                image: "busybox:1.36".into(),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn labelled(name: &str, labels: &[(&str, &str)]) -> Pod {
    let mut p = pod(name);
    let meta = p.metadata.as_mut().unwrap();
    meta.labels = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    p
}
