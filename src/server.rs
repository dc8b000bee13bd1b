//! Startup as a library call: the caller binds, passes the listener, the configuration and
//! a shutdown signal; tests run the real server on port 0 this way, with their own clock.

use commands::{
    Clock, EventStore, Kernel,
    accounts::{Accounts, SessionPolicy},
    blobs::BlobStore,
    key_epochs::KeyEpochs,
    keys::{KeyRing, MasterKey},
    mail::Mailer,
    password_hasher::PasswordHasher,
    records::{Records, UploadLimits},
};
use graphql::{AppState, HttpConfig, Services};
use projections::Projections;
use sqlx::PgPool;
use std::{future::Future, net::SocketAddr, sync::Arc};
use tokio::net::TcpListener;

/// Everything the server is made of besides its database and listener.
pub struct ServerConfig {
    pub master_key: MasterKey,
    /// Where key-epoch keys are kept (`MEDCHAIN_KEY_EPOCH_STORE`).
    pub key_epochs: commands::keys::EpochStore,
    /// How long an epoch lasts before the scheduled rotation (`MEDCHAIN_KEY_EPOCH`).
    pub key_epoch: std::time::Duration,
    pub sessions: SessionPolicy,
    /// The public URL's origin (`scheme://host[:port]`); `None`: `http://<bound address>`.
    pub public_origin: Option<String>,
    /// The proxies whose X-Forwarded-For entries are believed.
    pub trusted_proxies: graphql::TrustedProxies,
    /// Introspection for anonymous callers too.
    pub dev_tools: bool,
    /// The roles that must have a second factor (`MEDCHAIN_MFA_REQUIRED`).
    pub mfa_required: domain::account::MfaPolicy,
    /// The rate limits (API.graphql's by default).
    pub rate_limits: commands::rate_limit::Limits,
    pub clock: Arc<dyn Clock>,
    pub hasher: PasswordHasher,
    /// Where password-reset mail goes.
    pub mailer: Mailer,
    /// Where photos (and, later, records) are kept, sealed.
    pub blobs: BlobStore,
    pub uploads: UploadLimits,
    /// How often expired shares are looked for (their reads are refused at once anyway).
    pub share_sweep: std::time::Duration,
    /// How long an emergency access lasts and how many a doctor may hold and open.
    pub emergency: commands::records::EmergencySettings,
    /// Where checkpoints go, the key that signs them, and how often they are made.
    pub checkpoints: Checkpointing,
    /// `GET /metrics` on this listener (`MEDCHAIN_METRICS_LISTEN`), if one is set.
    pub metrics: Option<TcpListener>,
    /// Streaming replicas that queries read from (`MEDCHAIN_REPLICA_URLS`).
    pub replicas: Option<Arc<graphql::replicas::Replicas>>,
}

/// The ledger's signed checkpoints: where they are kept, the key, and when to make one.
#[derive(Clone)]
pub struct Checkpointing {
    pub store: commands::ledger::CheckpointStore,
    pub key: Arc<commands::keys::LedgerKey>,
    /// The witnesses whose cosignatures are accepted (`MEDCHAIN_WITNESS_KEYS`).
    pub witnesses: domain::ledger::cosignature::WitnessKeys,
    /// A witness that has cosigned nothing for this long is flagged to administrators.
    pub witness_silence: std::time::Duration,
    pub policy: crate::checkpointer::Policy,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot start the projections: {0}")]
    Projections(#[source] sqlx::Error),
    #[error("cannot read whether the ledger is frozen: {0}")]
    Frozen(#[source] sqlx::Error),
    #[error("passkeys: {0}")]
    RelyingParty(#[source] commands::accounts::passkeys::RelyingPartyError),
    #[error("key epochs: {0}")]
    KeyEpochs(#[source] commands::CommandError),
    #[error("no {0} projector in this build")]
    NoProjector(&'static str),
}

/// Starts everything and serves in a task until `shutdown` completes; returns the bound
/// address and the task (which ends once the requests in flight have finished).
pub async fn spawn(
    pool: PgPool,
    config: ServerConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>), StartError> {
    let bound = listener.local_addr()?;
    let keys = KeyRing::new(&config.master_key, config.key_epochs);
    let store = EventStore::start(pool.clone(), config.clock.clone());
    let appender = store.clone();
    let kernel = Kernel::new(store, keys.clone());
    // Before anything is served: a rotation cut off is finished, keys from before epochs
    // move into the current one, a new database gets epoch 1.
    let key_epochs = KeyEpochs::new(
        kernel.clone(),
        keys.clone(),
        config.clock.clone(),
        config.key_epoch,
    );
    // A frozen ledger (a restore short of the newest signed head) takes no events: no
    // rotation is finished, no share expired, no head signed, until an operator acts.
    let frozen = commands::ledger::frozen(&pool)
        .await
        .map_err(StartError::Frozen)?;
    match &frozen {
        None => {
            key_epochs.resume().await.map_err(StartError::KeyEpochs)?;
        }
        Some(reason) => tracing::warn!(
            %reason,
            "READ-ONLY: the ledger is frozen; queries are answered, nothing that appends"
        ),
    }
    let journal = commands::ledger::ErasureJournal {
        store: config.checkpoints.store.clone(),
        key: config.checkpoints.key.clone(),
    };
    let records = Records::new(
        kernel.clone(),
        keys.clone(),
        config.blobs.clone(),
        config.clock.clone(),
        config.uploads,
    )
    .with_erasure_journal(journal.clone())
    .with_emergency(config.emergency);
    let kernel_for_holds = kernel.clone();
    let proxies = commands::proxies::ProxyGrants::new(
        kernel.clone(),
        keys.clone(),
        Some(config.mailer.clone()),
        config.clock.clone(),
    );
    let links = commands::links::Links::new(
        kernel.clone(),
        keys.clone(),
        config.hasher.clone(),
        config.clock.clone(),
    );
    let accounts = Accounts::new(
        kernel,
        keys.clone(),
        config.hasher,
        config.clock.clone(),
        config.sessions,
    )
    .with_limits(config.rate_limits)
    .with_erasure_journal(journal)
    .with_mailer(config.mailer.clone())
    .with_blobs(config.blobs)
    .with_relying_party(
        commands::accounts::passkeys::RelyingParty::new(
            config.public_origin.as_deref(),
            &format!("http://{bound}"),
        )
        .map_err(StartError::RelyingParty)?,
    );
    // Without a configured public URL, the pages may be opened as localhost too (a
    // passkey needs a host name; browsers refuse WebAuthn on an address).
    let other_origins = match &config.public_origin {
        Some(_) => Vec::new(),
        None => vec![format!("http://localhost:{}", bound.port())],
    };
    let projections = Projections::start(pool.clone(), projections::all())
        .await
        .map_err(StartError::Projections)?;
    projections.follow_local_appends(appender.committed());
    let public_origin = config
        .public_origin
        .unwrap_or_else(|| format!("http://{bound}"));
    let (sweep_stop, sweep_stopped) = tokio::sync::watch::channel(false);
    crate::mail_outbox::spawn(
        pool.clone(),
        keys.clone(),
        config.mailer,
        sweep_stopped.clone(),
    );
    crate::staging_sweep::spawn(records.clone(), sweep_stopped.clone());
    let tree_nodes = projections::merkle::NodeCache::default();
    if frozen.is_none() {
        crate::share_expiry::spawn(
            pool.clone(),
            records.clone(),
            links.clone(),
            config.clock.clone(),
            config.share_sweep,
            sweep_stopped.clone(),
        );
        crate::key_rotation::spawn(key_epochs.clone(), config.key_epoch, sweep_stopped.clone());
        crate::checkpointer::spawn(
            pool.clone(),
            config.checkpoints.store.clone(),
            config.checkpoints.key.clone(),
            config.clock.clone(),
            config.checkpoints.policy,
            tree_nodes.clone(),
            sweep_stopped.clone(),
        );
    }
    if let Some(listener) = config.metrics
        && let Some(handle) = crate::metrics::recorder()
    {
        let sources = crate::metrics::Sources {
            pool: pool.clone(),
            projections: projections.clone(),
            store: appender,
        };
        crate::metrics::spawn(listener, handle, sources, sweep_stopped.clone());
    }
    let sessions = projections::sessions::SessionLookup::start(pool.clone(), keys.clone());
    let notices = graphql::notification_hub::NotificationHub::start(
        pool.clone(),
        config.replicas.clone(),
        projections
            .watch("notifications")
            .ok_or(StartError::NoProjector("notifications"))?,
    );
    let services = Services {
        notices,
        pool,
        replicas: config.replicas,
        accounts,
        records,
        links,
        proxies,
        clock: config.clock,
        projections,
        sessions,
        legal_holds: commands::legal_holds::LegalHolds::new(kernel_for_holds, keys.clone()),
        keys,
        key_epochs,
        checkpoints: config.checkpoints.store,
        ledger_key: config.checkpoints.key,
        witnesses: Arc::new(config.checkpoints.witnesses),
        witness_silence: config.checkpoints.witness_silence,
        tree_nodes,
        mfa_policy: config.mfa_required,
        secure_cookies: public_origin.starts_with("https://"),
        public_url: public_origin.clone(),
        session_max: config.sessions.absolute,
    };
    let state = AppState::new(
        services,
        HttpConfig {
            public_origin,
            other_origins,
            trusted_proxies: config.trusted_proxies,
            dev_tools: config.dev_tools,
        },
    );
    let app = graphql::router(state).into_make_service_with_connect_info::<SocketAddr>();
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        let _ = sweep_stop.send(true);
        served
    });
    Ok((bound, task))
}

/// The server's pool: a few connections per core. More only makes PostgreSQL switch
/// between backends on the same cores; `medchain bench api` on 2 cores measured `me` at
/// 11.5k–12.5k requests/s with 32 connections and 14k–17.6k with 8–16.
pub fn pool_size() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    u32::try_from(8 * cores).unwrap_or(64).clamp(8, 64)
}

/// The origin (`scheme://host[:port]`) of a public URL.
pub fn origin_of(url: &str) -> Result<String, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("{url:?} is not a URL like https://medchain.example.org"))?;
    if scheme != "http" && scheme != "https" {
        return Err(format!("{url:?}: the public URL is http or https"));
    }
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    Ok(format!("{scheme}://{host}"))
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("Ctrl-C: shutting down"),
        _ = terminate => tracing::info!("SIGTERM: shutting down"),
    }
}
