//! Running the real `medchain serve` binary as a child process, for the tests that need a
//! process of its own: two servers on one database, the S3 blob store through the
//! environment, the peak memory of one process.

use serde_json::{Value, json};
use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
};

pub const BIN: &str = env!("CARGO_BIN_EXE_medchain");

/// A running `serve`; killed and reaped when dropped.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// A master key file for servers and CLI commands that share one database.
pub fn master_key_file(dir: &Path) -> std::path::PathBuf {
    let key = dir.join("master.key");
    let hex: String = (0u8..32).map(|b| format!("{:02x}", b * 7 + 3)).collect();
    std::fs::write(&key, hex).unwrap();
    key
}

/// The key-epoch store the processes sharing the master key `key` share.
pub fn epoch_store_beside(key: &Path) -> std::path::PathBuf {
    key.parent().unwrap().join("key-epochs")
}

/// Starts `serve` on port 0 against `db_url` with `env` set too, and returns it with the
/// address it printed.
pub fn start_serve(db_url: &str, key: &Path, dir: &Path, env: &[(&str, &str)]) -> (Server, String) {
    listening(serve_command(db_url, key, dir, env))
}

/// The command [`start_serve`] runs, for a test that expects it to refuse to start.
pub fn serve_command(db_url: &str, key: &Path, dir: &Path, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env("DATABASE_URL", db_url)
        .env("MEDCHAIN_MASTER_KEY_FILE", key)
        // Beside the shared master key: every process of a test shares the key epochs.
        .env("MEDCHAIN_KEY_EPOCH_STORE", epoch_store_beside(key))
        .env("RUST_LOG", "warn")
        // No role must have a second factor unless a test says so.
        .env("MEDCHAIN_MFA_REQUIRED", "")
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    // A master key in an HSM replaces the file's.
    if env.iter().any(|(name, _)| *name == "MEDCHAIN_MASTER_KEY") {
        command.env_remove("MEDCHAIN_MASTER_KEY_FILE");
    }
    command
}

/// `medchain serve` on the embedded default in `dir` (its own PostgreSQL cluster there;
/// no database URL or key settings from the environment), with `env` set too.
pub fn start_embedded(dir: &Path, env: &[(&str, &str)]) -> (Server, String) {
    let mut command = Command::new(BIN);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env_remove("DATABASE_URL")
        .env_remove("MEDCHAIN_MASTER_KEY_FILE")
        .env_remove("MEDCHAIN_KEY_EPOCH_STORE")
        .env("RUST_LOG", "warn")
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    listening(command)
}

/// Spawns `command` (a `serve`) and waits for the address it prints.
fn listening(mut command: Command) -> (Server, String) {
    let mut server = Server(command.spawn().unwrap());
    let mut stderr = BufReader::new(server.0.stderr.take().unwrap());
    let mut line = String::new();
    let mut said = String::new();
    loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "serve exited before listening: {said}"
        );
        said.push_str(&line);
        if let Some(addr) = line.trim().strip_prefix("medchain listening on http://") {
            let addr = addr.to_owned();
            // Keep draining stderr so the server never blocks on a full pipe; its
            // warnings and errors go to the test's own output, shown when it fails.
            let from = addr.clone();
            std::thread::spawn(move || {
                for line in stderr.lines().map_while(Result::ok) {
                    eprintln!("[serve {from}] {line}");
                }
            });
            return (server, addr);
        }
    }
}

/// `medchain admin create` (no terminal: the password from MEDCHAIN_ADMIN_PASSWORD).
pub async fn admin_create(db_url: &str, key: &Path, dir: &Path, email: &str, password: &str) {
    let created = tokio::process::Command::new(BIN)
        .args([
            "admin",
            "create",
            "--email",
            email,
            "--name",
            "Chief Keeper",
        ])
        .arg("--data-dir")
        .arg(dir)
        .env("DATABASE_URL", db_url)
        .env("MEDCHAIN_MASTER_KEY_FILE", key)
        .env("MEDCHAIN_KEY_EPOCH_STORE", epoch_store_beside(key))
        .env("MEDCHAIN_ADMIN_PASSWORD", password)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
}

/// One GraphQL operation against `addr`.
pub async fn gql(addr: &str, token: Option<&str>, query: &str, variables: Value) -> Value {
    let mut request = reqwest::Client::new()
        .post(format!("http://{addr}/graphql"))
        .json(&json!({"query": query, "variables": variables}));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap().json().await.unwrap()
}

/// Signs in at `addr`; the session's token.
pub async fn login_at(addr: &str, email: &str, password: &str) -> String {
    let answer = login_answer(addr, email, password).await;
    answer["data"]["login"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("{email} signs in: {answer}"))
        .to_owned()
}

/// `login` at `addr`: the whole answer, refusals included.
pub async fn login_answer(addr: &str, email: &str, password: &str) -> Value {
    gql(
        addr,
        None,
        "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }",
        json!({"e": email, "p": password}),
    )
    .await
}

/// The password of the patients the served-binary tests register.
pub const PATIENT_PASSWORD: &str = "Tq9#vLm2!pXz7wRb";

/// Registers the patient Pat Lee (pat@example.org) at `addr` and signs her in: her token.
pub async fn patient_at(addr: &str) -> String {
    gql(
        addr,
        None,
        "mutation($i: RegisterInput!) { register(input: $i) { id } }",
        json!({"i": {"email": "pat@example.org", "password": PATIENT_PASSWORD, "name": "Pat Lee", "role": "PATIENT"}}),
    )
    .await;
    login_at(addr, "pat@example.org", PATIENT_PASSWORD).await
}

/// `POST /api/records` at `addr`, `bytes` as `file_name` under `title`: the status and the
/// JSON answer (a hang, or an answer that is not JSON, fails the test).
pub async fn post_record(
    client: &reqwest::Client,
    addr: &str,
    token: &str,
    title: &str,
    file_name: &str,
    bytes: Vec<u8>,
) -> (u16, Value) {
    let form = reqwest::multipart::Form::new()
        .text("title", title.to_owned())
        .part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_owned()),
        );
    let response = client
        .post(format!("http://{addr}/api/records"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap_or_else(|e| panic!("the upload got no answer: {e}"));
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON answer"))
}

/// `POST /api/records` at `addr`; the new record's id.
pub async fn upload_at(addr: &str, token: &str, title: &str, bytes: Vec<u8>) -> String {
    let (_, answer) = post_record(
        &reqwest::Client::new(),
        addr,
        token,
        title,
        "report.pdf",
        bytes,
    )
    .await;
    answer["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"))
        .to_owned()
}

/// `GET /api/records/{id}/content` at `addr`, which must succeed; the bytes.
pub async fn download_at(addr: &str, token: &str, id: &str) -> Vec<u8> {
    let response = reqwest::Client::new()
        .get(format!("http://{addr}/api/records/{id}/content"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.bytes().await.unwrap().to_vec()
}
