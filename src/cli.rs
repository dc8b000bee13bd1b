//! The command line: `medchain serve`, `medchain ledger …`, `medchain bench …`.

use clap::{Args, Parser, Subcommand};
use std::{net::SocketAddr, path::PathBuf};

#[derive(Debug, Parser)]
#[command(
    name = "medchain",
    version,
    about = "Medical records on a hash-linked ledger"
)]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
pub struct Common {
    /// Data directory: the embedded PostgreSQL cluster, keys, checkpoints.
    #[arg(
        long,
        env = "MEDCHAIN_DATA_DIR",
        default_value = "./medchain-data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// How log lines are written to stderr: `text` (colours only on a terminal) or
    /// `json` (one object a line, for log shippers).
    #[arg(long, env = "MEDCHAIN_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"], global = true)]
    pub log_format: String,
    /// PostgreSQL URL; unset: the embedded cluster in the data directory.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<String>,
    /// Where signed checkpoints are kept: a directory, or `s3://bucket[/prefix]` with the
    /// usual AWS_* variables [default: <data-dir>/checkpoints].
    #[arg(long, env = "MEDCHAIN_CHECKPOINT_DIR", global = true)]
    pub checkpoint_dir: Option<String>,
    /// The ledger's Ed25519 key file [default: <data-dir>/ledger.key, created on first use].
    #[arg(long, env = "MEDCHAIN_LEDGER_KEY_FILE", global = true)]
    pub ledger_key_file: Option<PathBuf>,
    /// The master key file (32 bytes, hex) that wraps every other key [default:
    /// <data-dir>/master.key, created on first use with the embedded database; required
    /// with DATABASE_URL].
    #[arg(long, env = "MEDCHAIN_MASTER_KEY_FILE", global = true)]
    pub master_key_file: Option<PathBuf>,
    /// The master key in a hardware security module instead of a file: a PKCS#11 URI,
    /// `pkcs11:token=<label>;object=<label>?module-path=<library>&pin-source=<file>`
    /// (or `pin-value=<pin>`). The key is made in the module on first use if absent.
    #[arg(
        long,
        env = "MEDCHAIN_MASTER_KEY",
        hide_env_values = true,
        global = true
    )]
    pub master_key: Option<String>,
    /// Where key-epoch keys are kept (DESIGN.md §11), wrapped by the master key: a
    /// directory every server process shares, or s3://bucket[/prefix] on a bucket without
    /// versioning (checked at start); never inside the database [default:
    /// <data-dir>/key-epochs].
    #[arg(long, env = "MEDCHAIN_KEY_EPOCH_STORE", global = true)]
    pub key_epoch_store: Option<String>,
    /// How long a key epoch lasts before the scheduled rotation; an erasure is complete
    /// within about twice this.
    #[arg(long, env = "MEDCHAIN_KEY_EPOCH", default_value = "24h", value_parser = crate::config::parse_duration, global = true)]
    pub key_epoch: std::time::Duration,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(Box<ServeArgs>),
    /// Administrators' accounts.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// The read models: rebuild from the ledger, or check where each stands.
    #[command(subcommand)]
    Projections(ProjectionsCommand),
    /// Verify, export and sign the ledger.
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// Answer a question about the past by replaying the ledger up to a moment.
    Replay(ReplayArgs),
    /// Signed reports from the ledger, and checking them.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Witness a MedChain log: check each new signed tree head against the last one
    /// cosigned, cosign it and post the cosignature (DESIGN.md §9). Needs no database.
    Witness(WitnessCliArgs),
    /// Key epochs: where they stand, and rotating them (DESIGN.md §11).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Erasures: the signed certificate of one.
    #[command(subcommand)]
    Erasure(ErasureCommand),
    /// Back up the database (a base backup, then the WAL archived as it is written), the
    /// blobs, the key epochs and the newest signed head into a new directory; never the
    /// master key (keep it apart).
    Backup {
        /// The backup's directory (new or empty).
        #[arg(long)]
        out: PathBuf,
        /// Keep archiving WAL until stopped (Ctrl-C, SIGTERM), so a restore reaches the
        /// last event acknowledged before the stop; without it, up to now.
        #[arg(long)]
        follow: bool,
        /// The blob store, as `serve` has it [default: <data-dir>/blobs].
        #[arg(long, env = "MEDCHAIN_BLOB_STORE")]
        blob_store: Option<String>,
    },
    /// Restore a backup into a new data directory (`--data-dir`): checked against its
    /// manifest, the chain verified against the signed head and every blob against the
    /// ledger, erasures made since re-applied; exit 1 naming what failed; exit 2 when
    /// it falls short of a head that was signed or witnessed (the ledger is then frozen:
    /// the server starts read-only).
    Restore {
        /// The backup's directory.
        #[arg(long)]
        from: PathBuf,
        /// Where the blobs go, as `serve` will have it [default: <data-dir>/blobs].
        #[arg(long, env = "MEDCHAIN_BLOB_STORE")]
        blob_store: Option<String>,
        /// The witnesses whose cosignatures count, as `serve` has them; unset: any
        /// cosignature kept beside the heads that checks against its own key.
        #[arg(long, env = "MEDCHAIN_WITNESS_KEYS", value_parser = domain::ledger::cosignature::WitnessKeys::parse)]
        witness_keys: Option<domain::ledger::cosignature::WitnessKeys>,
    },
    /// A patient's export (DESIGN.md §12): check one offline.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Benchmarks: print figures and ratios measured in one run.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Developer tools.
    #[command(subcommand, hide = true)]
    Dev(DevCommand),
}

#[derive(Debug, Args, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "MEDCHAIN_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The URL people reach the app at (links in mails, the Origin subscriptions must
    /// come from) [default: http://<listen address>].
    #[arg(long, env = "MEDCHAIN_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Serve `GET /metrics` (Prometheus' text format) on this address, apart from the
    /// public listener; unset: no metrics endpoint at all.
    #[arg(long, env = "MEDCHAIN_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// PostgreSQL streaming replicas that GraphQL queries read from, comma-separated;
    /// writes, sessions, the file routes and the projectors stay on the primary.
    #[arg(
        long,
        env = "MEDCHAIN_REPLICA_URLS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub replica_urls: Vec<String>,
    /// How long a query waits for a replica to replay what the primary had committed
    /// when it arrived, before the primary answers it instead.
    #[arg(long, env = "MEDCHAIN_REPLICA_WAIT", default_value = "100ms", value_parser = crate::config::parse_duration)]
    pub replica_wait: std::time::Duration,
    /// A session ends after this long unused.
    #[arg(long, env = "MEDCHAIN_SESSION_IDLE", default_value = "30m", value_parser = crate::config::parse_duration)]
    pub session_idle: std::time::Duration,
    /// A session ends this long after login whatever its use.
    #[arg(long, env = "MEDCHAIN_SESSION_MAX", default_value = "12h", value_parser = crate::config::parse_session_max)]
    pub session_max: std::time::Duration,
    /// Where sealed blobs (photos, records) are kept: `file:///path`, or
    /// `s3://bucket[/prefix]` with the usual AWS_* variables (AWS_ENDPOINT, AWS_REGION,
    /// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ALLOW_HTTP) [default:
    /// <data-dir>/blobs].
    #[arg(long, env = "MEDCHAIN_BLOB_STORE")]
    pub blob_store: Option<String>,
    /// SMTP server for mail (`smtp://user:pass@host:port`, `smtps://…`) [default: `.eml`
    /// files in <data-dir>/outbox].
    #[arg(long, env = "MEDCHAIN_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The sender of MedChain's mail.
    #[arg(
        long,
        env = "MEDCHAIN_MAIL_FROM",
        default_value = "MedChain <medchain@localhost>"
    )]
    pub mail_from: String,
    /// The largest record a patient may upload (plaintext), e.g. `1GiB`, `200MiB`
    /// [default: 1GiB].
    #[arg(long, env = "MEDCHAIN_MAX_UPLOAD_BYTES", value_parser = crate::config::parse_size)]
    pub max_upload_bytes: Option<u64>,
    /// The earlier name of MEDCHAIN_MAX_UPLOAD_BYTES, accepted for one release.
    #[arg(long, env = "MEDCHAIN_UPLOAD_MAX", value_parser = crate::config::parse_size, hide = true)]
    pub upload_max: Option<u64>,
    /// The kinds of file accepted, decided from their bytes: a comma-separated list of
    /// MIME types (application/pdf, image/png, image/jpeg, application/dicom, text/plain,
    /// application/json) [default: all of them].
    #[arg(long, env = "MEDCHAIN_ALLOWED_TYPES", value_parser = crate::config::parse_kinds)]
    pub allowed_types: Option<crate::config::Kinds>,
    /// The earlier name of MEDCHAIN_ALLOWED_TYPES (kind names), accepted for one release.
    #[arg(long, env = "MEDCHAIN_UPLOAD_TYPES", value_parser = crate::config::parse_kinds, hide = true)]
    pub upload_types: Option<crate::config::Kinds>,
    /// How much a patient may keep in records (plaintext bytes, all records together).
    #[arg(long, env = "MEDCHAIN_QUOTA", default_value = "10GiB", value_parser = crate::config::parse_size)]
    pub quota: u64,
    /// How often to look for shares whose time has passed, to record their expiry (reads
    /// are refused from the moment itself).
    #[arg(long, env = "MEDCHAIN_SHARE_SWEEP", default_value = "30s", value_parser = crate::config::parse_duration)]
    pub share_sweep: std::time::Duration,
    /// How long an emergency access (break-glass) lasts once opened.
    #[arg(long, env = "MEDCHAIN_EMERGENCY_TTL", default_value = "1h", value_parser = crate::config::parse_duration)]
    pub emergency_ttl: std::time::Duration,
    /// How many emergency accesses a doctor may hold open at once.
    #[arg(long, env = "MEDCHAIN_EMERGENCY_MAX_OPEN", default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..))]
    pub emergency_max_open: u16,
    /// How many emergency accesses a doctor may open in any 24 hours.
    #[arg(long, env = "MEDCHAIN_EMERGENCY_MAX_PER_DAY", default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..))]
    pub emergency_max_per_day: u16,
    /// Sign the ledger's head after this many new events...
    #[arg(long, env = "MEDCHAIN_CHECKPOINT_EVERY", default_value_t = 1000, value_parser = clap::value_parser!(i64).range(1..))]
    pub checkpoint_every: i64,
    /// ...or after this long, when there is anything new.
    #[arg(long, env = "MEDCHAIN_CHECKPOINT_INTERVAL", default_value = "10m", value_parser = crate::config::parse_duration)]
    pub checkpoint_interval: std::time::Duration,
    /// Shorthand for MEDCHAIN_TRUSTED_PROXIES=127.0.0.0/8,::1 (a proxy on this machine).
    #[arg(long, env = "MEDCHAIN_TRUST_PROXY", default_value_t = false)]
    pub trust_proxy: bool,
    /// The proxies in front of the server (CIDRs, comma-separated): the client is the
    /// right-most X-Forwarded-For entry that is not one of them. Unset: the header is
    /// ignored.
    #[arg(long, env = "MEDCHAIN_TRUSTED_PROXIES", value_parser = graphql::TrustedProxies::parse)]
    pub trusted_proxies: Option<graphql::TrustedProxies>,
    /// The witnesses whose cosignatures of tree heads are accepted and shown:
    /// `name=<Ed25519 public key hex>,…`.
    #[arg(long, env = "MEDCHAIN_WITNESS_KEYS", value_parser = domain::ledger::cosignature::WitnessKeys::parse)]
    pub witness_keys: Option<domain::ledger::cosignature::WitnessKeys>,
    /// A witness that has cosigned no head for this long is flagged on the dashboard.
    #[arg(long, env = "MEDCHAIN_WITNESS_SILENCE", default_value = "2h", value_parser = crate::config::parse_duration)]
    pub witness_silence: std::time::Duration,
    /// The roles that must have a second factor, comma-separated (patient, doctor,
    /// admin); set but empty: none. Such a person without one may only enrol one.
    #[arg(long, env = "MEDCHAIN_MFA_REQUIRED", default_value = "admin", value_parser = |s: &str| domain::account::MfaPolicy::parse(s))]
    pub mfa_required: domain::account::MfaPolicy,
    /// Introspection for anonymous callers too (development only).
    #[arg(long, env = "MEDCHAIN_DEV_TOOLS", default_value_t = false)]
    pub dev_tools: bool,
}

#[derive(Debug, Args, Clone)]
pub struct WitnessCliArgs {
    /// The log's public URL, e.g. https://medchain.example.org.
    #[arg(long)]
    pub log: String,
    /// The witness's key: a 32-byte Ed25519 seed in hex, created 0600 when missing.
    #[arg(long)]
    pub key: PathBuf,
    /// Where the witness keeps the log's pinned key, the last head it cosigned and its
    /// status.
    #[arg(long)]
    pub state: PathBuf,
    /// The witness's name for itself, shown beside its cosignatures.
    #[arg(long, default_value = "witness")]
    pub name: String,
    /// The log's public key (hex); without it, the key of the first head seen is pinned.
    #[arg(long)]
    pub log_key: Option<String>,
    /// How long to wait between rounds.
    #[arg(long, default_value = "60s", value_parser = crate::config::parse_duration)]
    pub interval: std::time::Duration,
    /// One round, then exit: 0 if the head was cosigned (or none is signed yet), 1 if not.
    #[arg(long)]
    pub once: bool,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The moment: a seq (that event included) or an RFC 3339 time (every event recorded
    /// at or before it).
    #[arg(long)]
    pub at: String,
    #[command(subcommand)]
    pub query: ReplayQuery,
}

#[derive(Debug, Subcommand)]
pub enum ReplayQuery {
    /// Every user who could read the record's content then, as JSON on stdout:
    /// `{"record","at","seq","users":[{"id","role"}]}`.
    WhoCouldRead {
        #[arg(long)]
        record: uuid::Uuid,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// The accounting of disclosures: every read of the patient's records by anyone else,
    /// from the ledger, signed with the ledger key:
    /// `{"report", "head":{"seq","hash"}, "key", "sig"}`; prints the file's path.
    Disclosures {
        #[arg(long)]
        patient: uuid::Uuid,
        /// Only reads recorded at or after this time (RFC 3339).
        #[arg(long)]
        from: Option<String>,
        /// Only reads recorded at or before this time (RFC 3339).
        #[arg(long)]
        to: Option<String>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Check a signed report: its signature, that this ledger's key made it, and that its
    /// head is on this ledger.
    Verify { file: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an administrator. The password is read from the terminal, or from
    /// MEDCHAIN_ADMIN_PASSWORD when there is no terminal.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "Administrator")]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProjectionsCommand {
    /// Replay the ledger into fresh tables and swap them in (all projectors, or NAME).
    Rebuild { name: Option<String> },
    /// Replay every projection into scratch tables and compare each table's hash with the
    /// live one; print where each stands; exit 1 naming any that differs or stopped.
    Check,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// The epochs, the keys each wraps, and when the next rotation is due, as JSON.
    Status,
    /// Rotate now: a new epoch, every key moved under it, the older epochs' keys
    /// destroyed. Waits for nothing: exit 3 when another process is rotating.
    Rotate,
    /// Move the master key from its file into a hardware security module: the epoch keys
    /// sealed again by the module, the file's bytes kept sealed as the derivation root so
    /// every sign-in still works. Then set MEDCHAIN_MASTER_KEY to the same URI.
    MoveToHsm {
        /// The PKCS#11 URI of the key in the module (made there if absent).
        #[arg(long)]
        to: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Check an export offline: the manifest's signature, every member's hash, each file
    /// sealed again against its ciphertext's SHA-256 on the ledger, each event's hash and
    /// inclusion proof, the head's signature; exit 1 naming the first place that fails.
    Verify {
        file: PathBuf,
        /// The ledger's public key (hex, as `ledger pubkey` prints it); without it, the
        /// key in the export's own head.
        #[arg(long)]
        pubkey: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ErasureCommand {
    /// The signed certificate (DESIGN.md §11) of SUBJECT's erasure: `user-<id>` or
    /// `record-<id>`, as JSON on stdout.
    Certificate { subject: String },
}

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Recompute the chain from seq 1; exit 1 naming the first bad seq.
    Verify {
        /// Also check against this signed checkpoint.
        #[arg(long)]
        checkpoint: Option<PathBuf>,
    },
    /// Write the ledger as JSON Lines, one event a line.
    Export {
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign the head and write it to the checkpoint directory; prints the file's path.
    Checkpoint,
    /// Print the ledger's public key (lowercase hex).
    Pubkey,
    /// A receipt (DESIGN.md §9) for event SEQ: the event, its inclusion proof in the tree
    /// of SIZE events (default: the newest signed tree head's) and that head, as JSON on
    /// stdout; `check-proof` checks it.
    Prove {
        #[arg(long)]
        seq: i64,
        #[arg(long)]
        size: Option<i64>,
    },
    /// The consistency proof from the signed tree head of size FROM to that of TO
    /// (default: the newest), with both heads, as JSON on stdout.
    Consistency {
        #[arg(long)]
        from: i64,
        #[arg(long)]
        to: Option<i64>,
    },
    /// Check a receipt or a consistency file offline, against the ledger's public key K
    /// (hex, as `ledger pubkey` prints it); exit 1 saying what fails.
    CheckProof {
        file: PathBuf,
        #[arg(long)]
        pubkey: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Append throughput and latency: group commit vs one transaction per append vs the
    /// batched-insert limit, at several writer counts; then verify speed.
    Ledger {
        /// Seconds each measurement runs.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// Writer counts to measure.
        #[arg(long, value_delimiter = ',', default_value = "1,16,64,256")]
        writers: Vec<usize>,
        /// Events to verify at the end, and to prove against in the transparency log's
        /// measurements (appended first if the run wrote fewer).
        #[arg(long, default_value_t = 1_000_000)]
        verify_events: i64,
    },
    /// The API's cost: `me` beside a bare async-graphql query, logins beside the bare
    /// Argon2id rate.
    Api {
        /// Seconds each measurement runs.
        #[arg(long, default_value_t = 6)]
        seconds: u64,
        /// Concurrent clients for `me`.
        #[arg(long, default_value_t = 64)]
        clients: usize,
    },
    /// Key rotation at scale: a million wrapped keys moved into epoch 1 and rotated to
    /// epoch 2 (keys/s), downloads' p99 during the rotation beside without.
    Keys {
        #[arg(long, default_value_t = 1_000_000)]
        keys: u64,
    },
    /// Record upload and download rates (1 MiB, 64 MiB, 1 GiB) through a `serve` child
    /// process, with its peak memory, beside bare AES-256-GCM and SHA-256.
    Records,
    /// Latency from an event to its notification, with 1 000 subscriptions open across
    /// two `serve` child processes.
    Notifications,
    /// 1, 2 and 4 `serve` processes on one database under the same mixed load: requests/s
    /// and p99 per process and in total, requests per CPU-second, then proof that
    /// nothing was lost or doubled.
    Scale {
        /// Seconds each round's load runs.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Process counts, one round each.
        #[arg(long, value_delimiter = ',', default_value = "1,2,4")]
        processes: Vec<usize>,
    },
    /// `whoCouldRead` asked at a point N events deep (the library call and through the
    /// GraphQL API), beside a full rebuild of every projector from the same ledger.
    Replay {
        /// Events in the ledger when the question is asked.
        #[arg(long, default_value_t = 1_000_000)]
        events: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum DevCommand {
    /// Run and supervise the shared PostgreSQL cluster of the test suite.
    TestCluster {
        #[arg(long)]
        dir: PathBuf,
    },
    /// Append events in a loop, printing "<seq> <id>" for each acknowledged one (used by
    /// the crash test).
    AppendLoop,
    /// Print the GraphQL schema as SDL (for contract-check).
    Schema,
}
