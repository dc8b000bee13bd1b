//! A real S3-compatible server for the tests that need one: `moto_server` (PyPI's
//! `moto[server]`, which `.ci/run` installs), started on a free port and killed with the
//! returned handle. Moto checks no signatures, so buckets are made and set up with plain
//! requests.

use super::serve::Server;
use std::{
    process::{Command, Stdio},
    time::Duration,
};

/// A running `moto_server` and its URL.
pub struct Moto {
    _server: Server,
    pub url: String,
}

impl Moto {
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server (pip install 'moto[server]'; .ci/run installs it)");
        let server = Server(child);
        let url = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        super::app::eventually(Duration::from_secs(30), "moto_server answering", || {
            let client = client.clone();
            let url = url.clone();
            async move { client.get(&url).send().await.ok().map(|_| ()) }
        })
        .await;
        Self {
            _server: server,
            url,
        }
    }

    /// The `AWS_*` settings that point a `medchain` process at this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT", self.url.clone()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }

    pub async fn create_bucket(&self, bucket: &str) {
        let created = reqwest::Client::new()
            .put(format!("{}/{bucket}", self.url))
            .send()
            .await
            .unwrap();
        assert!(
            created.status().is_success(),
            "creating the bucket: {}",
            created.status()
        );
    }

    /// Turns versioning on for `bucket`, as an operator might by mistake.
    pub async fn enable_versioning(&self, bucket: &str) {
        let set = reqwest::Client::new()
            .put(format!("{}/{bucket}?versioning", self.url))
            .body(
                "<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                 <Status>Enabled</Status></VersioningConfiguration>",
            )
            .send()
            .await
            .unwrap();
        assert!(set.status().is_success(), "versioning: {}", set.status());
    }

    /// The keys of every object (every version, if the bucket keeps them) under `prefix`.
    pub async fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let listing = reqwest::Client::new()
            .get(format!("{}/{bucket}?versions&prefix={prefix}", self.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let mut keys: Vec<String> = listing
            .split("<Key>")
            .skip(1)
            .filter_map(|rest| rest.split_once("</Key>").map(|(key, _)| key.to_owned()))
            .collect();
        keys.sort();
        keys
    }
}
