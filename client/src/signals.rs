//! Process signals for the components' binaries: SIGINT (Ctrl-C) or SIGTERM is the one
//! shutdown signal.

use tokio_util::sync::CancellationToken;

/// Waits for SIGINT or SIGTERM.
pub async fn terminated() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let term = async {
        match term.as_mut() {
            Some(t) => {
                t.recv().await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}

/// Cancels `token` on SIGINT or SIGTERM.
pub fn cancel_on_signal(token: CancellationToken) {
    tokio::spawn(async move {
        terminated().await;
        tracing::info!("shutting down");
        token.cancel();
    });
}
