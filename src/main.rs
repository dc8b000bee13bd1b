//! `medchain`: parses the command line and hands over to the library.

use clap::Parser;
use medchain::{
    cli::{AdminCommand, BenchCommand, Cli, Command, DevCommand, ExportCommand, ServeArgs},
    database::{Database, DatabaseError, Purpose},
};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A bench queues writers on the ledger lock on purpose: sqlx's slow-statement
    // warnings would only bury its figures.
    let default_filter = match cli.command {
        Command::Bench(_) => "info,sqlx=error",
        _ => "info,sqlx=warn",
    };
    medchain::logs::init(&cli.common.log_format, default_filter);
    {
        use clap::CommandFactory as _;
        let known = medchain::config::known_variables(&Cli::command());
        let present = std::env::vars_os().filter_map(|(k, _)| k.into_string().ok());
        for warning in medchain::config::environment_warnings(&known, present) {
            tracing::warn!("{warning}");
        }
    }
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime starts");
    let code = runtime.block_on(run(cli));
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

async fn run(cli: Cli) -> i32 {
    let result = match cli.command {
        Command::Serve(args) => serve(&cli.common, *args).await,
        Command::Witness(args) => {
            medchain::witness::run(medchain::witness::WitnessArgs {
                log: args.log,
                key: args.key,
                state: args.state,
                name: args.name,
                log_key: args.log_key,
                interval: args.interval,
                once: args.once,
            })
            .await
        }
        Command::Admin(AdminCommand::Create { email, name }) => {
            medchain::admin_cli::create(&cli.common, &email, &name).await
        }
        Command::Projections(command) => medchain::projections_cli::run(&cli.common, command).await,
        Command::Ledger(command) => medchain::ledger_cli::run(&cli.common, command).await,
        Command::Replay(args) => medchain::compliance_cli::replay(&cli.common, args).await,
        Command::Report(command) => medchain::compliance_cli::report(&cli.common, command).await,
        Command::Export(ExportCommand::Verify { file, pubkey }) => {
            medchain::export_cli::verify(&file, pubkey.as_deref())
        }
        Command::Keys(command) => medchain::keys_cli::keys(&cli.common, command).await,
        Command::Backup {
            out,
            follow,
            blob_store,
        } => medchain::backup::cli::backup(&cli.common, &out, blob_store.as_deref(), follow).await,
        Command::Restore {
            from,
            blob_store,
            witness_keys,
        } => {
            medchain::backup::restore::restore(
                &cli.common,
                &from,
                blob_store.as_deref(),
                witness_keys.as_ref(),
            )
            .await
        }
        Command::Erasure(command) => medchain::keys_cli::erasure(&cli.common, command).await,
        Command::Bench(BenchCommand::Ledger {
            seconds,
            writers,
            verify_events,
        }) => medchain::bench::ledger::run(&cli.common, seconds, &writers, verify_events)
            .await
            .map(|()| 0),
        Command::Bench(BenchCommand::Keys { keys }) => {
            medchain::bench::keys::run(&cli.common, keys)
                .await
                .map(|()| 0)
        }
        Command::Bench(BenchCommand::Records) => {
            medchain::bench::records::run(&cli.common).await.map(|()| 0)
        }
        Command::Bench(BenchCommand::Notifications) => {
            medchain::bench::notifications::run(&cli.common)
                .await
                .map(|()| 0)
        }
        Command::Bench(BenchCommand::Replay { events }) => {
            medchain::bench::replay::run(&cli.common, events)
                .await
                .map(|()| 0)
        }
        Command::Bench(BenchCommand::Scale { seconds, processes }) => {
            medchain::bench::scale::run(&cli.common, seconds, processes)
                .await
                .map(|()| 0)
        }
        Command::Bench(BenchCommand::Api { seconds, clients }) => {
            medchain::bench::api::run(&cli.common, seconds, clients)
                .await
                .map(|()| 0)
        }
        Command::Dev(DevCommand::TestCluster { dir }) => tokio::task::spawn_blocking(move || {
            let bins = medchain::embedded::PgBinaries::find()?;
            medchain::embedded::test_cluster::supervise_test_cluster(&dir, &bins)?;
            Ok(0)
        })
        .await
        .expect("the test cluster supervisor does not panic"),
        Command::Dev(DevCommand::Schema) => {
            print!("{}", graphql::sdl());
            Ok(0)
        }
        Command::Dev(DevCommand::AppendLoop) => {
            medchain::dev::append_loop(&cli.common).await.map(|()| 0)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            let code = e
                .downcast_ref::<DatabaseError>()
                .map_or(1, DatabaseError::exit_code);
            eprintln!("error: {e:#}");
            code
        }
    }
}

async fn serve(common: &medchain::cli::Common, args: ServeArgs) -> anyhow::Result<i32> {
    let public_origin = args
        .public_url
        .as_deref()
        .map(medchain::server::origin_of)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let db = Database::open(common, Purpose::Serve, medchain::server::pool_size()).await?;
    let result = async {
        // After the database: a machine without PostgreSQL gets its one line, and no key.
        medchain::config::keys_outside_the_database(common, &db.pool).await?;
        let master_key = medchain::config::master_key(common)?;
        let key_epochs = medchain::config::epoch_store(common)?;
        medchain::logs::say(&format!("key epochs are kept in {}", key_epochs.describe()));
        let replicas = medchain::database::replicas(&args.replica_urls, args.replica_wait)?;
        let mut config = medchain::server::ServerConfig {
            metrics: None,
            replicas,
            master_key,
            key_epochs,
            key_epoch: common.key_epoch,
            sessions: commands::accounts::SessionPolicy {
                idle: args.session_idle,
                absolute: args.session_max,
            },
            public_origin,
            trusted_proxies: {
                let mut proxies = args.trusted_proxies.clone().unwrap_or_default();
                if args.trust_proxy {
                    proxies = proxies.with(graphql::TrustedProxies::loopback());
                }
                proxies
            },
            dev_tools: args.dev_tools,
            mfa_required: args.mfa_required.clone(),
            rate_limits: commands::rate_limit::Limits::default(),
            clock: std::sync::Arc::new(commands::SystemClock),
            hasher: commands::password_hasher::PasswordHasher::new()?,
            mailer: {
                let public_url = args
                    .public_url
                    .clone()
                    .unwrap_or_else(|| format!("http://{}", args.listen));
                let mailer = commands::mail::Mailer::new(
                    args.smtp_url.as_deref(),
                    &common.data_dir.join("outbox"),
                    &args.mail_from,
                    &public_url,
                )?;
                medchain::logs::say(&format!("mail goes to {}", mailer.destination));
                mailer
            },
            blobs: {
                let blobs = commands::blobs::BlobStore::open(
                    args.blob_store.as_deref(),
                    &common.data_dir.join("blobs"),
                )?;
                medchain::logs::say(&format!("blobs are kept in {}", blobs.destination));
                blobs
            },
            uploads: {
                let defaults = commands::records::UploadLimits::default();
                commands::records::UploadLimits {
                    max_bytes: args
                        .max_upload_bytes
                        .or(args.upload_max)
                        .unwrap_or(defaults.max_bytes),
                    allowed: args
                        .allowed_types
                        .clone()
                        .or_else(|| args.upload_types.clone())
                        .map_or(defaults.allowed.clone(), |k| k.0),
                    quota_bytes: args.quota,
                    ..defaults
                }
            },
            share_sweep: args.share_sweep,
            emergency: commands::records::EmergencySettings {
                ttl: args.emergency_ttl,
                limits: domain::emergency::EmergencyLimits {
                    max_open: usize::from(args.emergency_max_open),
                    max_per_day: usize::from(args.emergency_max_per_day),
                },
            },
            checkpoints: {
                let paths = medchain::config::Paths::of(common);
                let store = paths.checkpoint_store()?;
                medchain::logs::say(&format!("checkpoints are kept in {}", store.place));
                medchain::server::Checkpointing {
                    store,
                    key: std::sync::Arc::new(commands::keys::LedgerKey::load_or_create(
                        &paths.ledger_key_file,
                    )?),
                    policy: medchain::checkpointer::Policy {
                        every_events: args.checkpoint_every,
                        every: args.checkpoint_interval,
                    },
                    witnesses: args.witness_keys.clone().unwrap_or_default(),
                    witness_silence: args.witness_silence,
                }
            },
        };
        let metrics = match args.metrics_listen {
            Some(addr) => {
                let listener = tokio::net::TcpListener::bind(addr).await?;
                medchain::logs::say(&format!(
                    "medchain metrics on http://{}/metrics",
                    listener.local_addr()?
                ));
                Some(listener)
            }
            None => None,
        };
        config.metrics = metrics;
        let listener = tokio::net::TcpListener::bind(args.listen).await?;
        let (addr, server) = medchain::server::spawn(
            db.pool.clone(),
            config,
            listener,
            medchain::server::shutdown_signal(),
        )
        .await?;
        medchain::logs::say(&format!("medchain listening on http://{addr}"));
        server.await??;
        anyhow::Ok(0)
    }
    .await;
    db.close().await;
    result
}
