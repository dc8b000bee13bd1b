//! `medchain witness`: an independent witness of a MedChain log (DESIGN.md §9), run by
//! anyone, anywhere, with its own key. Each round it fetches the log's newest signed tree
//! head, checks its signature (against `--log-key`, or the key it pinned on its first
//! run) and its consistency with the last head it cosigned, then cosigns it and posts the
//! cosignature. A head that is not consistent with what it cosigned before (a rewritten
//! or forked history) is never cosigned: the witness says so, and with `--once` exits 1.
//!
//! What it keeps in `--state`: `log.key` (the pinned log key), `last.json` (the last head
//! it cosigned: size and root) and `status` (`0` after a good round; otherwise a non-zero
//! first line and what went wrong), for an operator's monitoring.

use anyhow::Context as _;
use commands::{Clock as _, SystemClock, keys::LedgerKey};
use domain::ledger::{
    Hash, SignedCheckpoint, cosignature::Cosignature, merkle::verify_consistency,
};
use serde_json::{Value, json};
use std::{
    path::{Path, PathBuf},
    time::Duration,
};

#[derive(Debug, Clone)]
pub struct WitnessArgs {
    pub log: String,
    pub key: PathBuf,
    pub state: PathBuf,
    pub name: String,
    pub log_key: Option<String>,
    pub interval: Duration,
    pub once: bool,
}

#[derive(Debug, thiserror::Error)]
enum Problem {
    /// The log showed a history inconsistent with what this witness cosigned.
    #[error("FORK: {0}")]
    Fork(String),
    #[error("{0}")]
    Other(#[from] anyhow::Error),
}

/// What a round did.
enum Round {
    NothingSigned,
    Cosigned { seq: i64 },
}

pub async fn run(args: WitnessArgs) -> anyhow::Result<i32> {
    let key = LedgerKey::load_or_create(&args.key)
        .with_context(|| format!("the witness key {}", args.key.display()))?;
    create_private_dir(&args.state)?;
    eprintln!(
        "witness {:?} ({}) watching {}",
        args.name,
        key.public_hex(),
        args.log
    );
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    loop {
        let outcome = round(&client, &args, &key).await;
        let status = match &outcome {
            Ok(Round::Cosigned { seq }) => {
                eprintln!("cosigned the head of size {seq}");
                "0\n".to_owned()
            }
            Ok(Round::NothingSigned) => {
                eprintln!("the log has signed no tree head yet");
                "0\n".to_owned()
            }
            Err(problem) => {
                eprintln!("error: {problem}");
                format!("1\n{problem}\n")
            }
        };
        std::fs::write(args.state.join("status"), status)?;
        if args.once {
            return Ok(i32::from(outcome.is_err()));
        }
        tokio::time::sleep(args.interval).await;
    }
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating the state directory {}", dir.display()))
}

async fn get_json(client: &reqwest::Client, url: &str) -> anyhow::Result<Option<Value>> {
    let response = client
        .get(url)
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    if response.status() == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    anyhow::ensure!(
        response.status().is_success(),
        "GET {url}: {}",
        response.status()
    );
    Ok(Some(
        response
            .json()
            .await
            .with_context(|| format!("GET {url}: not JSON"))?,
    ))
}

fn hex_key(raw: &str) -> anyhow::Result<ed25519_dalek::VerifyingKey> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(raw.trim(), &mut bytes).context("a key is 32 bytes of hex")?;
    ed25519_dalek::VerifyingKey::from_bytes(&bytes).context("not an Ed25519 public key")
}

async fn round(
    client: &reqwest::Client,
    args: &WitnessArgs,
    key: &LedgerKey,
) -> Result<Round, Problem> {
    let base = args.log.trim_end_matches('/');
    let Some(doc) = get_json(client, &format!("{base}/api/log/checkpoint")).await? else {
        return Ok(Round::NothingSigned);
    };
    let head = SignedCheckpoint::parse(&doc.to_string())
        .map_err(|e| anyhow::anyhow!("the log's head: {e}"))?;
    // The log's key: the one given, else the one pinned on the first run.
    let pinned = args.state.join("log.key");
    let log_key = match &args.log_key {
        Some(raw) => hex_key(raw)?,
        None => match std::fs::read_to_string(&pinned) {
            Ok(raw) => hex_key(&raw)?,
            Err(_) => {
                std::fs::write(&pinned, hex::encode(head.key.as_bytes()))
                    .map_err(anyhow::Error::from)?;
                eprintln!("pinned the log's key {}", hex::encode(head.key.as_bytes()));
                head.key
            }
        },
    };
    head.require_key(&log_key)
        .map_err(|e| Problem::Fork(format!("the head is not signed by the log's key: {e}")))?;
    let seq = head.checkpoint.seq;
    let root = head
        .checkpoint
        .root
        .ok_or_else(|| anyhow::anyhow!("the newest checkpoint has no Merkle root"))?;
    let last_file = args.state.join("last.json");
    let last: Option<(i64, Hash)> = match std::fs::read_to_string(&last_file) {
        Ok(text) => {
            let doc: Value = serde_json::from_str(&text).map_err(anyhow::Error::from)?;
            let last_seq = doc["seq"].as_i64().context("last.json has no seq")?;
            let last_root = doc["root"]
                .as_str()
                .and_then(|r| Hash::parse_hex(r).ok())
                .context("last.json has no root")?;
            Some((last_seq, last_root))
        }
        Err(_) => None,
    };
    if let Some((last_seq, last_root)) = last {
        if seq < last_seq {
            return Err(Problem::Fork(format!(
                "the log's newest head has size {seq}, below the size {last_seq} this witness cosigned"
            )));
        }
        if seq == last_seq && root != last_root {
            return Err(Problem::Fork(format!(
                "the log signed two different roots for size {seq}"
            )));
        }
        if seq > last_seq {
            let url = format!("{base}/api/log/consistency?from={last_seq}&to={seq}");
            let proof = get_json(client, &url)
                .await?
                .ok_or_else(|| anyhow::anyhow!("GET {url}: not found"))?;
            let path: Vec<Hash> = proof["path"]
                .as_array()
                .context("the consistency proof has no path")?
                .iter()
                .map(|h| h.as_str().and_then(|h| Hash::parse_hex(h).ok()))
                .collect::<Option<_>>()
                .context("a path entry is not a hash")?;
            if !verify_consistency(last_seq as u64, seq as u64, &last_root, &root, &path) {
                return Err(Problem::Fork(format!(
                    "the head of size {seq} is not consistent with the head of size {last_seq} this witness cosigned"
                )));
            }
        }
    }
    let cosig = Cosignature::sign(
        key.signing_key(),
        &args.name,
        &log_key,
        seq,
        root,
        SystemClock.now(),
    );
    let url = format!("{base}/api/log/cosignature");
    let posted = client
        .post(&url)
        .json(&cosig.to_json())
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    let status = posted.status();
    if !status.is_success() {
        let body = posted.text().await.unwrap_or_default();
        return Err(anyhow::anyhow!("POST {url}: {status} {body}").into());
    }
    std::fs::write(
        &last_file,
        json!({"seq": seq, "root": root.to_hex()}).to_string(),
    )
    .map_err(anyhow::Error::from)?;
    Ok(Round::Cosigned { seq })
}
