//! `concierge [serve|bootstrap|export-schema [PATH]|migrate]`

use std::process::ExitCode;

use concierge_api::config::Config;
use concierge_api::{graphql, serve};

const USAGE: &str = "usage: concierge [serve | bootstrap | export-schema [PATH] | migrate]";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = args.first().map(String::as_str).unwrap_or("serve");
    if command == "export-schema" {
        return export_schema(args.get(1).map(String::as_str));
    }
    // `migrate` signs and hashes nothing: it runs without JWT_SECRET and CODE_PEPPER.
    let config = if command == "migrate" {
        Config::from_env_for_migrations()
    } else {
        Config::from_env()
    };
    let config = match config {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(2);
        }
    };
    let telemetry =
        match concierge_api::telemetry::init(config.json_logs, config.otlp_endpoint.as_deref()) {
            Ok(telemetry) => telemetry,
            Err(error) => {
                eprintln!("{error}");
                return ExitCode::from(2);
            }
        };
    let outcome = match command {
        "serve" => serve::serve(config).await,
        "bootstrap" => match &config.bootstrap_admin {
            None => Err("bootstrap needs BOOTSTRAP_ADMIN_EMAIL and BOOTSTRAP_ADMIN_PASSWORD".into()),
            Some(_) if config.database_url.is_none() => {
                Err("bootstrap without DATABASE_URL would only fill a memory store that ends with this command; `serve` bootstraps at start".into())
            }
            Some(_) => serve::build(&config).await.map(|_| ()),
        },
        "migrate" => match &config.database_url {
            None => Err("migrate needs DATABASE_URL (the memory backend has no schema)".into()),
            Some(url) => concierge_api::app::migrate(url).await.map(|()| {
                println!("migrations applied");
            }),
        },
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command '{other}'\n{USAGE}")),
    };
    let code = match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    };
    // The exporter's shutdown blocks until its last batch is out: off the runtime's threads.
    let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
    code
}

fn export_schema(path: Option<&str>) -> ExitCode {
    let sdl = graphql::schema_sdl();
    match path {
        None => {
            print!("{sdl}");
            ExitCode::SUCCESS
        }
        Some(path) => match std::fs::write(path, sdl) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("cannot write {path}: {error}");
                ExitCode::FAILURE
            }
        },
    }
}
