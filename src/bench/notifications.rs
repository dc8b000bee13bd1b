//! `medchain bench notifications`: latency from an event to its notification on an open
//! subscription, with 1 000 subscriptions held across two `medchain serve` child
//! processes on one scratch database, beside the floor measured in the same run (a NOTIFY
//! reaching a LISTENing connection, then one WebSocket message to a local client).
//! Targets: p50 ≤ 2× the floor, p99 ≤ 20 ms.
//!
//! 100 patients each share a record with one doctor and hold 10 subscriptions (5 on
//! each process). The doctor then reads the records one after another, through the two
//! processes in turn; each read notifies its patient's 10 subscriptions. Latency is
//! measured per delivery from the moment the read's response arrived (the event was
//! committed before it was sent) and, as an upper bound, from when the read was sent.

use super::measure::Latencies;
use super::people::{admin_and_doctor, login, patient_client, register};
use super::records::{Child_, gql, serve};
use crate::cli::Common;
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest as _};

const PATIENTS: usize = 100;
const PER_PATIENT: usize = 10;
const READS: usize = 300;

pub async fn run(common: &Common) -> anyhow::Result<()> {
    super::measure::in_scratch_database(common, |url| async move { bench_in(&url).await }).await
}

/// Opens a `notifications` subscription; every notification it receives is reported as
/// `(patient, arrival)`.
async fn subscribe(
    addr: &str,
    token: &str,
    patient: usize,
    arrivals: mpsc::UnboundedSender<(usize, Instant)>,
) -> anyhow::Result<()> {
    let mut request = format!("ws://{addr}/graphql/ws").into_client_request()?;
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "graphql-transport-ws".parse()?);
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    let text = |v: Value| Message::Text(v.to_string().into());
    socket
        .send(text(
            json!({"type": "connection_init", "payload": {"token": token}}),
        ))
        .await?;
    socket
        .next()
        .await
        .ok_or_else(|| anyhow::anyhow!("no connection_ack"))??;
    socket
        .send(text(json!({"id": "1", "type": "subscribe",
            "payload": {"query": "subscription { notifications { seq } }"}})))
        .await?;
    tokio::spawn(async move {
        while let Some(Ok(message)) = socket.next().await {
            if let Message::Text(body) = message
                && body.contains("\"next\"")
                && arrivals.send((patient, Instant::now())).is_err()
            {
                return;
            }
        }
    });
    Ok(())
}

async fn bench_in(url: &str) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let key = super::people::master_key_file(dir.path(), 29)?;
    let (_a, a) = serve(url, &key, &dir.path().join("a"))?;
    let (_b, b): (Child_, String) = serve(url, &key, &dir.path().join("b"))?;
    let client = reqwest::Client::new();

    // An administrator (the CLI), an approved doctor, and the patients.
    let (doctor, doctor_id) = admin_and_doctor(&client, url, &key, dir.path(), &a).await?;

    eprintln!("setting up {PATIENTS} patients with a shared record each…");
    let mut patients = Vec::new();
    for i in 0..PATIENTS {
        let email = format!("p{i}@example.org");
        // Each patient from an address of their own, behind the bench as their proxy
        // (registrations are limited per address).
        let client = patient_client(i)?;
        register(
            &client,
            &a,
            &email,
            &format!("Patient Number {i}"),
            "PATIENT",
        )
        .await?;
        let (token, _) = login(&client, &a, &email).await?;
        let form = reqwest::multipart::Form::new().text("title", "bench").part(
            "file",
            reqwest::multipart::Part::bytes(b"%PDF-1.7\nbench".to_vec()).file_name("b.pdf"),
        );
        let uploaded: Value = client
            .post(format!("http://{a}/api/records"))
            .bearer_auth(&token)
            .multipart(form)
            .send()
            .await?
            .json()
            .await?;
        let record = uploaded["id"].as_str().unwrap_or_default().to_owned();
        gql(
            &client,
            &a,
            Some(&token),
            "mutation($r: UUID!, $d: UUID!) { shareRecord(recordId: $r, doctorId: $d) { id } }",
            json!({"r": record, "d": doctor_id}),
        )
        .await?;
        patients.push((token, record));
    }

    let (tx, mut rx) = mpsc::unbounded_channel();
    for (i, (token, _)) in patients.iter().enumerate() {
        for k in 0..PER_PATIENT {
            let addr = if k % 2 == 0 { &a } else { &b };
            subscribe(addr, token, i, tx.clone()).await?;
        }
    }
    drop(tx);
    println!(
        "{} subscriptions open on 2 processes; {READS} reads, each notifying {PER_PATIENT} of them",
        PATIENTS * PER_PATIENT
    );
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut from_commit = Latencies::default();
    let mut from_send = Latencies::default();
    for n in 0..READS {
        let patient = n % PATIENTS;
        let addr = if n % 2 == 0 { &a } else { &b };
        let sent = Instant::now();
        let response = client
            .get(format!(
                "http://{addr}/api/records/{}/content",
                patients[patient].1
            ))
            .bearer_auth(&doctor)
            .send()
            .await?;
        let committed = Instant::now();
        anyhow::ensure!(
            response.status().is_success(),
            "read: {}",
            response.status()
        );
        response.bytes().await?;
        let mut got = 0;
        while got < PER_PATIENT {
            let (who, at) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
                .await?
                .ok_or_else(|| anyhow::anyhow!("the subscriptions closed"))?;
            anyhow::ensure!(who == patient, "a notification reached the wrong patient");
            from_commit.record(at.saturating_duration_since(committed));
            from_send.record(at.duration_since(sent));
            got += 1;
        }
    }
    let mut floor = floor(url).await?;
    let (p50, p99) = (
        from_commit.percentile_ms(50.0),
        from_commit.percentile_ms(99.0),
    );
    println!(
        "commit → delivery: p50 {p50:.1} ms, p99 {p99:.1} ms ({} deliveries)",
        from_commit.count()
    );
    println!(
        "read sent → delivery (upper bound): p50 {:.1} ms, p99 {:.1} ms",
        from_send.percentile_ms(50.0),
        from_send.percentile_ms(99.0)
    );
    let floor50 = floor.percentile_ms(50.0);
    println!(
        "floor (a NOTIFY to a LISTENing connection, then one WebSocket message to a local \
         client): p50 {floor50:.2} ms, p99 {:.2} ms",
        floor.percentile_ms(99.0)
    );
    println!(
        "target p50 <= 2x the floor: {:.1}x; target p99 <= 20 ms: {p99:.1} ms",
        p50 / floor50
    );
    Ok(())
}

/// The least a notice can take here, measured in the same run: a NOTIFY on this database
/// reaching a LISTENing connection, which then sends one WebSocket message to a local
/// client; from the NOTIFY's sending to the message's arrival.
async fn floor(url: &str) -> anyhow::Result<Latencies> {
    use sqlx::Connection as _;
    const CHANNEL: &str = "medchain_bench_floor";
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let mut pg = sqlx::postgres::PgListener::connect(url).await?;
    pg.listen(CHANNEL).await?;
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await?;
        let mut socket = tokio_tungstenite::accept_async(stream).await?;
        while let Ok(notice) = pg.recv().await {
            let text = Message::Text(notice.payload().to_owned().into());
            socket.send(text).await?;
        }
        anyhow::Ok(())
    });
    let (mut client, _) = tokio_tungstenite::connect_async(format!("ws://{addr}")).await?;
    let mut notifier = sqlx::PgConnection::connect(url).await?;
    let mut floor = Latencies::default();
    for n in 0..READS {
        // From the NOTIFY's sending: it is delivered at its commit, before its answer
        // comes back, so timing from the answer would measure nothing.
        let sent = Instant::now();
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(n.to_string())
            .execute(&mut notifier)
            .await?;
        let message = tokio::time::timeout(Duration::from_secs(10), client.next())
            .await?
            .ok_or_else(|| anyhow::anyhow!("the floor's socket closed"))??;
        anyhow::ensure!(message.into_text()?.as_str() == n.to_string());
        floor.record(sent.elapsed());
    }
    drop(client);
    server.abort();
    Ok(floor)
}
