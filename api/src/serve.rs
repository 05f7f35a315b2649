//! Start-up: logging, storage, bootstrap, and serving until SIGTERM or Ctrl-C.

use std::net::SocketAddr;

use concierge_domain::BootstrapOutcome;

use crate::app::{AppState, open_storage};
use crate::config::Config;
use crate::http::router;

/// Builds the application for `config`, creating the bootstrap operator when configured.
pub async fn build(config: &Config) -> Result<AppState, String> {
    let (store, attempts) = open_storage(config).await?;
    let state = AppState::new(store, attempts, config).map_err(|e| format!("{e:?}"))?;
    if let Some((email, password)) = &config.bootstrap_admin {
        bootstrap(&state, email, password).await?;
    }
    Ok(state)
}

pub async fn bootstrap(state: &AppState, email: &str, password: &str) -> Result<(), String> {
    match state.domain.bootstrap_platform(email, password).await {
        Ok(BootstrapOutcome::Created(user)) => {
            tracing::info!(user = %user.id, "bootstrap: platform operator created");
            Ok(())
        }
        Ok(BootstrapOutcome::AlreadyPresent(_)) => {
            tracing::info!("bootstrap: the platform organization exists already, nothing created");
            Ok(())
        }
        Err(error) => Err(format!("bootstrap failed: {}", error.public_message())),
    }
}

pub async fn serve(config: Config) -> Result<(), String> {
    if config.ephemeral_secrets {
        tracing::warn!(
            "JWT_SECRET or CODE_PEPPER not set: using random keys, sessions and booking codes end with this process"
        );
    }
    let state = build(&config).await?;
    let outbox = crate::mail::start_outbox(&config, &state).map_err(|e| e.to_string())?;
    let releases = crate::release::start_releases(state.domain.clone(), config.release_interval);
    let listener = tokio::net::TcpListener::bind(config.listen_addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen_addr))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let backend = if config.database_url.is_some() {
        "postgresql"
    } else {
        "memory"
    };
    tracing::info!(%local, backend, "Concierge listening");
    println!("Concierge listening on http://{local}/graphql ({backend} storage)");
    let sockets = state.sockets.clone();
    let (signalled, draining) = tokio::sync::oneshot::channel::<()>();
    let served = axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        let _ = signalled.send(());
        // Upgraded connections are not drained by axum: close them ourselves, properly.
        sockets.close_all(SOCKET_CLOSE_BOUND).await;
    })
    .into_future();
    // Draining is bounded: a request still running `DRAIN_BOUND` after the signal is abandoned
    // (its transaction rolls back, its client was never answered), so the process always exits
    // within the orchestrator's grace period.
    let deadline = async {
        if draining.await.is_ok() {
            tokio::time::sleep(DRAIN_BOUND).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    let served = tokio::select! {
        outcome = served => outcome.map_err(|e| e.to_string()),
        () = deadline => {
            tracing::warn!(bound = ?DRAIN_BOUND, "requests still in flight at the drain bound: abandoning them");
            Ok(())
        }
    };
    // Requests are drained: what they put in the outbox leaves now (a release pass's too).
    releases.shutdown().await;
    outbox.shutdown().await;
    served
}

/// How long in-flight requests get to finish after SIGTERM (the outbox flush comes after).
const DRAIN_BOUND: std::time::Duration = std::time::Duration::from_secs(15);

/// How long WebSocket clients get to see their close frame at shutdown.
const SOCKET_CLOSE_BOUND: std::time::Duration = std::time::Duration::from_secs(5);

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
