//! `medchain bench records`: upload and download rates of records through a real
//! `medchain serve` child process (its own scratch database and data directory), for
//! 1 MiB, 64 MiB and 1 GiB files, with that process's peak resident memory, beside this
//! machine's bare AES-256-GCM (64 KiB segments, one core) and SHA-256 rates measured in
//! the same run, and the blob disk's own write + fsync and read rates, measured the way
//! blobs are written and read (past the page cache, 2 MiB at a time; a blob is on stable
//! storage before the ledger names it). Target: ≥ 50% of the bare AES-256-GCM rate for
//! 64 MiB and up. Blobs bypass the page cache both ways, so no transfer outruns the
//! disk: each rate is also given as a share of the disk's. The same transfers are then
//! measured with the blobs in memory (tmpfs), where no transfer waits for a disk; but
//! there the kernel copies every byte stored or read, in the server's time, where a disk
//! is written and read by its controller.
//! It also prints the ceiling this machine puts on uploads: the ciphertext's SHA-256 is
//! one pass in order, so no upload outruns bare SHA-256.
//!
//! The client (this process) shares the machine with the server: it generates the
//! upload and reads the download as fast as it can, which is part of what is measured.
//! Each figure is the median of three measurements (a gibibyte transfer: one), after one
//! warm-up transfer. It also prints what each transfer cost in CPU time, server and
//! client apart, per GiB: on a shared machine that says more about the code than a rate.
//! That is each process's own time; what the kernel does in threads of its own (writing
//! back cached pages, which direct I/O leaves little of) is not in it.

use super::measure::{process_cpu, process_cpu_of};
use crate::cli::Common;
use aes_gcm::{
    Aes256Gcm,
    aead::{AeadInOut as _, KeyInit as _, Nonce},
};
use bytes::Bytes;
use futures::StreamExt as _;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use std::{
    io::{BufRead as _, BufReader},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

const PASSWORD: &str = "a long bench passphrase, 2026";
const MIB: u64 = 1 << 20;
const SIZES: [u64; 3] = [MIB, 64 * MIB, 1024 * MIB];

pub(super) struct Child_(pub(super) Child);

impl Drop for Child_ {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub async fn run(common: &Common) -> anyhow::Result<()> {
    super::measure::in_scratch_database(common, |url| async move { bench_in(&url).await }).await
}

/// Every figure is measured this many times and the median kept: the machine is shared,
/// and one neighbour's burst should not decide a ratio.
const REPEATS: usize = 3;

/// Transfers of a size to measure. A gibibyte is sent once: gibibytes written back to
/// back outrun what a cloud disk sustains (its burst), and the figure would be the
/// disk's, not the upload's.
fn repeats(size: u64) -> usize {
    if size >= 1024 * MIB { 1 } else { REPEATS }
}

fn median(mut figures: Vec<f64>) -> f64 {
    figures.sort_by(f64::total_cmp);
    figures[figures.len() / 2]
}

fn rate(bytes: u64, took: Duration) -> f64 {
    bytes as f64 / MIB as f64 / took.as_secs_f64()
}

/// Bare AES-256-GCM over 256 MiB in 64 KiB segments, in place, on one core: MiB/s.
fn bare_aes() -> f64 {
    let cipher = Aes256Gcm::new(&[7u8; 32].into());
    let mut segment = vec![0x5au8; 64 * 1024];
    let rounds = 4 * 1024;
    let started = Instant::now();
    for i in 0..rounds {
        let mut nonce = [0u8; 12];
        nonce[..4].copy_from_slice(&(i as u32).to_be_bytes());
        let tag = cipher
            .encrypt_inout_detached(
                &Nonce::<Aes256Gcm>::from(nonce),
                b"",
                segment.as_mut_slice().into(),
            )
            .expect("a segment encrypts");
        std::hint::black_box(&tag);
    }
    rate(rounds as u64 * 64 * 1024, started.elapsed())
}

/// Bare SHA-256 over 256 MiB: MiB/s.
fn bare_sha256() -> f64 {
    let block = vec![0xa5u8; MIB as usize];
    let started = Instant::now();
    let mut hasher = Sha256::new();
    for _ in 0..256 {
        hasher.update(&block);
    }
    std::hint::black_box(hasher.finalize());
    rate(256 * MIB, started.elapsed())
}

/// The blob disk's write + fsync and read rates for 256 MiB, written and read as blobs
/// are: MiB/s each, the median of three, and how they were written and read.
fn bare_disk(dir: &std::path::Path) -> anyhow::Result<(f64, f64, &'static str)> {
    let (mut writes, mut reads, mut direct) = (Vec::new(), Vec::new(), true);
    for _ in 0..REPEATS {
        let probe = commands::blobs::probe_disk(dir, 256)?;
        writes.push(rate(256 * MIB, probe.write));
        reads.push(rate(256 * MIB, probe.read));
        direct &= probe.direct;
    }
    let how = if direct {
        "direct, 2 MiB"
    } else {
        "through the page cache"
    };
    Ok((median(writes), median(reads), how))
}

/// What an upload costs besides its crypto, on one core: 256 MiB received from a local
/// TCP socket (a sender thread beside it) and written to a file in `dir`, then synced,
/// as the server must; core-seconds per GiB, this thread's CPU only (the median of
/// three). The bare AES + SHA cost leaves this out, so an upload's CPU cannot come
/// nearer to it than this.
fn bare_io(dir: &std::path::Path) -> anyhow::Result<f64> {
    use std::io::{Read as _, Write as _};
    const BYTES: usize = 256 * MIB as usize;
    let mut figures = Vec::new();
    for _ in 0..REPEATS {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let to = listener.local_addr()?;
        let sender = std::thread::spawn(move || -> std::io::Result<()> {
            let mut socket = std::net::TcpStream::connect(to)?;
            let chunk = vec![0x42u8; 64 * 1024];
            for _ in 0..BYTES / chunk.len() {
                socket.write_all(&chunk)?;
            }
            Ok(())
        });
        let (mut socket, _) = listener.accept()?;
        let path = dir.join(format!("bare-io-{}", uuid::Uuid::new_v4()));
        let mut file = std::fs::File::create(&path)?;
        let mut buffer = vec![0u8; 256 * 1024];
        let before = super::measure::thread_cpu().unwrap_or_default();
        let mut received = 0;
        while received < BYTES {
            let n = socket.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            file.write_all(&buffer[..n])?;
            received += n;
        }
        file.sync_all()?;
        let spent = super::measure::thread_cpu()
            .unwrap_or_default()
            .saturating_sub(before);
        drop(file);
        std::fs::remove_file(&path)?;
        sender
            .join()
            .map_err(|_| anyhow::anyhow!("the sender thread panicked"))??;
        figures.push(spent.as_secs_f64() * (1024 * MIB) as f64 / received.max(1) as f64);
    }
    Ok(median(figures))
}

/// Room a run with the blobs in memory needs: a gibibyte record and the smaller ones.
const IN_MEMORY_ROOM: u64 = 2048 * MIB;

/// A scratch directory in memory (tmpfs) with room for the transfers, if there is one.
fn in_memory() -> anyhow::Result<Option<tempfile::TempDir>> {
    let shm = std::path::Path::new("/dev/shm");
    if !shm.is_dir() {
        println!("(no /dev/shm: no run with the blobs in memory)");
        return Ok(None);
    }
    let fs = rustix::fs::statvfs(shm)?;
    let room = fs.f_bavail.saturating_mul(fs.f_frsize);
    if room < IN_MEMORY_ROOM {
        println!(
            "(/dev/shm has {} MiB free, under the {} MiB a run needs: no run with the blobs in memory)",
            room / MIB,
            IN_MEMORY_ROOM / MIB
        );
        return Ok(None);
    }
    Ok(Some(tempfile::tempdir_in(shm)?))
}

fn peak_rss(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kib| kib * 1024)
}

pub(super) async fn gql(
    client: &reqwest::Client,
    addr: &str,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> anyhow::Result<Value> {
    let mut request = client
        .post(format!("http://{addr}/graphql"))
        .json(&json!({"query": query, "variables": variables}));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let answer: Value = request.send().await?.json().await?;
    anyhow::ensure!(answer["errors"].is_null(), "GraphQL: {answer}");
    Ok(answer)
}

/// A `serve` child on `url` with its own data directory; returns it with its address.
pub(super) fn serve(
    url: &str,
    key: &std::path::Path,
    dir: &std::path::Path,
) -> anyhow::Result<(Child_, String)> {
    // Children of one bench share the blob store, as processes of one deployment do.
    serve_with_blobs(url, key, dir, &key.parent().unwrap_or(dir).join("blobs"))
}

/// A `serve` child as `serve` starts it, with its blobs in `blobs`.
fn serve_with_blobs(
    url: &str,
    key: &std::path::Path,
    dir: &std::path::Path,
    blobs: &std::path::Path,
) -> anyhow::Result<(Child_, String)> {
    let mut child = Child_(
        Command::new(std::env::current_exe()?)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .env("DATABASE_URL", url)
            .env("MEDCHAIN_MASTER_KEY_FILE", key)
            // Every process of a deployment shares the key epochs, as it shares the key.
            .env(
                "MEDCHAIN_KEY_EPOCH_STORE",
                key.parent().unwrap_or(dir).join("key-epochs"),
            )
            .env("MEDCHAIN_UPLOAD_MAX", "2GiB")
            // The bench's administrator signs in with a password alone.
            .env("MEDCHAIN_MFA_REQUIRED", "")
            // The bench stands in front as the proxy of many clients' addresses.
            .env("MEDCHAIN_TRUST_PROXY", "true")
            .env("MEDCHAIN_BLOB_STORE", format!("file://{}", blobs.display()))
            .env("RUST_LOG", "warn")
            .stderr(Stdio::piped())
            .spawn()?,
    );
    let mut stderr = BufReader::new(child.0.stderr.take().expect("piped"));
    let mut said = String::new();
    let addr = loop {
        let mut line = String::new();
        anyhow::ensure!(
            stderr.read_line(&mut line)? > 0,
            "the server exited before listening: {said}"
        );
        said.push_str(&line);
        if let Some(addr) = line.trim().strip_prefix("medchain listening on http://") {
            break addr.to_owned();
        }
    };
    std::thread::spawn(move || for _ in stderr.lines() {});
    Ok((child, addr))
}

async fn bench_in(url: &str) -> anyhow::Result<()> {
    let aes = median((0..REPEATS).map(|_| bare_aes()).collect());
    let sha = median((0..REPEATS).map(|_| bare_sha256()).collect());
    println!("each figure is the median of {REPEATS} measurements (1 GiB transfers: one)");
    println!("bare AES-256-GCM (64 KiB segments, 1 core): {aes:>8.0} MiB/s");
    println!("bare SHA-256 (1 core):                      {sha:>8.0} MiB/s");
    // An upload's ciphertext is hashed whole (its SHA-256 names the blob and is on the
    // ledger), in one pass no number of cores can split: no upload outruns bare SHA-256.
    println!(
        "upload ceiling (bare SHA-256 / bare AES):   {:>8.2}  (every ciphertext byte is hashed once, in order)",
        sha / aes
    );

    let dir = tempfile::tempdir()?;
    let key = super::people::master_key_file(dir.path(), 13)?;
    // Signing in (Argon2id: 19 MiB a hash, which the allocator keeps) goes through one
    // process; the transfers through others, whose memory is then the transfers' own.
    let (_front, front) = serve(url, &key, &dir.path().join("front"))?;
    let client = reqwest::Client::new();
    gql(
        &client,
        &front,
        None,
        "mutation($i: RegisterInput!) { register(input: $i) { id } }",
        json!({"i": {"email": "rowan.q@example.org", "password": PASSWORD, "name": "Rowan Quill", "role": "PATIENT"}}),
    )
    .await?;
    let login = gql(
        &client,
        &front,
        None,
        "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }",
        json!({"e": "rowan.q@example.org", "p": PASSWORD}),
    )
    .await?;
    let token = login["data"]["login"]["token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    let on_disk = dir.path().join("blobs");
    std::fs::create_dir_all(&on_disk)?;
    let in_memory = in_memory()?;
    let mut stores = vec![(format!("on disk, in {}", on_disk.display()), on_disk)];
    stores.extend(in_memory.as_ref().map(|m| {
        (
            "in memory (tmpfs: no disk to wait for, but the kernel copies every byte)".into(),
            m.path().to_owned(),
        )
    }));
    let speeds = Speeds { aes, sha };
    for (n, (label, blobs)) in stores.into_iter().enumerate() {
        println!();
        let (server, addr) =
            serve_with_blobs(url, &key, &dir.path().join(format!("data{n}")), &blobs)?;
        measure_store(
            &client,
            &addr,
            &token,
            server.0.id(),
            &label,
            &blobs,
            speeds,
        )
        .await?;
        super::small_files::measure(&client, &addr, &token, &blobs, url, aes, sha).await?;
    }
    println!();
    println!("target: upload and download >= 0.50 of bare AES-256-GCM for 64 MiB and up");
    Ok(())
}

#[derive(Clone, Copy)]
struct Speeds {
    aes: f64,
    sha: f64,
}

/// Transfers of every size through server `pid`, whose blobs are in `blobs`: the rates
/// and their CPU time per GiB.
async fn measure_store(
    client: &reqwest::Client,
    addr: &str,
    token: &str,
    pid: u32,
    label: &str,
    blobs: &std::path::Path,
    Speeds { aes, sha }: Speeds,
) -> anyhow::Result<()> {
    let (disk_write, disk_read, how) = bare_disk(blobs)?;
    let io = bare_io(blobs)?;
    println!("== blobs {label}");
    println!("its write + fsync ({how}): {disk_write:>8.0} MiB/s");
    println!("its read ({how}):          {disk_read:>8.0} MiB/s");
    println!(
        "transfer server peak RSS before any transfer: {:.1} MiB",
        peak_rss(pid) as f64 / MIB as f64
    );
    println!(
        "{:>8} {:>12} {:>7} {:>7} {:>8} {:>9} {:>7} {:>8} {:>9}",
        "size",
        "upload MiB/s",
        "vs AES",
        "vs SHA",
        "vs disk",
        "download",
        "vs AES",
        "vs disk",
        "peak RSS"
    );
    // The first request of a fresh process opens its database connections and prepares
    // its statements; a warm-up transfer keeps that out of the figures (a server that
    // has been up for a while has done it long ago).
    transfer(client, addr, token, MIB, pid).await?;
    let mut costs = Vec::new();
    for size in SIZES {
        let mut rates: [Vec<f64>; 2] = Default::default();
        let mut cost = [Cpu::default(); 2];
        for _ in 0..repeats(size) {
            let legs = transfer(client, addr, token, size, pid).await?;
            for (i, leg) in legs.iter().enumerate() {
                rates[i].push(leg.rate);
                cost[i].add(&leg.cpu, size);
            }
        }
        costs.push((size, cost));
        let [up, down] = rates.map(median);
        println!(
            "{:>6}Mi {:>12.0} {:>7.2} {:>7.2} {:>8.2} {:>9.0} {:>7.2} {:>8.2} {:>5.1} MiB",
            size / MIB,
            up,
            up / aes,
            up / sha,
            up / disk_write,
            down,
            down / aes,
            down / disk_read,
            peak_rss(pid) as f64 / MIB as f64
        );
    }
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "CPU time per GiB transferred, 64 MiB and up (core-seconds; {cores} cores give {cores} a second):"
    );
    let bare = 1024.0 / sha + 1024.0 / aes;
    println!(
        "{:>8} {:>14} {:>8} {:>14} {:>16} {:>8} {:>16}",
        "size",
        "upload server",
        "vs bare",
        "upload client",
        "download server",
        "vs bare",
        "download client"
    );
    for (size, [up, down]) in costs.into_iter().skip(1) {
        let (up_server, down_server) = (up.per_gib(up.server), down.per_gib(down.server));
        println!(
            "{:>6}Mi {:>14.2} {:>8.2} {:>14.2} {:>16.2} {:>8.2} {:>16.2}",
            size / MIB,
            up_server,
            up_server / bare,
            up.per_gib(up.client),
            down_server,
            down_server / bare,
            down.per_gib(down.client)
        );
    }
    println!(
        "(bare: SHA-256 + AES-256-GCM of a GiB on one core, this run: {bare:.2} core-seconds; \
         targets: upload server <= 1.25x, download server <= 1.0x)"
    );
    // What the target leaves out: the bytes must also come off a socket and go into a
    // file, which costs CPU no pipeline can overlap away.
    println!(
        "bare I/O of an upload (a GiB off a local socket into a synced file, one core): {io:.2} core-seconds; \
         bare crypto + I/O {:.2} = {:.2}x the bare crypto",
        bare + io,
        (bare + io) / bare
    );
    Ok(())
}

/// CPU time the server and this client spent on some transfers, and their bytes.
#[derive(Clone, Copy, Default)]
struct Cpu {
    server: Duration,
    client: Duration,
    bytes: u64,
}

impl Cpu {
    fn add(&mut self, other: &Cpu, bytes: u64) {
        self.server += other.server;
        self.client += other.client;
        self.bytes += bytes;
    }

    fn per_gib(&self, spent: Duration) -> f64 {
        spent.as_secs_f64() * (1024 * MIB) as f64 / self.bytes as f64
    }
}

/// One way of a transfer: its rate in MiB/s and the CPU time it cost.
struct Leg {
    rate: f64,
    cpu: Cpu,
}

/// Reads the server's and this process's CPU clocks; `since` gives what was spent after
/// an earlier reading. Both count every thread, ended ones too, in 10 ms ticks.
fn cpu_now(pid: u32) -> Cpu {
    Cpu {
        server: process_cpu_of(pid).unwrap_or_default(),
        client: process_cpu().unwrap_or_default(),
        bytes: 0,
    }
}

fn since(before: Cpu, pid: u32) -> Cpu {
    let now = cpu_now(pid);
    Cpu {
        server: now.server.saturating_sub(before.server),
        client: now.client.saturating_sub(before.client),
        bytes: 0,
    }
}

/// Uploads a file of `size` bytes to server `pid` and downloads it again.
async fn transfer(
    client: &reqwest::Client,
    addr: &str,
    token: &str,
    size: u64,
    pid: u32,
) -> anyhow::Result<[Leg; 2]> {
    let mut block = vec![0u8; MIB as usize];
    for (i, b) in block.iter_mut().enumerate() {
        *b = (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0];
    }
    block[..9].copy_from_slice(b"%PDF-1.7\n");
    let block = Bytes::from(block);
    let chunks = size / MIB;
    let body =
        futures::stream::iter(0..chunks).map(move |_| Ok::<_, std::io::Error>(block.clone()));
    let form = reqwest::multipart::Form::new().text("title", "bench").part(
        "file",
        reqwest::multipart::Part::stream_with_length(reqwest::Body::wrap_stream(body), size)
            .file_name("bench.pdf"),
    );
    let cpu = cpu_now(pid);
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
        response.text().await?
    );
    let id = response.json::<Value>().await?["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let up = Leg {
        rate: rate(size, started.elapsed()),
        cpu: since(cpu, pid),
    };

    let cpu = cpu_now(pid);
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
    let mut stream = response.bytes_stream();
    let mut got = 0u64;
    while let Some(chunk) = stream.next().await {
        got += chunk?.len() as u64;
    }
    anyhow::ensure!(got == size, "download: {got} of {size} bytes");
    let down = Leg {
        rate: rate(size, started.elapsed()),
        cpu: since(cpu, pid),
    };
    Ok([up, down])
}
