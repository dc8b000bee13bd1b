//! `medchain admin create`: the only way an administrator comes to be (the API refuses
//! role ADMIN). The password goes through the same policy as everyone's.

use crate::{
    cli::Common,
    database::{Database, Purpose},
};
use commands::{
    EventStore, Kernel, SystemClock,
    accounts::{Accounts, RegisterRequest, SessionPolicy},
    password_hasher::PasswordHasher,
};
use domain::account::{Role, user::Registration};
use std::{io::IsTerminal as _, sync::Arc};

pub async fn create(common: &Common, email: &str, name: &str) -> anyhow::Result<i32> {
    let password = read_password()?;
    let db = Database::open(common, Purpose::Command, 4).await?;
    let result = async {
        let keys = crate::config::key_ring(common)?;
        let store = EventStore::start(db.pool.clone(), Arc::new(SystemClock));
        let accounts = Accounts::new(
            Kernel::new(store, keys.clone()),
            keys,
            PasswordHasher::new()?,
            Arc::new(SystemClock),
            SessionPolicy::default(),
        );
        let registered = accounts
            .register(RegisterRequest {
                email: email.to_owned(),
                password,
                name: name.to_owned(),
                role: Role::Admin,
                phone: None,
                via: Registration::Cli,
                address: None,
            })
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        println!(
            "{}",
            serde_json::json!({"id": registered.user.to_string(), "seq": registered.seq})
        );
        eprintln!("administrator created");
        anyhow::Ok(0)
    }
    .await;
    db.close().await;
    result
}

fn read_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password for the new administrator: ")?;
        let again = rpassword::prompt_password("The same password again: ")?;
        anyhow::ensure!(first == again, "the two passwords differ");
        return Ok(first);
    }
    std::env::var("MEDCHAIN_ADMIN_PASSWORD").map_err(|_| {
        anyhow::anyhow!("no terminal to ask for the password: set MEDCHAIN_ADMIN_PASSWORD")
    })
}
