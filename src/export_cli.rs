//! `medchain export verify FILE [--pubkey K]`: checks a patient's export offline, with no
//! database and nothing from the server but the ledger's public key K (without it, the
//! key in the export's own head, which proves the export is whole but not whose log it
//! is). Everything is checked, and the first thing that fails is named with its place in
//! the bundle:
//!
//! - the head (`ledger/checkpoint.json`): its signature under K; with
//!   `ledger/witnessed.json`, that it extends the newest head witnesses cosigned (the
//!   consistency proof, and each cosignature over that head);
//! - the manifest: its signature (`manifest.sig`) under K, and that it names that head;
//! - every member of the zip is in the manifest (no file slipped in), and each part's
//!   SHA-256 is the manifest's;
//! - each event of `ledger/events.jsonl`: its hash from its fields, and its inclusion
//!   proof (`ledger/proofs.jsonl`) up to the head's root: each checked as the receipt
//!   checker checks a receipt (`domain::ledger::receipt`), the one place that rule lives;
//! - each file: its SHA-256 and size are the manifest's, and sealed again with its data
//!   key under its blob header (`Sealer::with_header`, the server's own format), its
//!   ciphertext's SHA-256 is the one the record's upload event on the ledger names: the
//!   file is tied to the ledger, not only to the export's signature.
//!
//! Files are read in pieces, so memory stays bounded whatever their size.

use commands::keys::DataKey;
use commands::records::blob_cipher::{HEADER, Sealer};
use domain::ledger::SignedCheckpoint;
use domain::ledger::export_manifest::Manifest;
use domain::ledger::receipt::{check_proof_file, receipt_json};
use ed25519_dalek::VerifyingKey;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::path::Path;
use uuid::Uuid;

/// A check that failed, and where.
#[derive(Debug)]
struct Failed {
    place: String,
    what: String,
}

impl Failed {
    fn at(place: impl Into<String>, what: impl std::fmt::Display) -> Self {
        Self {
            place: place.into(),
            what: what.to_string(),
        }
    }
}

type Zip = zip::ZipArchive<std::fs::File>;

fn member(zip: &mut Zip, path: &str) -> Result<Vec<u8>, Failed> {
    let mut file = zip
        .by_name(path)
        .map_err(|_| Failed::at(path, "missing from the export"))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| Failed::at(path, format!("cannot be read ({e}): the zip is damaged")))?;
    Ok(bytes)
}

fn hex_key(pubkey: &str) -> anyhow::Result<VerifyingKey> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(pubkey.trim(), &mut bytes)
        .map_err(|_| anyhow::anyhow!("--pubkey is 32 bytes of hex (`medchain ledger pubkey`)"))?;
    VerifyingKey::from_bytes(&bytes)
        .map_err(|_| anyhow::anyhow!("--pubkey is not an Ed25519 public key"))
}

/// Runs the check; prints `OK: …` or `FAILED: <place>: <what>`; returns the exit code.
pub fn verify(file: &Path, pubkey: Option<&str>) -> anyhow::Result<i32> {
    let key = pubkey.map(hex_key).transpose()?;
    let archive = std::fs::File::open(file)
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", file.display()))?;
    let outcome = zip::ZipArchive::new(archive)
        .map_err(|e| Failed::at(file.display().to_string(), format!("not a zip: {e}")))
        .and_then(|mut zip| check(&mut zip, key));
    match outcome {
        Ok(summary) => {
            println!("OK: {summary}");
            if key.is_none() {
                eprintln!(
                    "note: checked against the key in the export itself; pass --pubkey with the ledger's published key to know whose log it is"
                );
            }
            Ok(0)
        }
        Err(failed) => {
            println!("FAILED: {}: {}", failed.place, failed.what);
            Ok(1)
        }
    }
}

fn check(zip: &mut Zip, key: Option<VerifyingKey>) -> Result<String, Failed> {
    const HEAD: &str = "ledger/checkpoint.json";
    let head_bytes = member(zip, HEAD)?;
    let head_text = String::from_utf8(head_bytes.clone()).map_err(|e| Failed::at(HEAD, e))?;
    let head = SignedCheckpoint::parse(&head_text).map_err(|e| Failed::at(HEAD, e))?;
    let key = match key {
        Some(key) => {
            head.require_key(&key).map_err(|e| Failed::at(HEAD, e))?;
            key
        }
        None => {
            head.verify_signature().map_err(|e| Failed::at(HEAD, e))?;
            head.key
        }
    };
    let head_value: Value = serde_json::from_str(&head_text).map_err(|e| Failed::at(HEAD, e))?;

    let json = member(zip, "manifest.json")?;
    let sig = String::from_utf8(member(zip, "manifest.sig")?)
        .map_err(|e| Failed::at("manifest.sig", e))?;
    let manifest =
        Manifest::verify(&json, &sig, &key).map_err(|e| Failed::at("manifest.json", e))?;
    if manifest.head.seq != head.checkpoint.seq
        || manifest.head.hash != head.checkpoint.hash.to_hex()
    {
        return Err(Failed::at(
            "manifest.json",
            "it names another head than ledger/checkpoint.json",
        ));
    }

    // Every member is accounted for, and each part is the one the manifest hashed.
    let listed: BTreeSet<&str> = manifest
        .files
        .iter()
        .map(|f| f.path.as_str())
        .chain(manifest.parts.iter().map(|p| p.path.as_str()))
        .chain(["manifest.json", "manifest.sig"])
        .collect();
    let names = zip
        .file_names()
        .map(|n| n.map(|n| n.into_owned()))
        .collect::<Result<Vec<String>, _>>()
        .map_err(|e| Failed::at("the zip's directory", e))?;
    for name in &names {
        if !listed.contains(name.as_str()) {
            return Err(Failed::at(name.clone(), "is not in the manifest"));
        }
    }
    let mut parts = HashMap::new();
    for part in &manifest.parts {
        let bytes = member(zip, &part.path)?;
        if hex::encode(Sha256::digest(&bytes)) != part.sha256 || bytes.len() as u64 != part.size {
            return Err(Failed::at(&part.path, "its SHA-256 is not the manifest's"));
        }
        parts.insert(part.path.clone(), bytes);
    }
    let text = |path: &str| -> Result<String, Failed> {
        let bytes = parts
            .get(path)
            .ok_or_else(|| Failed::at(path, "is not in the manifest"))?;
        String::from_utf8(bytes.clone()).map_err(|e| Failed::at(path, e))
    };
    if text(HEAD)?.as_bytes() != head_bytes.as_slice() {
        return Err(Failed::at(HEAD, "is not the manifest's"));
    }
    let bundle: Value = serde_json::from_str(&text("fhir/bundle.json")?)
        .map_err(|e| Failed::at("fhir/bundle.json", e))?;
    if bundle["resourceType"] != "Bundle" {
        return Err(Failed::at("fhir/bundle.json", "is not a FHIR Bundle"));
    }

    // The head extends one that witnesses cosigned, when the export carries one.
    const WITNESSED: &str = "ledger/witnessed.json";
    let mut witnessed = String::new();
    if parts.contains_key(WITNESSED) {
        let text = text(WITNESSED)?;
        let doc: Value = serde_json::from_str(&text).map_err(|e| Failed::at(WITNESSED, e))?;
        let proven = check_proof_file(&text, &key).map_err(|e| Failed::at(WITNESSED, e))?;
        let domain::ledger::receipt::Proven::Consistent { from, to } = proven else {
            return Err(Failed::at(WITNESSED, "is not a consistency file"));
        };
        let to_head = SignedCheckpoint::parse(&doc["to"].to_string())
            .map_err(|e| Failed::at(WITNESSED, e))?;
        if to != head.checkpoint.seq || to_head.checkpoint != head.checkpoint {
            return Err(Failed::at(
                WITNESSED,
                "it does not lead to the export's head",
            ));
        }
        let from_head = SignedCheckpoint::parse(&doc["from"].to_string())
            .map_err(|e| Failed::at(WITNESSED, e))?;
        let cosignatures = doc["from"]["cosignatures"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if cosignatures.is_empty() {
            return Err(Failed::at(WITNESSED, "its head carries no cosignature"));
        }
        let root = from_head
            .checkpoint
            .root
            .ok_or_else(|| Failed::at(WITNESSED, "its head has no root"))?;
        for c in &cosignatures {
            // A head's cosignatures leave out what the head says (its size and root);
            // each is checked over exactly those.
            let mut c = c.clone();
            c["seq"] = serde_json::json!(from);
            c["root"] = serde_json::json!(root.to_hex());
            let c = domain::ledger::cosignature::Cosignature::parse(&c)
                .map_err(|e| Failed::at(WITNESSED, e))?;
            if c.verify(&key).is_err() {
                return Err(Failed::at(
                    WITNESSED,
                    format!(
                        "the cosignature of {:?} does not hold over its head",
                        c.name
                    ),
                ));
            }
        }
        witnessed = format!(
            ", extending the head of {from} events that {} witness(es) cosigned",
            cosignatures.len()
        );
    }

    // Each event, by its hash and its proof up to the head: the receipt check.
    const EVENTS: &str = "ledger/events.jsonl";
    const PROOFS: &str = "ledger/proofs.jsonl";
    let events = text(EVENTS)?;
    let proofs = text(PROOFS)?;
    let (events, proofs): (Vec<&str>, Vec<&str>) =
        (events.lines().collect(), proofs.lines().collect());
    if events.len() != proofs.len() {
        return Err(Failed::at(PROOFS, "does not have one proof per event"));
    }
    let mut uploaded: HashMap<Uuid, String> = HashMap::new();
    for (n, (line, proof)) in events.iter().zip(&proofs).enumerate() {
        let place = |what: &str| format!("{what} line {}", n + 1);
        let event: Value = serde_json::from_str(line).map_err(|e| Failed::at(place(EVENTS), e))?;
        let proof: Value = serde_json::from_str(proof).map_err(|e| Failed::at(place(PROOFS), e))?;
        let seq = proof["seq"].as_i64().unwrap_or(-1);
        let size = proof["treeSize"].as_i64().unwrap_or(-1);
        let path = proof["path"]
            .as_array()
            .map(|p| {
                p.iter()
                    .filter_map(|h| {
                        h.as_str()
                            .and_then(|h| domain::ledger::Hash::parse_hex(h).ok())
                    })
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let receipt = receipt_json(&event, seq, size, &path, &head_value);
        check_proof_file(&receipt.to_string(), &key)
            .map_err(|e| Failed::at(format!("{} (seq {})", place(EVENTS), event["seq"]), e))?;
        if event["type"] == "RecordUploaded"
            && let Some(record) = event["stream"]
                .as_str()
                .and_then(|s| s.strip_prefix("record-"))
                .and_then(|id| Uuid::try_parse(id).ok())
            && let Some(sha) = event["payload"]["sha256"].as_str()
        {
            uploaded.insert(record, sha.to_owned());
        }
    }

    // Each file: the manifest's hash, and sealed again, the ledger's ciphertext.
    let mut bytes_checked = 0u64;
    for f in &manifest.files {
        let place = f.path.as_str();
        // Unzipped anywhere, a file stays in its own folder.
        let safe = format!(
            "files/{}/{}",
            f.record,
            domain::record::safe_basename(&f.file_name)
        );
        if f.path != safe {
            return Err(Failed::at(
                place,
                format!("its path is not the safe {safe:?}"),
            ));
        }
        let on_ledger = uploaded
            .get(&f.record)
            .ok_or_else(|| Failed::at(place, "its record's upload is not among the events"))?;
        let key_bytes: [u8; 32] = hex::decode(&f.data_key)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| Failed::at(place, "its dataKey is not 32 bytes of hex"))?;
        let header: [u8; HEADER] = hex::decode(&f.blob_header)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| Failed::at(place, "its blobHeader is not 16 bytes of hex"))?;
        let mut sealer =
            Sealer::with_header(&DataKey::from_bytes(key_bytes), f.record, header, 1 << 20)
                .map_err(|e| Failed::at(place, e))?;
        let mut sealed = Sha256::new();
        let mut plain = Sha256::new();
        let mut size = 0u64;
        let mut entry = zip
            .by_name(place)
            .map_err(|_| Failed::at(place, "missing from the export"))?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = entry.read(&mut buf).map_err(|e| {
                Failed::at(place, format!("cannot be read ({e}): the zip is damaged"))
            })?;
            if n == 0 {
                break;
            }
            plain.update(&buf[..n]);
            size += n as u64;
            sealer
                .push(&buf[..n], &mut |block| {
                    sealed.update(&block);
                    true
                })
                .map_err(|e| Failed::at(place, e))?;
        }
        sealer
            .finish(&mut |block| {
                sealed.update(&block);
                true
            })
            .map_err(|e| Failed::at(place, e))?;
        if hex::encode(plain.finalize()) != f.sha256 || size != f.size {
            return Err(Failed::at(place, "its SHA-256 is not the manifest's"));
        }
        if &hex::encode(sealed.finalize()) != on_ledger {
            return Err(Failed::at(
                place,
                format!(
                    "sealed again with its data key, it is not the ciphertext the ledger names for record {}",
                    f.record
                ),
            ));
        }
        bytes_checked += size;
    }
    Ok(format!(
        "{} files ({bytes_checked} bytes) tied to the ledger, {} events proven in the signed tree of {} events{witnessed}, manifest signed",
        manifest.files.len(),
        events.len(),
        head.checkpoint.seq
    ))
}
