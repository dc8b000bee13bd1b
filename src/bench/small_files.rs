//! Part of `bench records`: where a 1 MiB upload and download spend their time, beside
//! their floors measured in the same run. The phases come from the server's
//! `Server-Timing` header (an upload: checks, receive, seal, blob, append, wait; a
//! download, before its first byte: auth, open); the rest of each request is the client's
//! own clock. The floors: an upload cannot take less than sealing and hashing 1 MiB
//! (the run's bare AES-256-GCM and SHA-256 rates), one fsynced 1 MiB write to the blob
//! disk and one ledger append; a download, than reading 1 MiB, opening it (bare
//! AES-256-GCM) and one ledger append (the read is on the ledger before its first byte).

use super::measure::Latencies;
use commands::{EventStore, ExpectedVersion, SystemClock, event_store::NewEvent};
use domain::{EventType, StreamName};
use futures::StreamExt as _;
use serde_json::Value;
use std::{
    collections::BTreeMap,
    io::Write as _,
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};
use uuid::Uuid;

const MIB: usize = 1024 * 1024;
const TRANSFERS: usize = 40;

/// Runs the transfers against the server at `addr` (blobs in `blobs`, ledger at `url`)
/// and prints the breakdown and the ratios.
pub(super) async fn measure(
    client: &reqwest::Client,
    addr: &str,
    token: &str,
    blobs: &Path,
    url: &str,
    aes_mib_s: f64,
    sha_mib_s: f64,
) -> anyhow::Result<()> {
    let mut file = vec![0u8; MIB];
    for (i, b) in file.iter_mut().enumerate() {
        *b = (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0];
    }
    file[..9].copy_from_slice(b"%PDF-1.7\n");
    let (mut up, mut down, mut first_byte) = (
        Latencies::default(),
        Latencies::default(),
        Latencies::default(),
    );
    let mut up_phases: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut down_phases: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for _ in 0..TRANSFERS {
        let form = reqwest::multipart::Form::new().text("title", "small").part(
            "file",
            reqwest::multipart::Part::bytes(file.clone()).file_name("small.pdf"),
        );
        let started = Instant::now();
        let response = client
            .post(format!("http://{addr}/api/records"))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await?;
        anyhow::ensure!(
            response.status().as_u16() == 201,
            "upload: {}",
            response.status()
        );
        phases(response.headers(), &mut up_phases);
        let id = response.json::<Value>().await?["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        up.record(started.elapsed());

        let started = Instant::now();
        let response = client
            .get(format!("http://{addr}/api/records/{id}/content"))
            .bearer_auth(token)
            .send()
            .await?;
        anyhow::ensure!(
            response.status().as_u16() == 200,
            "download: {}",
            response.status()
        );
        first_byte.record(started.elapsed());
        phases(response.headers(), &mut down_phases);
        let mut body = response.bytes_stream();
        let mut got = 0;
        while let Some(chunk) = body.next().await {
            got += chunk?.len();
        }
        anyhow::ensure!(got == MIB, "download: {got} bytes");
        down.record(started.elapsed());
    }

    let write = median_ms(fsynced_writes(blobs)?);
    let append = median_ms(ledger_appends(url).await?);
    let seal_hash = 1000.0 / aes_mib_s + 1000.0 / sha_mib_s;
    let open = 1000.0 / aes_mib_s;
    let read = median_ms(reads(blobs)?);
    let up_floor = seal_hash + write + append;
    let down_floor = read + open + append;
    let (up50, down50) = (up.percentile_ms(50.0), down.percentile_ms(50.0));
    println!("1 MiB, {TRANSFERS} of each (p50; phases are medians, in order):");
    println!(
        "  upload   {up50:>6.2} ms  p99 {:>6.2}  [{}]",
        up.percentile_ms(99.0),
        shown(&up_phases)
    );
    println!(
        "  download {down50:>6.2} ms  p99 {:>6.2}  first byte {:.2}  [{}]",
        down.percentile_ms(99.0),
        first_byte.percentile_ms(50.0),
        shown(&down_phases)
    );
    println!(
        "  floors: seal + hash {seal_hash:.2} ms, fsynced 1 MiB write {write:.2} ms, ledger \
         append {append:.2} ms; read {read:.2} ms, open {open:.2} ms"
    );
    println!(
        "  target upload p50 <= 2x its floor ({up_floor:.2} ms): {:.2}x; download p50 <= 2x \
         its floor ({down_floor:.2} ms): {:.2}x",
        up50 / up_floor,
        down50 / down_floor
    );
    Ok(())
}

/// Adds a response's `Server-Timing` phases (`name;dur=ms, …`) to `into`.
fn phases(headers: &reqwest::header::HeaderMap, into: &mut BTreeMap<String, Vec<f64>>) {
    let Some(timing) = headers.get("server-timing").and_then(|v| v.to_str().ok()) else {
        return;
    };
    for part in timing.split(',') {
        if let Some((name, dur)) = part.trim().split_once(";dur=")
            && let Ok(ms) = dur.parse::<f64>()
        {
            into.entry(name.to_owned()).or_default().push(ms);
        }
    }
}

/// The phases in the server's order, each its median.
fn shown(phases: &BTreeMap<String, Vec<f64>>) -> String {
    let order = [
        "auth", "checks", "receive", "seal", "blob", "append", "wait", "open",
    ];
    order
        .iter()
        .filter_map(|name| {
            phases
                .get(*name)
                .map(|all| format!("{name} {:.2}", median(all.clone())))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn median(mut figures: Vec<f64>) -> f64 {
    figures.sort_by(f64::total_cmp);
    figures[figures.len() / 2]
}

fn median_ms(took: Vec<Duration>) -> f64 {
    median(took.iter().map(|d| d.as_secs_f64() * 1000.0).collect())
}

/// 1 MiB written to a new file beside the blobs and made durable (file and directory
/// synced), as a small blob is: each time taken.
fn fsynced_writes(dir: &Path) -> anyhow::Result<Vec<Duration>> {
    let bytes = vec![0x6bu8; MIB];
    let mut took = Vec::new();
    for n in 0..15 {
        let path = dir.join(format!("floor-{n}.tmp"));
        let started = Instant::now();
        let mut file = std::fs::File::create(&path)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        std::fs::File::open(dir)?.sync_all()?;
        took.push(started.elapsed());
        std::fs::remove_file(&path)?;
    }
    Ok(took)
}

/// 1 MiB read back from a file beside the blobs (from the page cache, as a blob just
/// written is read): each time taken.
fn reads(dir: &Path) -> anyhow::Result<Vec<Duration>> {
    let path = dir.join("floor-read.tmp");
    std::fs::write(&path, vec![0x6bu8; MIB])?;
    let mut took = Vec::new();
    for _ in 0..15 {
        let started = Instant::now();
        std::hint::black_box(std::fs::read(&path)?);
        took.push(started.elapsed());
    }
    std::fs::remove_file(&path)?;
    Ok(took)
}

/// One event appended at a time on the server's ledger: each time taken.
async fn ledger_appends(url: &str) -> anyhow::Result<Vec<Duration>> {
    let pool = sqlx::PgPool::connect(url).await?;
    let store = EventStore::start(pool.clone(), Arc::new(SystemClock));
    let stream = StreamName::new("bench", Uuid::new_v4())?;
    let event_type = EventType::parse("BenchAppended")?;
    let mut took = Vec::new();
    for version in 0..15 {
        let payload = serde_json::json!({"n": version});
        let started = Instant::now();
        let event = NewEvent::new(event_type.clone(), None, &payload)?;
        store
            .append(&stream, ExpectedVersion::Exact(version), vec![event])
            .await?;
        took.push(started.elapsed());
    }
    drop(store);
    pool.close().await;
    Ok(took)
}
