//! How the process writes to stderr: log lines as text, with colour codes only when
//! stderr is a terminal (a log file or a journal gets plain text), or as one JSON object
//! a line (`MEDCHAIN_LOG_FORMAT=json`) for log shippers; and the few lines `serve` says
//! whatever the filter (where its parts are kept, the addresses it listens on) in the
//! same form, so a shipper can read every line.

use std::sync::atomic::{AtomicBool, Ordering};

static JSON: AtomicBool = AtomicBool::new(false);

/// Installs the subscriber; `format` is `text` or `json`.
pub fn init(format: &str, default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| default_filter.into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        JSON.store(true, Ordering::Relaxed);
        logs.json().init();
    } else {
        logs.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
}

/// A line `serve` always says: plain, or in the JSON lines' shape.
pub fn say(line: &str) {
    if JSON.load(Ordering::Relaxed) {
        let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        eprintln!(
            "{}",
            serde_json::json!({
                "timestamp": at,
                "level": "INFO",
                "target": "medchain",
                "fields": {"message": line},
            })
        );
    } else {
        eprintln!("{line}");
    }
}
