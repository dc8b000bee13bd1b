//! `medchain replay --at <seq|time> who-could-read --record ID` and `medchain report
//! disclosures|verify`: answers about the past from the ledger, JSON on stdout, messages
//! on stderr (DESIGN.md §7).

use crate::{
    cli::{Common, ReplayArgs, ReplayQuery, ReportCommand},
    config::Paths,
    database::{Database, Purpose},
};
use anyhow::Context as _;
use commands::{keys::LedgerKey, ledger};
use domain::{Timestamp, account::UserId, record::RecordId};
use projections::replay::{self, Moment};
use serde_json::{Value, json};

/// `--at`: a seq (digits) or an RFC 3339 time.
pub fn parse_moment(raw: &str) -> anyhow::Result<Moment> {
    let raw = raw.trim();
    if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(Moment::Seq(raw.parse().context("the seq is too large")?));
    }
    Timestamp::parse(raw).map(Moment::Time).map_err(|_| {
        anyhow::anyhow!(
            "--at {raw:?} is neither a seq nor an RFC 3339 time like 2026-11-24T10:15:30Z"
        )
    })
}

fn parse_time(flag: &str, raw: Option<&str>) -> anyhow::Result<Option<Timestamp>> {
    raw.map(|r| {
        Timestamp::parse(r.trim()).map_err(|_| {
            anyhow::anyhow!("{flag} {r:?} is not an RFC 3339 time like 2026-11-24T10:15:30Z")
        })
    })
    .transpose()
}

pub async fn replay(common: &Common, args: ReplayArgs) -> anyhow::Result<i32> {
    let moment = parse_moment(&args.at)?;
    let db = Database::open(common, Purpose::Command, 4).await?;
    let result = async {
        match args.query {
            ReplayQuery::WhoCouldRead { record } => {
                let answer =
                    replay::who_could_read(&db.pool, RecordId::from_uuid(record), moment).await?;
                if !answer.existed {
                    eprintln!("record {record} did not exist at seq {}", answer.as_of.seq);
                }
                let users: Vec<Value> = answer
                    .readers
                    .iter()
                    .map(|p| json!({"id": p.id.to_string(), "role": p.role.as_str()}))
                    .collect();
                let out = json!({
                    "record": record.to_string(),
                    "at": answer.as_of.at.to_string(),
                    "seq": answer.as_of.seq,
                    "users": users,
                    "links": answer.links.iter().map(|l| l.to_string()).collect::<Vec<_>>(),
                });
                println!("{out}");
                anyhow::Ok(0)
            }
        }
    }
    .await;
    db.close().await;
    result
}

pub async fn report(common: &Common, command: ReportCommand) -> anyhow::Result<i32> {
    let paths = Paths::of(common);
    let db = Database::open(common, Purpose::Command, 4).await?;
    let result = match command {
        ReportCommand::Disclosures {
            patient,
            from,
            to,
            out,
        } => disclosures(&db, &paths, patient, from.as_deref(), to.as_deref(), &out).await,
        ReportCommand::Verify { file } => verify(&db, &paths, &file).await,
    };
    db.close().await;
    result
}

async fn disclosures(
    db: &Database,
    paths: &Paths,
    patient: uuid::Uuid,
    from: Option<&str>,
    to: Option<&str>,
    out: &std::path::Path,
) -> anyhow::Result<i32> {
    let from = parse_time("--from", from)?;
    let to = parse_time("--to", to)?;
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        anyhow::bail!("--from is after --to");
    }
    let key = LedgerKey::load_or_create(&paths.ledger_key_file)?;
    // The report reflects the ledger up to this head, and says so under the signature.
    let head = ledger::ledger_head(&db.pool).await?;
    let found =
        replay::disclosures_from_ledger(&db.pool, UserId::from_uuid(patient), from, to, head.seq)
            .await?;
    let rows: Vec<Value> = found
        .iter()
        .map(|d| {
            json!({
                "seq": d.seq,
                "at": d.at.to_string(),
                "actor": d.actor.map(|a| a.to_string()),
                "record": d.record.to_string(),
                "action": d.action,
            })
        })
        .collect();
    let report = json!({
        "kind": "disclosures",
        "patient": patient.to_string(),
        "from": from.map(|t| t.to_string()),
        "to": to.map(|t| t.to_string()),
        "disclosures": rows,
    });
    let signed = domain::ledger::sign_report(&report, head.seq, head.hash, key.signing_key())?;
    std::fs::write(out, signed + "\n").with_context(|| format!("writing {}", out.display()))?;
    eprintln!(
        "{} disclosure(s) of patient {patient} up to seq {}, signed by {}",
        found.len(),
        head.seq,
        key.public_hex()
    );
    println!("{}", out.display());
    Ok(0)
}

async fn verify(db: &Database, paths: &Paths, file: &std::path::Path) -> anyhow::Result<i32> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let verified = match domain::ledger::verify_report(&text) {
        Ok(v) => v,
        Err(e) => {
            println!("FAILED: {e}");
            return Ok(1);
        }
    };
    let key = LedgerKey::load(&paths.ledger_key_file).with_context(|| {
        format!(
            "the ledger key {} is needed to tell whose signature this is",
            paths.ledger_key_file.display()
        )
    })?;
    if verified.key != key.public() {
        println!("FAILED: the report was signed by another key, not by this ledger's");
        return Ok(1);
    }
    match ledger::hash_of(&db.pool, verified.head_seq).await? {
        Some(hash) if hash == verified.head_hash => {
            println!(
                "OK: signed by this ledger's key; its head seq {} is on this ledger",
                verified.head_seq
            );
            Ok(0)
        }
        Some(_) => {
            println!(
                "FAILED: the ledger's hash at seq {} is not the report's",
                verified.head_seq
            );
            Ok(1)
        }
        None => {
            println!("FAILED: the ledger has no seq {}", verified.head_seq);
            Ok(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_moment_is_a_seq_or_a_time() {
        assert_eq!(parse_moment("42").unwrap(), Moment::Seq(42));
        assert!(matches!(
            parse_moment("2026-11-24T10:15:30Z").unwrap(),
            Moment::Time(_)
        ));
        assert!(parse_moment("yesterday").is_err());
        assert!(parse_moment("-3").is_err());
    }
}
