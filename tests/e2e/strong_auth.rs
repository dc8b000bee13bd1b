//! Strong sign-in end to end (issue: TOTP, recovery codes, step-up; DESIGN.md §10): a
//! person enrols TOTP with a code the test computes from the secret, signs in with codes
//! (each good once) and recovery codes (each good once, ending the other sessions), is
//! asked for a code, is locked out of codes after five wrong ones (in two server
//! processes alike) and told, and can change factors only soon after proving themself.
//! The secret and the codes never reach the ledger in clear.

use crate::common;

use commands::{Clock as _, accounts::totp::TotpSecret};
use common::app::{Cred, STRONG, TestApp};
use serde_json::{Value, json};
use std::time::Duration;

const EMAIL: &str = "tess.otp@example.org";
const LOGIN: &str = "mutation($e: String!, $p: String!, $o: String) { login(email: $e, password: $p, otp: $o) { token } }";

/// Seconds since the epoch on the server's clock.
fn now_seconds(app: &TestApp) -> u64 {
    (app.clock.now().as_micros() / 1_000_000) as u64
}

/// The code an authenticator app shows now, and the one 30 s from now.
fn code(app: &TestApp, secret: &TotpSecret, later: u64) -> String {
    secret.code_at(now_seconds(app) + later)
}

async fn login_with(app: &TestApp, otp: Option<&str>) -> common::app::Gql {
    app.gql(
        Cred::None,
        LOGIN,
        json!({"e": EMAIL, "p": STRONG, "o": otp}),
    )
    .await
}

/// `myMfa { totp recoveryCodesLeft }` for this session.
async fn mfa(app: &TestApp, token: &str) -> Value {
    let status = app
        .gql(
            Cred::Bearer(token),
            "{ myMfa { totp recoveryCodesLeft } }",
            json!({}),
        )
        .await;
    status.ok()["myMfa"].clone()
}

fn reason(gql: &common::app::Gql) -> Value {
    gql.errors()[0]["extensions"]["reason"].clone()
}

/// A patient with TOTP on: returns their session, the secret and the recovery codes.
async fn enrolled(app: &TestApp) -> (String, TotpSecret, Vec<String>) {
    app.register(EMAIL, "Tess Otp", "PATIENT", STRONG).await;
    let token = app.login(EMAIL, STRONG).await;
    let begun = app
        .gql(
            Cred::Bearer(&token),
            "mutation { totpEnrollBegin { secret otpauthUri qrSvg } }",
            json!({}),
        )
        .await;
    let begun = &begun.ok()["totpEnrollBegin"];
    let secret = TotpSecret::from_base32(begun["secret"].as_str().unwrap()).unwrap();
    let uri = begun["otpauthUri"].as_str().unwrap();
    assert!(
        uri.starts_with("otpauth://totp/MedChain:tess.otp%40example.org?"),
        "{uri}"
    );
    assert!(begun["qrSvg"].as_str().unwrap().starts_with("<svg"));

    // Nothing is on until a code from the new secret comes back.
    assert_eq!(
        mfa(app, &token).await,
        json!({"totp": false, "recoveryCodesLeft": 0})
    );
    let finish = "mutation($c: String!) { totpEnrollFinish(code: $c) }";
    app.gql(Cred::Bearer(&token), finish, json!({"c": "000000"}))
        .await
        .expect_code("BAD_USER_INPUT");
    let codes = app
        .gql(
            Cred::Bearer(&token),
            finish,
            json!({"c": code(app, &secret, 0)}),
        )
        .await;
    let codes: Vec<String> = codes.ok()["totpEnrollFinish"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    (token, secret, codes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totp_codes_and_recovery_codes_each_sign_in_once() {
    let app = TestApp::start().await;
    let (first, secret, recovery) = enrolled(&app).await;
    assert_eq!(
        mfa(&app, &first).await,
        json!({"totp": true, "recoveryCodesLeft": 10})
    );

    // The password alone is not enough now, and says what is missing.
    let asked = login_with(&app, None).await;
    asked.expect_code("FORBIDDEN");
    assert_eq!(reason(&asked), "MFA_REQUIRED");

    // The enrolment's code is spent; the next step's code signs in, once.
    login_with(&app, Some(&code(&app, &secret, 0)))
        .await
        .expect_code("UNAUTHENTICATED");
    let next = code(&app, &secret, 30);
    app.clock.advance(Duration::from_secs(30));
    let with_totp = login_with(&app, Some(&next)).await;
    let totp_token = with_totp.ok()["login"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    login_with(&app, Some(&next))
        .await
        .expect_code("UNAUTHENTICATED");

    // A recovery code, typed loosely, signs in once and ends the other sessions.
    let typed = recovery[3].to_lowercase().replace('-', " ");
    let with_code = login_with(&app, Some(&typed)).await;
    let code_token = with_code.ok()["login"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    login_with(&app, Some(&recovery[3]))
        .await
        .expect_code("UNAUTHENTICATED");
    for ended in [&first, &totp_token] {
        app.me(Cred::Bearer(ended))
            .await
            .expect_code("UNAUTHENTICATED");
    }
    let sessions = app
        .gql(
            Cred::Bearer(&code_token),
            "{ mySessions { current method } myMfa { recoveryCodesLeft } }",
            json!({}),
        )
        .await;
    assert_eq!(
        sessions.ok()["mySessions"],
        json!([{"current": true, "method": "password+recovery-code"}])
    );
    assert_eq!(sessions.ok()["myMfa"]["recoveryCodesLeft"], 9);

    // The person was told of the new factor, and nothing secret is on the ledger.
    let notices = app
        .gql(
            Cred::Bearer(&code_token),
            "{ notifications(first: 20) { edges { node { kind message } } } }",
            json!({}),
        )
        .await;
    let kinds = notices.ok()["notifications"]["edges"].to_string();
    assert!(kinds.contains("SECURITY_CHANGED"), "{kinds}");
    let ledger: String = sqlx::query_scalar("SELECT string_agg(payload::text, '') FROM events")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(!ledger.contains(&secret.base32().unwrap()));
    for c in &recovery {
        assert!(!ledger.contains(c.as_str()) && !ledger.contains(&c.replace('-', "")));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_wrong_codes_lock_codes_in_every_process_and_the_person_is_told() {
    let app = TestApp::start().await;
    let (token, secret, _) = enrolled(&app).await;
    let other = app.another_server().await;
    let login_at = |addr: std::net::SocketAddr, otp: String| {
        let http = app.http.clone();
        async move {
            let body: Value = http
                .post(format!("http://{addr}/graphql"))
                .json(&json!({"query": LOGIN, "variables": {"e": EMAIL, "p": STRONG, "o": otp}}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            body["errors"][0]["extensions"]["code"]
                .as_str()
                .unwrap_or("OK")
                .to_owned()
        }
    };
    // Five wrong codes, alternating between the two processes.
    for i in 0..5 {
        let addr = if i % 2 == 0 { app.addr } else { other.addr };
        assert_eq!(
            login_at(addr, format!("{:06}", 111_111 * (i + 1) % 1_000_000)).await,
            "UNAUTHENTICATED"
        );
    }
    // Then even the right code is refused, by both; the password alone still asks for one.
    app.clock.advance(Duration::from_secs(30));
    for addr in [app.addr, other.addr] {
        assert_eq!(login_at(addr, code(&app, &secret, 0)).await, "RATE_LIMITED");
    }
    // Fifteen minutes on, codes work again.
    app.clock.advance(Duration::from_secs(15 * 60));
    assert_eq!(login_at(other.addr, code(&app, &secret, 0)).await, "OK");

    let notices = app
        .gql(
            Cred::Bearer(&token),
            "{ notifications(first: 20) { edges { node { kind message } } } }",
            json!({}),
        )
        .await;
    let text = notices.ok()["notifications"]["edges"].to_string();
    assert!(text.contains("wrong codes"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_a_factor_needs_a_recent_sign_in() {
    let app = TestApp::start().await;
    let (token, secret, recovery) = enrolled(&app).await;

    // An hour after signing in (in use meanwhile, so it lives), the session cannot turn
    // TOTP off or make new codes.
    for _ in 0..3 {
        app.clock.advance(Duration::from_secs(20 * 60));
        app.me(Cred::Bearer(&token)).await.ok();
    }
    let disable = "mutation($c: String!) { disableTotp(code: $c) }";
    let stale = app
        .gql(
            Cred::Bearer(&token),
            disable,
            json!({"c": code(&app, &secret, 0)}),
        )
        .await;
    stale.expect_code("FORBIDDEN");
    assert_eq!(reason(&stale), "REAUTH_REQUIRED");
    let regenerate = "mutation($c: String!) { regenerateRecoveryCodes(code: $c) }";
    let stale = app
        .gql(Cred::Bearer(&token), regenerate, json!({"c": recovery[0]}))
        .await;
    assert_eq!(reason(&stale), "REAUTH_REQUIRED");

    // Reauthenticating needs the password and, with TOTP on, a code.
    let reauth = "mutation($p: String!, $o: String) { reauthenticate(password: $p, otp: $o) }";
    let without = app
        .gql(Cred::Bearer(&token), reauth, json!({"p": STRONG}))
        .await;
    assert_eq!(reason(&without), "MFA_REQUIRED");
    app.gql(
        Cred::Bearer(&token),
        reauth,
        json!({"p": "not the password at all", "o": code(&app, &secret, 0)}),
    )
    .await
    .expect_code("UNAUTHENTICATED");
    app.gql(
        Cred::Bearer(&token),
        reauth,
        json!({"p": STRONG, "o": code(&app, &secret, 0)}),
    )
    .await
    .ok();

    // Now: new codes (the old ones stop working), then TOTP off with one of them.
    let fresh = app
        .gql(Cred::Bearer(&token), regenerate, json!({"c": recovery[0]}))
        .await;
    let fresh: Vec<String> =
        serde_json::from_value(fresh.ok()["regenerateRecoveryCodes"].clone()).unwrap();
    assert_eq!(fresh.len(), 10);
    app.gql(Cred::Bearer(&token), disable, json!({"c": recovery[1]}))
        .await
        .expect_code("BAD_USER_INPUT");
    app.gql(Cred::Bearer(&token), disable, json!({"c": fresh[0]}))
        .await
        .ok();
    assert_eq!(
        mfa(&app, &token).await,
        json!({"totp": false, "recoveryCodesLeft": 0})
    );
    // Turning it on again an hour later needs the step-up too.
    for _ in 0..3 {
        app.clock.advance(Duration::from_secs(20 * 60));
        app.me(Cred::Bearer(&token)).await.ok();
    }
    let begin = app
        .gql(
            Cred::Bearer(&token),
            "mutation { totpEnrollBegin { secret } }",
            json!({}),
        )
        .await;
    assert_eq!(reason(&begin), "REAUTH_REQUIRED");
    // The password alone signs in again, and says so.
    let again = login_with(&app, None).await;
    let again = again.ok()["login"]["token"].as_str().unwrap().to_owned();
    let sessions = app
        .gql(
            Cred::Bearer(&again),
            "{ mySessions { current method } }",
            json!({}),
        )
        .await;
    assert!(
        sessions.ok()["mySessions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["method"] == "password"),
        "{}",
        sessions.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_without_a_factor_may_only_enrol_one() {
    let mut app = TestApp::start().await;
    app.mfa_required = domain::account::MfaPolicy::parse("admin").unwrap();
    app.restart().await;
    let (admin_id, token) = app.create_admin("ada.mfa@example.org", "Ada Mfa").await;

    // Signed in, the session may see itself and its factors, and nothing else.
    assert_eq!(
        app.me(Cred::Bearer(&token)).await.ok()["me"]["email"],
        "ada.mfa@example.org"
    );
    let status = app
        .gql(
            Cred::Bearer(&token),
            "{ myMfa { required totp } }",
            json!({}),
        )
        .await;
    assert_eq!(
        status.ok()["myMfa"],
        json!({"required": true, "totp": false})
    );
    let stats = "{ stats { users { admins } } }";
    let refused = app.gql(Cred::Bearer(&token), stats, json!({})).await;
    refused.expect_code("FORBIDDEN");
    assert_eq!(reason(&refused), "MFA_ENROLMENT_REQUIRED");
    let photo = app
        .http
        .get(app.url(&format!("/api/users/{admin_id}/photo")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(photo.status(), 403);

    // Once a factor is on, the same session may do everything.
    let begun = app
        .gql(
            Cred::Bearer(&token),
            "mutation { totpEnrollBegin { secret } }",
            json!({}),
        )
        .await;
    let secret =
        TotpSecret::from_base32(begun.ok()["totpEnrollBegin"]["secret"].as_str().unwrap()).unwrap();
    app.gql(
        Cred::Bearer(&token),
        "mutation($c: String!) { totpEnrollFinish(code: $c) }",
        json!({"c": code(&app, &secret, 0)}),
    )
    .await
    .ok();
    let allowed = app.gql(Cred::Bearer(&token), stats, json!({})).await;
    assert_eq!(allowed.ok()["stats"]["users"]["admins"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_resets_a_lost_factor_and_the_person_is_told() {
    let app = TestApp::start().await;
    let (admin_id, admin) = app.create_admin("root.mfa@example.org", "Rut Admin").await;
    let (patient, _, _) = enrolled(&app).await;
    let patient_id = app.me(Cred::Bearer(&patient)).await.ok()["me"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reset = "mutation($u: UUID!, $r: String!) { resetMfa(userId: $u, reason: $r) { id } }";

    // Not their own, and not by someone who is not an administrator.
    app.gql(
        Cred::Bearer(&admin),
        reset,
        json!({"u": admin_id, "r": "mine"}),
    )
    .await
    .expect_code("FORBIDDEN");
    app.gql(
        Cred::Bearer(&patient),
        reset,
        json!({"u": patient_id, "r": "lost my phone"}),
    )
    .await
    .expect_code("FORBIDDEN");

    app.gql(
        Cred::Bearer(&admin),
        reset,
        json!({"u": patient_id, "r": "lost the phone"}),
    )
    .await
    .ok();
    // The patient's sessions ended; the password alone signs in; they were told.
    app.me(Cred::Bearer(&patient))
        .await
        .expect_code("UNAUTHENTICATED");
    let again = login_with(&app, None).await;
    let again = again.ok()["login"]["token"].as_str().unwrap().to_owned();
    assert_eq!(
        mfa(&app, &again).await,
        json!({"totp": false, "recoveryCodesLeft": 0})
    );
    let notices = app
        .gql(
            Cred::Bearer(&again),
            "{ notifications(first: 20) { edges { node { kind message } } } }",
            json!({}),
        )
        .await;
    let text = notices.ok()["notifications"]["edges"].to_string();
    assert!(
        text.contains("An administrator removed your second factor"),
        "{text}"
    );
    let ledger: String =
        sqlx::query_scalar("SELECT payload::text FROM events WHERE type = 'MfaReset'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(!ledger.contains("lost the phone"), "{ledger}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkey_challenges_are_single_use_expire_and_need_a_recent_sign_in() {
    let app = TestApp::start().await;
    app.register(EMAIL, "Tess Otp", "PATIENT", STRONG).await;
    let begin = "mutation { passkeyLoginBegin { challengeId options } }";
    let finish = "mutation($c: UUID!, $k: JSON!) { passkeyLoginFinish(challengeId: $c, credential: $k) { token } }";
    let forged = json!({"id": "AAAA", "rawId": "AAAA", "type": "public-key",
        "response": {"clientDataJSON": "e30", "authenticatorData": "AAAA", "signature": "AAAA", "userHandle": null},
        "clientExtensionResults": {}});

    // The options ask for user verification, of any passkey of this site.
    let begun = app.gql(Cred::None, begin, json!({})).await;
    let options = &begun.ok()["passkeyLoginBegin"]["options"]["publicKey"];
    assert_eq!(options["userVerification"], "required");
    assert_eq!(options["rpId"], "localhost");
    assert_eq!(options["allowCredentials"], json!([]));
    let id = begun.ok()["passkeyLoginBegin"]["challengeId"].clone();

    // A credential that proves nothing is refused, and the challenge is spent with it.
    app.gql(Cred::None, finish, json!({"c": id, "k": forged}))
        .await
        .expect_code("UNAUTHENTICATED");
    let again = app
        .gql(Cred::None, finish, json!({"c": id, "k": forged}))
        .await;
    again.expect_code("BAD_USER_INPUT");
    assert!(
        again.message().contains("unknown, used or expired"),
        "{}",
        again.body
    );

    // A challenge five minutes old is refused too.
    let begun = app.gql(Cred::None, begin, json!({})).await;
    let id = begun.ok()["passkeyLoginBegin"]["challengeId"].clone();
    app.clock.advance(Duration::from_secs(5 * 60 + 1));
    let late = app
        .gql(Cred::None, finish, json!({"c": id, "k": forged}))
        .await;
    assert!(
        late.message().contains("unknown, used or expired"),
        "{}",
        late.body
    );
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM webauthn_challenges")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(left, 0, "used and expired challenges are gone");

    // Adding a passkey an hour after signing in needs `reauthenticate` first.
    let token = app.login(EMAIL, STRONG).await;
    for _ in 0..3 {
        app.clock.advance(Duration::from_secs(20 * 60));
        app.me(Cred::Bearer(&token)).await.ok();
    }
    let register =
        "mutation($n: String!) { passkeyRegisterBegin(name: $n) { challengeId options } }";
    let stale = app
        .gql(Cred::Bearer(&token), register, json!({"n": "My phone"}))
        .await;
    assert_eq!(reason(&stale), "REAUTH_REQUIRED");
    app.gql(
        Cred::Bearer(&token),
        "mutation($p: String!) { reauthenticate(password: $p) }",
        json!({"p": STRONG}),
    )
    .await
    .ok();
    let begun = app
        .gql(Cred::Bearer(&token), register, json!({"n": "My phone"}))
        .await;
    let options = &begun.ok()["passkeyRegisterBegin"]["options"]["publicKey"];
    assert_eq!(options["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(
        options["authenticatorSelection"]["userVerification"],
        "required"
    );
    assert_eq!(options["rp"]["id"], "localhost");
    // Another person cannot finish it.
    app.register("other.person@example.org", "Olga Other", "PATIENT", STRONG)
        .await;
    let other = app.login("other.person@example.org", STRONG).await;
    let taken = app
        .gql(
            Cred::Bearer(&other),
            "mutation($c: UUID!, $k: JSON!) { passkeyRegisterFinish(challengeId: $c, credential: $k) { id } }",
            json!({"c": begun.ok()["passkeyRegisterBegin"]["challengeId"], "k": forged}),
        )
        .await;
    assert!(
        taken.message().contains("unknown, used or expired"),
        "{}",
        taken.body
    );
}
