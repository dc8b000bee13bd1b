//! Registration: parse the input, reserve the address, make the person's subject key,
//! seal their personal fields, and append `UserRegistered`.

use super::Accounts;
use crate::{
    CommandError, Decision,
    rate_limit::{Bucket, Subject, wait_words},
};
use domain::account::{
    Email, Password, PersonName, Phone, PolicySubject, Role, User, UserId,
    user::{Register, Registration, register},
};
use uuid::Uuid;

/// What a caller asks for, as typed; parsed here, once.
pub struct RegisterRequest {
    pub email: String,
    pub password: String,
    pub name: String,
    pub role: Role,
    pub phone: Option<String>,
    pub via: Registration,
    /// The client's address, for the per-address limit (none from the command line).
    pub address: Option<std::net::IpAddr>,
}

#[derive(Debug, Clone, Copy)]
pub struct Registered {
    pub user: UserId,
    pub seq: i64,
}

impl Accounts {
    pub async fn register(&self, request: RegisterRequest) -> Result<Registered, CommandError> {
        if request.role == Role::Admin && request.via == Registration::Api {
            return Err(CommandError::BadInput(
                "administrators are created with `medchain admin create`".into(),
            ));
        }
        if let Some(address) = request.address {
            let now = self.inner.clock.now();
            let limits = &self.inner.limits;
            let limit = limits.limits.register_per_address;
            if let Err(until) = limits
                .take(Bucket::Register, limit, Subject::Address(address), now)
                .await?
            {
                return Err(CommandError::RateLimited(format!(
                    "too many registrations from this address; {}",
                    wait_words(until, now)
                )));
            }
        }
        let email = Email::parse(&request.email).map_err(CommandError::bad_input)?;
        let name = PersonName::parse(&request.name).map_err(CommandError::bad_input)?;
        let phone = request
            .phone
            .as_deref()
            .filter(|p| !p.trim().is_empty())
            .map(Phone::parse)
            .transpose()
            .map_err(CommandError::bad_input)?;
        let password = Password::new_checked(
            request.password,
            &PolicySubject {
                email: &email,
                name: &name,
            },
        )
        .map_err(CommandError::bad_input)?;

        let id = UserId::from_uuid(Uuid::new_v4());
        let now = self.inner.clock.now();
        let index = self.inner.keys.blind_index(&email);
        let reserved = sqlx::query(
            "INSERT INTO email_index (hmac, user_id, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (hmac) DO NOTHING",
        )
        .bind(index.as_bytes().as_slice())
        .bind(id.as_uuid())
        .bind(now.to_datetime())
        .execute(self.pool())
        .await?;
        if reserved.rows_affected() == 0 {
            return Err(CommandError::Conflict(
                "an account with this e-mail address already exists".into(),
            ));
        }
        let (role, via) = (request.role, request.via);
        match self
            .register_reserved(id, email, name, phone, password, role, via)
            .await
        {
            Ok(seq) => {
                tracing::info!(user.id = %id, "user registered");
                Ok(Registered { user: id, seq })
            }
            Err(e) => {
                // Nothing is on the ledger: free the address again. The subject key, if
                // made, stays unused (no row refers to it).
                let _ = sqlx::query("DELETE FROM email_index WHERE user_id = $1")
                    .bind(id.as_uuid())
                    .execute(self.pool())
                    .await;
                Err(e)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn register_reserved(
        &self,
        id: UserId,
        email: Email,
        name: PersonName,
        phone: Option<Phone>,
        password: Password,
        role: Role,
        via: Registration,
    ) -> Result<i64, CommandError> {
        let hash = self.inner.hasher.hash(password.expose()).await?;
        let key = self
            .inner
            .keys
            .create_subject_key(self.pool(), id.as_uuid())
            .await?;
        let stream = id.stream();
        let s = stream.as_str();
        let registration = Register {
            role,
            via,
            name: key.seal_str(s, "name", name.as_str()),
            email: key.seal_str(s, "email", email.as_str()),
            phone: phone.map(|p| key.seal_str(s, "phone", p.as_str())),
            password_hash: key.seal_str(s, "passwordHash", &hash),
        };
        let decide = |user: &User| {
            register(user, registration.clone())
                .map(Decision::events)
                .map_err(CommandError::bad_input)
        };
        let actor = (via == Registration::Api).then_some(id);
        Ok(self.kernel().execute(id, actor, decide).await?.seq)
    }
}
