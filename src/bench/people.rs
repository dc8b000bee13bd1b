//! The people a bench signs in as: registering and signing in (from an address of each
//! patient's own, behind the bench as their trusted proxy, since registrations and
//! sign-ins are limited per address), and an administrator made by the CLI who approves
//! one doctor; the master key file their servers share.

use super::records::gql;
use serde_json::json;
use std::time::Duration;

pub(super) const PASSWORD: &str = "a long bench passphrase, 2026";

/// A master key file in `dir` for the `serve` children of one bench (they share it, as
/// the processes of one deployment do); `salt` makes each bench's its own.
pub(super) fn master_key_file(
    dir: &std::path::Path,
    salt: u8,
) -> anyhow::Result<std::path::PathBuf> {
    let key = dir.join("master.key");
    let hex: String = (0u8..32)
        .map(|b| format!("{:02x}", b.wrapping_mul(salt) ^ 0x5c))
        .collect();
    std::fs::write(&key, hex)?;
    Ok(key)
}

pub(super) async fn login(
    client: &reqwest::Client,
    addr: &str,
    email: &str,
) -> anyhow::Result<(String, String)> {
    let answer = gql(
        client,
        addr,
        None,
        "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token user { id } } }",
        json!({"e": email, "p": PASSWORD}),
    )
    .await?;
    let login = &answer["data"]["login"];
    Ok((
        login["token"].as_str().unwrap_or_default().to_owned(),
        login["user"]["id"].as_str().unwrap_or_default().to_owned(),
    ))
}

pub(super) async fn register(
    client: &reqwest::Client,
    addr: &str,
    email: &str,
    name: &str,
    role: &str,
) -> anyhow::Result<()> {
    gql(
        client,
        addr,
        None,
        "mutation($i: RegisterInput!) { register(input: $i) { id } }",
        json!({"i": {"email": email, "password": PASSWORD, "name": name, "role": role}}),
    )
    .await?;
    Ok(())
}

/// A client whose requests say, through the trusted proxy header, that they come from
/// an address of patient `i`'s own.
pub(super) fn patient_client(i: usize) -> anyhow::Result<reqwest::Client> {
    let mut headers = reqwest::header::HeaderMap::new();
    let from = format!("10.7.{}.{}", i / 256, i % 256);
    headers.insert("x-forwarded-for", from.parse()?);
    Ok(reqwest::Client::builder()
        .default_headers(headers)
        .build()?)
}

/// `medchain admin create` on `url` (keys as the servers have them), then a doctor
/// registered and approved through the server at `addr`: the doctor's token and id.
pub(super) async fn admin_and_doctor(
    client: &reqwest::Client,
    url: &str,
    key: &std::path::Path,
    dir: &std::path::Path,
    addr: &str,
) -> anyhow::Result<(String, String)> {
    let created = tokio::process::Command::new(std::env::current_exe()?)
        .args([
            "admin",
            "create",
            "--email",
            "root@example.org",
            "--name",
            "Ada Root",
            "--data-dir",
        ])
        .arg(dir.join("cli"))
        .env("DATABASE_URL", url)
        .env("MEDCHAIN_MASTER_KEY_FILE", key)
        .env(
            "MEDCHAIN_KEY_EPOCH_STORE",
            key.parent().unwrap_or(dir).join("key-epochs"),
        )
        .env("MEDCHAIN_ADMIN_PASSWORD", PASSWORD)
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .output()
        .await?;
    anyhow::ensure!(created.status.success(), "admin create failed");
    register(client, addr, "dora@example.org", "Dora Medic", "DOCTOR").await?;
    let admin = loop {
        match login(client, addr, "root@example.org").await {
            Ok((token, _)) if !token.is_empty() => break token,
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    let doctors = gql(
        client,
        addr,
        Some(&admin),
        "{ users(role: DOCTOR) { edges { node { id } } } }",
        json!({}),
    )
    .await?;
    let doctor_id = doctors["data"]["users"]["edges"][0]["node"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    gql(
        client,
        addr,
        Some(&admin),
        "mutation($id: UUID!) { approveUser(userId: $id) { id } }",
        json!({"id": doctor_id}),
    )
    .await?;
    let (doctor, _) = login(client, addr, "dora@example.org").await?;
    Ok((doctor, doctor_id))
}
