//! An in-process apiserver and schedulers against it, for the scheduler's integration tests.

#![allow(dead_code)]

use std::net::SocketAddr;

use podium_apiserver::{Config as ServerConfig, RunningServer, start};
use podium_client::Client;
use podium_scheduler::Config;
use tokio_util::sync::CancellationToken;

pub struct Cluster {
    dir: tempfile::TempDir,
    server: RunningServer,
    server_stop: CancellationToken,
    pub client: Client,
    pub url: String,
}

impl Cluster {
    pub async fn start() -> Self {
        Self::start_in(tempfile::tempdir().unwrap(), "127.0.0.1:0".parse().unwrap()).await
    }

    async fn start_in(dir: tempfile::TempDir, listen: SocketAddr) -> Self {
        let server_stop = CancellationToken::new();
        let server = start(ServerConfig::new(listen, dir.path().to_owned()), server_stop.clone())
            .await
            .unwrap();
        let url = format!("http://{}", server.local_addr);
        let client = Client::new(&url).unwrap();
        Cluster {
            dir,
            server,
            server_stop,
            client,
            url,
        }
    }

    /// Stops the apiserver and starts it again on the same address and data.
    pub async fn restart(self) -> Self {
        let addr = self.server.local_addr;
        self.server_stop.cancel();
        self.server.wait().await.unwrap();
        Self::start_in(self.dir, addr).await
    }

    /// Starts a scheduler; cancel the token to stop it.
    pub fn scheduler(&self, configure: impl FnOnce(&mut Config)) -> CancellationToken {
        let mut config = Config::new(&self.url);
        configure(&mut config);
        let stop = CancellationToken::new();
        let token = stop.clone();
        tokio::spawn(async move { podium_scheduler::run(config, token).await });
        stop
    }

    pub async fn stop(self) {
        self.server_stop.cancel();
        self.server.wait().await.unwrap();
    }
}
