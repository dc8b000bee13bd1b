//! What operators read (issue 27, "Logs for operators"): a `medchain serve` whose stderr
//! is a pipe writes no colour codes; with `MEDCHAIN_LOG_FORMAT=json` every line it writes
//! is one JSON object; `/metrics` (Prometheus' text format) answers on the listener
//! `MEDCHAIN_METRICS_LISTEN` names and nowhere on the public one, with request counts and
//! latencies, the ledger head and appends, each projector's lag, the mail queue and the
//! blob store's errors.

use crate::common;

use common::serve::{gql, master_key_file, serve_command};
use serde_json::json;
use std::io::{BufRead as _, BufReader};
use std::sync::{Arc, Mutex};

/// Starts `serve` with `env`; returns it, its public address, its metrics address (when
/// it has one) and every line it writes to stderr, gathered as they come.
pub(crate) fn start(
    db: &str,
    key: &std::path::Path,
    dir: &std::path::Path,
    env: &[(&str, &str)],
) -> (
    common::serve::Server,
    String,
    Option<String>,
    Arc<Mutex<Vec<String>>>,
) {
    let mut server = common::serve::Server(serve_command(db, key, dir, env).spawn().unwrap());
    let stderr = BufReader::new(server.0.stderr.take().unwrap());
    let lines = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let gathered = lines.clone();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            gathered.lock().unwrap().push(line.clone());
            let _ = tx.send(line);
        }
    });
    let mut metrics = None;
    loop {
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("serve said where it listens");
        // Text, or the message of a JSON line.
        let text = serde_json::from_str::<serde_json::Value>(&line)
            .ok()
            .and_then(|v| v["fields"]["message"].as_str().map(str::to_owned))
            .unwrap_or(line);
        if let Some(addr) = text.strip_prefix("medchain metrics on http://") {
            metrics = Some(addr.trim_end_matches("/metrics").to_owned());
        }
        if let Some(addr) = text.strip_prefix("medchain listening on http://") {
            return (server, addr.to_owned(), metrics, lines);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_are_plain_or_json_and_metrics_answer_only_where_configured() {
    let db = common::test_db().await;
    let tmp = tempfile::tempdir().unwrap();
    let key = master_key_file(tmp.path());
    let (server, addr, metrics, lines) = start(
        &db.url,
        &key,
        &tmp.path().join("data"),
        &[
            ("MEDCHAIN_METRICS_LISTEN", "127.0.0.1:0"),
            ("RUST_LOG", "info"),
        ],
    );
    let metrics = metrics.expect("serve said where /metrics is");
    assert_ne!(metrics, addr);
    // Some work: a registration (events appended, projectors moving), a refused query.
    gql(
        &addr,
        None,
        "mutation($i: RegisterInput!) { register(input: $i) { id } }",
        json!({"i": {"email": "ops@example.org", "password": "Tq9#vLm2!pXz7wRb", "name": "Op Erator", "role": "PATIENT"}}),
    )
    .await;
    gql(&addr, None, "{ me { id } }", json!({})).await;
    let client = reqwest::Client::new();

    // The public listener has no metrics.
    let public = client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!public.contains("medchain_http_requests_total"), "{public}");

    let scrape = || async {
        let response = client
            .get(format!("http://{metrics}/metrics"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain; version=0.0.4")
        );
        response.text().await.unwrap()
    };
    let text = common::app::eventually(
        std::time::Duration::from_secs(10),
        "the projectors to catch up in /metrics",
        || async {
            let text = scrape().await;
            text.contains("medchain_projector_lag_events{projector=\"users\"} 0")
                .then_some(text)
        },
    )
    .await;
    for expected in [
        "medchain_http_requests_total{method=\"POST\",route=\"/graphql\",status=\"200\"}",
        "medchain_http_request_duration_seconds_bucket{method=\"POST\",route=\"/graphql\",le=\"0.1\"}",
        "medchain_ledger_head_seq ",
        "medchain_ledger_appended_events_total ",
        "medchain_projector_lag_events{projector=\"records\"}",
        "medchain_projector_stopped{projector=\"notifications\"} 0",
        "medchain_mail_queue ",
        "medchain_blob_store_errors_total{op=\"put\"} 0",
    ] {
        assert!(text.contains(expected), "{expected} in\n{text}");
    }
    let head: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("medchain_ledger_head_seq "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(head >= 1.0, "{text}");

    // Its stderr is a pipe: plain text, no colour codes.
    drop(server);
    let written = lines.lock().unwrap().clone();
    assert!(written.iter().any(|l| l.contains("INFO")), "{written:?}");
    assert!(
        written.iter().all(|l| !l.contains('\u{1b}')),
        "colour codes in a pipe: {written:?}"
    );

    // With MEDCHAIN_LOG_FORMAT=json, every line is one JSON object.
    let (server, _addr, none, lines) = start(
        &db.url,
        &key,
        &tmp.path().join("data"),
        &[("MEDCHAIN_LOG_FORMAT", "json"), ("RUST_LOG", "info")],
    );
    assert_eq!(none, None, "no metrics listener unless one is set");
    drop(server);
    let written = lines.lock().unwrap().clone();
    assert!(written.len() >= 3, "{written:?}");
    for line in &written {
        let object: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert!(
            object["level"].is_string() && object["timestamp"].is_string(),
            "{line}"
        );
    }
}
