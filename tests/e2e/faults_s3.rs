//! An S3 outage (issue 27, "Faults"): a `medchain serve` whose blobs are in a real
//! S3-compatible server (`moto_server`) reached through a TCP relay the test can cut.
//! While S3 is out, an upload fails fast (well within the 10 s the test allows; the
//! client's retries are bounded) with 503 and keeps nothing, and a download answers 503;
//! once S3 is back, both work again with no restart.

use crate::common;

use common::serve::{master_key_file, start_serve};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const BUCKET: &str = "outage";

/// A TCP relay to `target` on a port of its own: `cut` closes it and every connection
/// through it (connections are refused, as when S3 is down); `restore` opens it again.
struct Relay {
    port: u16,
    target: String,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: Option<JoinHandle<()>>,
}

impl Relay {
    async fn start(target: &str) -> Self {
        let mut relay = Self {
            port: 0,
            target: target.to_owned(),
            tasks: Arc::default(),
            accept: None,
        };
        relay.restore().await;
        relay
    }

    async fn restore(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        self.port = listener.local_addr().unwrap().port();
        let (target, tasks) = (self.target.clone(), self.tasks.clone());
        self.accept = Some(tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let target = target.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut upstream) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                    }
                });
                tasks.lock().unwrap().push(task);
            }
        }));
    }

    fn cut(&mut self) {
        if let Some(accept) = self.accept.take() {
            accept.abort();
        }
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

async fn upload(
    client: &reqwest::Client,
    addr: &str,
    token: &str,
    marker: &str,
) -> (u16, serde_json::Value) {
    common::serve::post_record(
        client,
        addr,
        token,
        "Scan",
        "scan.pdf",
        common::records::pdf(marker, 50_000),
    )
    .await
}

async fn download(client: &reqwest::Client, addr: &str, token: &str, id: &str) -> u16 {
    client
        .get(format!("http://{addr}/api/records/{id}/content"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_outage_fails_uploads_fast_and_downloads_with_503_and_passes_by_itself() {
    let moto = common::moto::Moto::start().await;
    moto.create_bucket(BUCKET).await;
    let mut relay = Relay::start(moto.url.trim_start_matches("http://")).await;
    let db = common::test_db().await;
    let tmp = tempfile::tempdir().unwrap();
    let key = master_key_file(tmp.path());
    let (_server, addr) = start_serve(
        &db.url,
        &key,
        &tmp.path().join("data"),
        &[
            ("MEDCHAIN_BLOB_STORE", &format!("s3://{BUCKET}/medchain")),
            ("AWS_ENDPOINT", &relay.url()),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
        ],
    );
    let token = common::serve::patient_at(&addr).await;
    let client = reqwest::Client::new();
    let (status, stored) = upload(&client, &addr, &token, "before").await;
    assert_eq!(status, 201, "{stored}");
    let before = stored["id"].as_str().unwrap().to_owned();
    assert_eq!(download(&client, &addr, &token, &before).await, 200);
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let uploads = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM events WHERE type = 'RecordUploaded'")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    let stored_before = uploads().await;

    // S3 is out: fast, clear refusals; nothing kept.
    relay.cut();
    let started = Instant::now();
    let (status, body) = upload(&client, &addr, &token, "during").await;
    let took = started.elapsed();
    assert_eq!(status, 503, "{body}");
    assert!(
        took < Duration::from_secs(10),
        "the upload took {took:?} to fail"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cannot be reached"),
        "{body}"
    );
    assert_eq!(uploads().await, stored_before, "nothing reached the ledger");
    assert_eq!(download(&client, &addr, &token, &before).await, 503);

    // Back: both work again, by themselves.
    relay.restore().await;
    let (status, body) = upload(&client, &addr, &token, "after").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(download(&client, &addr, &token, &before).await, 200);
    let after = body["id"].as_str().unwrap();
    assert_eq!(download(&client, &addr, &token, after).await, 200);
}
