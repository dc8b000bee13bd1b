//! The real server in-process for end-to-end tests: its own database (migrated), a
//! `ManualClock` the test moves, the cheap test password hasher, bound on port 0, and
//! reached through HTTP like any client. `restart` stops it and starts a new one on the
//! same database and keys, as a process restart would.

// Each test crate includes this module and uses a different part of it.
#![allow(dead_code)]

use super::TestDb;
use commands::{
    Clock, ManualClock, accounts::SessionPolicy, keys::MasterKey, password_hasher::PasswordHasher,
};
use domain::Timestamp;
use medchain::server::{ServerConfig, spawn};
use serde_json::{Value, json};
use sqlx::PgPool;
use std::{
    future::Future,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

/// A password every policy check accepts (long, random-looking, no name in it).
pub const STRONG: &str = "Tq9#vLm2!pXz7wRb";
/// Another one, for password changes.
pub const STRONG_2: &str = "gW4$kN8@rYc3%hUe";

pub struct TestApp {
    /// The running server's address (changes on `restart`).
    pub addr: SocketAddr,
    /// The test's own pool on the same database, for looking at tables.
    pub pool: PgPool,
    pub clock: ManualClock,
    pub http: reqwest::Client,
    pub db: TestDb,
    /// Where the server's mail goes, as `.eml` files (unless `smtp_url` is set).
    pub outbox: tempfile::TempDir,
    /// The blob store's directory.
    pub blobs: tempfile::TempDir,
    /// Send mail to this SMTP server instead (takes effect at the next (re)start).
    pub smtp_url: Option<String>,
    /// What uploads may be (takes effect at the next (re)start).
    pub uploads: commands::records::UploadLimits,
    /// Where checkpoints are kept.
    pub checkpoints: tempfile::TempDir,
    /// The key-epoch store (DESIGN.md §11), shared by every server of the test.
    pub key_epochs: tempfile::TempDir,
    /// How long a key epoch lasts (takes effect at the next (re)start).
    pub key_epoch: Duration,
    /// Emergency access's time and limits (takes effect at the next (re)start).
    pub emergency: commands::records::EmergencySettings,
    /// When the server checkpoints by itself (takes effect at the next (re)start);
    /// by default, not during a test.
    pub checkpoint_policy: medchain::checkpointer::Policy,
    /// The ledger's signing key, the same across restarts.
    pub ledger_key: Arc<commands::keys::LedgerKey>,
    /// The witnesses whose cosignatures the log accepts (takes effect at the next
    /// (re)start).
    pub witnesses: domain::ledger::cosignature::WitnessKeys,
    /// The rate limits (takes effect at the next (re)start).
    pub rate_limits: commands::rate_limit::Limits,
    /// The proxies whose X-Forwarded-For is believed (takes effect at the next (re)start).
    pub trusted_proxies: graphql::TrustedProxies,
    /// Argon2id at the production parameters instead of the cheap test ones (takes
    /// effect at the next (re)start).
    pub production_hasher: bool,
    /// The roles that must have a second factor (takes effect at the next (re)start);
    /// none unless a test sets it, so each test says what it needs.
    pub mfa_required: domain::account::MfaPolicy,
    pub master_key: [u8; 32],
    sessions: SessionPolicy,
    public_origin: Option<String>,
    running: Option<Running>,
}

pub struct AnotherServer {
    pub addr: SocketAddr,
    _running: Running,
}

struct Running {
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
    pool: PgPool,
}

/// How a request identifies its caller.
#[derive(Debug, Clone, Copy)]
pub enum Cred<'a> {
    None,
    Bearer(&'a str),
    /// Sent as the `medchain_session` cookie.
    Cookie(&'a str),
    /// A raw `Authorization` header value.
    Authorization(&'a str),
}

/// A GraphQL answer with what came with it.
#[derive(Debug)]
pub struct Gql {
    pub status: u16,
    pub body: Value,
    pub set_cookies: Vec<String>,
}

impl Gql {
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    pub fn errors(&self) -> Vec<Value> {
        self.body["errors"].as_array().cloned().unwrap_or_default()
    }

    /// `extensions.code` of the first error (panics without one).
    pub fn code(&self) -> String {
        let errors = self.errors();
        assert!(!errors.is_empty(), "expected an error, got {}", self.body);
        errors[0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("an error without extensions.code: {}", self.body))
            .to_owned()
    }

    pub fn message(&self) -> String {
        self.errors()
            .first()
            .and_then(|e| e["message"].as_str())
            .unwrap_or_default()
            .to_owned()
    }

    /// The data, after checking there is no error.
    pub fn ok(&self) -> &Value {
        assert!(
            self.errors().is_empty() && self.status == 200,
            "expected success, got {} {}",
            self.status,
            self.body
        );
        self.data()
    }

    /// Checks the first error's code and returns its message.
    pub fn expect_code(&self, code: &str) -> String {
        assert_eq!(self.code(), code, "{}", self.body);
        self.message()
    }
}

impl TestApp {
    /// A fresh database, migrated, and the server on it with the default session policy.
    pub async fn start() -> Self {
        Self::start_with(SessionPolicy::default(), None).await
    }

    /// With a session policy and a public origin (`None`: `http://<bound address>`).
    pub async fn start_with(sessions: SessionPolicy, public_origin: Option<&str>) -> Self {
        // The server's logs, shown by the test runner when a test fails.
        let _ = tracing_subscriber::fmt()
            .with_env_filter("warn,medchain=info,commands=info,graphql=info,projections=info")
            .with_test_writer()
            .try_init();
        let db = super::test_db().await;
        let pool = commands::db::connect_and_migrate(&db.url, 4)
            .await
            .expect("migrating the test database");
        let clock = ManualClock::starting_at(Timestamp::from_datetime(chrono::Utc::now()));
        let mut master_key = [0u8; 32];
        for (i, b) in master_key.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(37).wrapping_add(11);
        }
        let mut app = Self {
            addr: "127.0.0.1:0".parse().unwrap(),
            pool,
            clock,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            db,
            outbox: tempfile::tempdir().unwrap(),
            smtp_url: None,
            blobs: tempfile::tempdir().unwrap(),
            uploads: commands::records::UploadLimits::default(),
            checkpoints: tempfile::tempdir().unwrap(),
            key_epochs: tempfile::tempdir().unwrap(),
            key_epoch: Duration::from_secs(24 * 3600),
            emergency: Default::default(),
            checkpoint_policy: medchain::checkpointer::Policy {
                every_events: i64::MAX,
                every: Duration::from_secs(1 << 30),
            },
            ledger_key: Arc::new(commands::keys::LedgerKey::generate()),
            rate_limits: commands::rate_limit::Limits::default(),
            witnesses: Default::default(),
            trusted_proxies: graphql::TrustedProxies::none(),
            mfa_required: domain::account::MfaPolicy::none(),
            production_hasher: false,
            master_key,
            sessions,
            public_origin: public_origin.map(str::to_owned),
            running: None,
        };
        app.start_server().await;
        app
    }

    fn config(&self) -> ServerConfig {
        let clock: Arc<dyn Clock> = Arc::new(self.clock.clone());
        ServerConfig {
            replicas: None,
            metrics: None,
            master_key: MasterKey::from_bytes(self.master_key),
            key_epochs: self.epoch_store(),
            key_epoch: self.key_epoch,
            sessions: self.sessions,
            public_origin: self.public_origin.clone(),
            trusted_proxies: self.trusted_proxies.clone(),
            dev_tools: false,
            mfa_required: self.mfa_required.clone(),
            rate_limits: self.rate_limits,
            clock,
            hasher: if self.production_hasher {
                PasswordHasher::new().unwrap()
            } else {
                PasswordHasher::for_tests()
            },
            mailer: commands::mail::Mailer::new(
                self.smtp_url.as_deref(),
                self.outbox.path(),
                "MedChain <medchain@localhost>",
                "http://medchain.test",
            )
            .unwrap(),
            blobs: commands::blobs::BlobStore::open(None, self.blobs.path()).unwrap(),
            uploads: self.uploads.clone(),
            share_sweep: std::time::Duration::from_millis(100),
            emergency: self.emergency,
            checkpoints: medchain::server::Checkpointing {
                store: self.checkpoint_store(),
                key: self.ledger_key.clone(),
                policy: self.checkpoint_policy,
                witnesses: self.witnesses.clone(),
                witness_silence: Duration::from_secs(2 * 3600),
            },
        }
    }

    /// The servers' key-epoch store.
    pub fn epoch_store(&self) -> commands::keys::EpochStore {
        commands::keys::EpochStore::directory(self.key_epochs.path())
    }

    /// A key ring like the servers' (the same master key and epoch store).
    pub fn key_ring(&self) -> commands::keys::KeyRing {
        commands::keys::KeyRing::new(&MasterKey::from_bytes(self.master_key), self.epoch_store())
    }

    /// The server's checkpoint store, for looking at what is kept.
    pub fn checkpoint_store(&self) -> commands::ledger::CheckpointStore {
        commands::ledger::CheckpointStore::open(self.checkpoints.path().to_str().unwrap()).unwrap()
    }

    pub async fn start_server(&mut self) {
        assert!(self.running.is_none(), "the server is already running");
        let (addr, running) = self.spawn_server().await;
        self.addr = addr;
        self.running = Some(running);
    }

    async fn spawn_server(&self) -> (SocketAddr, Running) {
        let pool = commands::db::connect(&self.db.url, 8)
            .await
            .expect("connecting the server's pool");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let (addr, task) = spawn(pool.clone(), self.config(), listener, async move {
            let _ = stopped.await;
        })
        .await
        .expect("the server starts");
        (addr, Running { stop, task, pool })
    }

    /// A second server process's worth (its own appender, projections, pool and
    /// background tasks) on the same database, keys, clock and blob store; it stops when
    /// the value is dropped.
    pub async fn another_server(&self) -> AnotherServer {
        let (addr, running) = self.spawn_server().await;
        AnotherServer {
            addr,
            _running: running,
        }
    }

    /// Makes an administrator as `medchain admin create` does (the same command, in
    /// process, with the server's keys and clock), waits for the users view to show them,
    /// and logs in: returns their id and token.
    pub async fn create_admin(&self, email: &str, name: &str) -> (String, String) {
        use commands::{
            EventStore, Kernel,
            accounts::{Accounts, RegisterRequest},
        };
        use domain::account::{Role, user::Registration};
        let clock: Arc<dyn Clock> = Arc::new(self.clock.clone());
        let keys = self.key_ring();
        let store = EventStore::start(self.pool.clone(), clock.clone());
        let accounts = Accounts::new(
            Kernel::new(store, keys.clone()),
            keys,
            PasswordHasher::for_tests(),
            clock,
            self.sessions,
        );
        let registered = accounts
            .register(RegisterRequest {
                email: email.to_owned(),
                password: STRONG.to_owned(),
                name: name.to_owned(),
                role: Role::Admin,
                phone: None,
                via: Registration::Cli,
                address: None,
            })
            .await
            .expect("admin create");
        let id = registered.user.to_string();
        let pool = self.pool.clone();
        let uuid = registered.user.as_uuid();
        eventually(
            Duration::from_secs(10),
            "the admin in the users view",
            || {
                let pool = pool.clone();
                async move {
                    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE id = $1")
                        .bind(uuid)
                        .fetch_one(&pool)
                        .await
                        .unwrap();
                    (n == 1).then_some(())
                }
            },
        )
        .await;
        (id, self.login(email, STRONG).await)
    }

    /// Stops the server (requests in flight finish) and closes its connections.
    pub async fn stop(&mut self) {
        let running = self.running.take().expect("the server is running");
        let _ = running.stop.send(());
        tokio::time::timeout(Duration::from_secs(30), running.task)
            .await
            .expect("the server stops within 30 s")
            .expect("the server task did not panic")
            .expect("the server ended without an I/O error");
        running.pool.close().await;
    }

    /// Stops the server and starts a new one on the same database, keys and clock.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.start_server().await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// POSTs one GraphQL operation.
    pub async fn gql(&self, cred: Cred<'_>, query: &str, variables: Value) -> Gql {
        self.gql_as(cred, None, query, variables).await
    }

    /// POSTs one GraphQL operation with a `User-Agent`.
    pub async fn gql_as(
        &self,
        cred: Cred<'_>,
        user_agent: Option<&str>,
        query: &str,
        variables: Value,
    ) -> Gql {
        let mut request = self
            .http
            .post(self.url("/graphql"))
            .json(&json!({"query": query, "variables": variables}));
        request = match cred {
            Cred::None => request,
            Cred::Bearer(token) => request.header("authorization", format!("Bearer {token}")),
            Cred::Cookie(token) => request.header("cookie", format!("medchain_session={token}")),
            Cred::Authorization(value) => request.header("authorization", value),
        };
        if let Some(ua) = user_agent {
            request = request.header("user-agent", ua);
        }
        let response = request.send().await.expect("POST /graphql");
        let status = response.status().as_u16();
        let set_cookies = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("the answer is not JSON ({e}): {status} {text}"));
        Gql {
            status,
            body,
            set_cookies,
        }
    }

    /// `GET /health`: the status and the JSON body.
    pub async fn health(&self) -> (u16, Value) {
        let response = self.http.get(self.url("/health")).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// Registers through the API; returns the `User` answered.
    pub async fn register(&self, email: &str, name: &str, role: &str, password: &str) -> Value {
        self.try_register(email, name, role, password, None)
            .await
            .ok()
            .get("register")
            .cloned()
            .unwrap()
    }

    pub async fn try_register(
        &self,
        email: &str,
        name: &str,
        role: &str,
        password: &str,
        phone: Option<&str>,
    ) -> Gql {
        self.gql(
            Cred::None,
            "mutation($input: RegisterInput!) { register(input: $input) \
             { id role status name email phone } }",
            json!({"input": {"email": email, "name": name, "role": role,
                             "password": password, "phone": phone}}),
        )
        .await
    }

    pub async fn try_login(&self, email: &str, password: &str) -> Gql {
        self.try_login_as(None, email, password).await
    }

    pub async fn try_login_as(&self, user_agent: Option<&str>, email: &str, password: &str) -> Gql {
        self.gql_as(
            Cred::None,
            user_agent,
            "mutation($e: String!, $p: String!) { login(email: $e, password: $p) \
             { token expiresAt user { id email role status } } }",
            json!({"e": email, "p": password}),
        )
        .await
    }

    /// Logs in and returns the session token.
    pub async fn login(&self, email: &str, password: &str) -> String {
        self.try_login(email, password).await.ok()["login"]["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// `me { id email name role status }` with these credentials.
    pub async fn me(&self, cred: Cred<'_>) -> Gql {
        self.gql(cred, "{ me { id email name role status } }", json!({}))
            .await
    }

    /// Waits until the projector `name` has caught up with the ledger's head.
    pub async fn view_settled(&self, name: &str) {
        let pool = self.pool.clone();
        let owned = name.to_owned();
        eventually(Duration::from_secs(10), name, || {
            let pool = pool.clone();
            let name = owned.clone();
            async move {
                let (head, done): (Option<i64>, Option<i64>) = sqlx::query_as(
                    "SELECT (SELECT max(seq) FROM events), \
                            (SELECT last_seq FROM projection_checkpoints WHERE name = $1)",
                )
                .bind(name)
                .fetch_one(&pool)
                .await
                .unwrap();
                (done >= head).then_some(())
            }
        })
        .await;
    }

    /// How many events of `event_type` the ledger holds.
    pub async fn count_events(&self, event_type: &str) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM events WHERE type = $1")
            .bind(event_type)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    pub async fn count_all_events(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}

/// Waits until `check` answers `Some`, looking again every 50 ms, and fails the test after
/// `within` (a bound on a wait, not an assertion about timing).
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
