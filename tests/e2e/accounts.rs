//! Accounts over GraphQL, end to end: the real server on port 0 with its own database,
//! reached through HTTP. Registration, login, logout, tokens and cookies, the password
//! policy, the login limit with an injected clock, and personal data kept out of the
//! ledger in the clear.

use crate::common;

use common::app::{Cred, STRONG, TestApp};
use serde_json::json;
use std::time::Duration;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_login_me_logout_and_the_token_is_refused_afterwards() {
    let app = TestApp::start().await;

    let user = app
        .try_register(
            "  Alice.Martin@Example.ORG ",
            "Alice Martin",
            "PATIENT",
            STRONG,
            Some("+33 6 12 34 56 78"),
        )
        .await;
    let user = user.ok()["register"].clone();
    assert_eq!(user["role"], "PATIENT");
    assert_eq!(user["status"], "ACTIVE", "patients are ACTIVE at once");
    assert_eq!(user["email"], "alice.martin@example.org");
    assert_eq!(user["name"], "Alice Martin");
    let id = user["id"].as_str().unwrap().to_owned();

    // Login answers the token and sets it as an HttpOnly, SameSite=Strict cookie.
    let login = app.try_login("alice.martin@example.org", STRONG).await;
    let session = login.ok()["login"].clone();
    let token = session["token"].as_str().unwrap().to_owned();
    assert_eq!(session["user"]["id"], id.as_str());
    assert!(session["expiresAt"].as_str().is_some());
    let cookie = login
        .set_cookies
        .iter()
        .find(|c| c.starts_with("medchain_session="))
        .unwrap_or_else(|| panic!("no session cookie in {:?}", login.set_cookies));
    let attributes: Vec<String> = cookie
        .split(';')
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    assert_eq!(
        cookie.split(';').next().unwrap(),
        format!("medchain_session={token}")
    );
    assert!(attributes.contains(&"httponly".to_owned()), "{cookie}");
    assert!(
        attributes.contains(&"samesite=strict".to_owned()),
        "{cookie}"
    );
    assert!(
        !attributes.contains(&"secure".to_owned()),
        "Secure only when the public URL is https: {cookie}"
    );
    assert!(
        attributes.contains(&"max-age=43200".to_owned()),
        "the cookie lives as long as the session may (12 h): {cookie}"
    );

    // The address is compared after trimming and lowercasing, at login too.
    app.login("  ALICE.Martin@example.org\t", STRONG).await;
    // An unknown address and a wrong password get the same answer.
    let unknown = app.try_login("nobody@example.org", STRONG).await;
    let wrong = app
        .try_login("alice.martin@example.org", "not-the-password")
        .await;
    assert_eq!(
        unknown.expect_code("UNAUTHENTICATED"),
        wrong.expect_code("UNAUTHENTICATED")
    );

    // The token works as a Bearer token and as the cookie.
    for cred in [Cred::Bearer(&token), Cred::Cookie(&token)] {
        let me = app.me(cred).await;
        assert_eq!(me.ok()["me"]["id"], id.as_str(), "{cred:?}");
        assert_eq!(me.ok()["me"]["email"], "alice.martin@example.org");
    }
    // Without credentials `me` is null, without an error.
    let anonymous = app.me(Cred::None).await;
    assert!(anonymous.ok()["me"].is_null(), "{}", anonymous.body);

    // Logout ends the session and clears the cookie.
    let logout = app
        .gql(Cred::Bearer(&token), "mutation { logout }", json!({}))
        .await;
    assert_eq!(logout.ok()["logout"], true);
    assert!(
        logout
            .set_cookies
            .iter()
            .any(|c| c.starts_with("medchain_session=;")
                && c.to_ascii_lowercase().contains("max-age=0")),
        "logout clears the cookie: {:?}",
        logout.set_cookies
    );

    // The same token is refused on every operation, as header or cookie.
    for cred in [Cred::Bearer(&token), Cred::Cookie(&token)] {
        app.me(cred).await.expect_code("UNAUTHENTICATED");
        app.gql(cred, "{ __typename }", json!({}))
            .await
            .expect_code("UNAUTHENTICATED");
        app.gql(cred, "mutation { logout }", json!({}))
            .await
            .expect_code("UNAUTHENTICATED");
    }
    // Malformed credentials too; no credentials is anonymous.
    for cred in [
        Cred::Bearer("not-a-token"),
        Cred::Authorization("Basic YWxpY2U6c2VjcmV0"),
        Cred::Cookie("garbage"),
    ] {
        app.me(cred).await.expect_code("UNAUTHENTICATED");
    }
    assert!(app.me(Cred::None).await.ok()["me"].is_null());
    // Anything needing a user, asked anonymously, is UNAUTHENTICATED.
    app.gql(Cred::None, "mutation { logout }", json!({}))
        .await
        .expect_code("UNAUTHENTICATED");

    // Every account action is an event, with its actor.
    let stream = format!("user-{id}");
    let events: Vec<(String, Option<Uuid>)> =
        sqlx::query_as("SELECT type, actor FROM events WHERE stream = $1 ORDER BY seq")
            .bind(&stream)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let id = Uuid::parse_str(&id).unwrap();
    assert_eq!(
        events,
        vec![
            ("UserRegistered".to_owned(), Some(id)),
            ("LoginSucceeded".to_owned(), Some(id)),
            ("LoginSucceeded".to_owned(), Some(id)),
            // A failure is someone's claim to be the user: no actor.
            ("LoginFailed".to_owned(), None),
            ("LoggedOut".to_owned(), Some(id)),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctors_wait_for_approval_admins_are_not_registered_and_addresses_are_unique() {
    let app = TestApp::start().await;

    let doctor = app
        .register("dr.house@example.org", "Gregory House", "DOCTOR", STRONG)
        .await;
    assert_eq!(doctor["status"], "PENDING", "doctors wait for approval");
    let refused = app.try_login("dr.house@example.org", STRONG).await;
    let message = refused.expect_code("FORBIDDEN");
    assert!(
        message.contains("PENDING"),
        "the message names the state: {message}"
    );
    assert!(refused.data().is_null() || refused.data()["login"].is_null());
    assert!(
        refused.set_cookies.is_empty(),
        "no session for a PENDING account"
    );
    // With a wrong password the state is not told: a wrong password like any other.
    app.try_login("dr.house@example.org", "not-the-password-1")
        .await
        .expect_code("UNAUTHENTICATED");
    let sessions: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(sessions, 0);

    // ADMIN through the API is refused, and nothing is recorded.
    let before = app.count_all_events().await;
    app.try_register("root@example.org", "Root Admin", "ADMIN", STRONG, None)
        .await
        .expect_code("BAD_USER_INPUT");
    assert_eq!(app.count_all_events().await, before);
    app.try_login("root@example.org", STRONG)
        .await
        .expect_code("UNAUTHENTICATED");

    // The same address, in another case and with spaces, is a CONFLICT.
    app.register("jane.doe@example.org", "Jane Doe", "PATIENT", STRONG)
        .await;
    let before = app.count_all_events().await;
    for email in [
        "jane.doe@example.org",
        "  JANE.Doe@Example.org\t",
        "Jane.Doe@EXAMPLE.ORG",
    ] {
        app.try_register(email, "Another Jane", "DOCTOR", STRONG, None)
            .await
            .expect_code("CONFLICT");
    }
    assert_eq!(app.count_all_events().await, before);
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(users, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weak_passwords_are_refused_saying_what_is_wrong() {
    let app = TestApp::start().await;
    let email = "marguerite.fontaine@example.org";
    let name = "Marguerite Fontaine";
    for (password, says) in [
        ("Xk9#vQ2!", "12 characters"),
        ("Fontaine#8vQ2!xLp", "name"),
        ("zqMARGUERITE71!vbN", "name"),
        ("Fontaine.marguerite.Q7", "name"),
        ("marguerite.fontaine#93Kp", "name"),
        ("password1234", "guess"),
        ("qwertyuiop123", "guess"),
        ("aaaaaaaaaaaaaaaa", "guess"),
    ] {
        let refused = app
            .try_register(email, name, "PATIENT", password, None)
            .await;
        let message = refused.expect_code("BAD_USER_INPUT");
        assert!(
            message.to_lowercase().contains(says),
            "{password:?}: the message should say {says:?}: {message}"
        );
    }
    // The e-mail address's local part.
    let refused = app
        .try_register(
            "zorglub@example.org",
            "Jean Valjean",
            "PATIENT",
            "x7!Zorglub#Qm2v",
            None,
        )
        .await;
    let message = refused.expect_code("BAD_USER_INPUT");
    assert!(message.contains("e-mail"), "{message}");
    assert_eq!(app.count_all_events().await, 0, "nothing was registered");

    // Any Unicode, 128 characters, never truncated: one character less is wrong.
    let alphabet: Vec<char> = "äÉßΩжЖ漢字🙂kQz7!#ŁøÑ€ğ".chars().collect();
    let mut state = 12345u32;
    let long: String = (0..128)
        .map(|_| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            alphabet[(state >> 16) as usize % alphabet.len()]
        })
        .collect();
    assert_eq!(long.chars().count(), 128);
    app.register(email, name, "PATIENT", &long).await;
    let shorter: String = long.chars().take(127).collect();
    app.try_login(email, &shorter)
        .await
        .expect_code("UNAUTHENTICATED");
    app.login(email, &long).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_wrong_passwords_lock_the_account_for_fifteen_minutes() {
    let app = TestApp::start().await;
    let email = "bob.stone@example.org";
    app.register(email, "Bob Stone", "PATIENT", STRONG).await;
    let other = "carol.white@example.org";
    app.register(other, "Carol White", "PATIENT", STRONG).await;

    // 200 aliased logins in one request are refused before anything runs.
    let before = app.count_events("LoginFailed").await;
    let fields: String = (0..200)
        .map(|i| {
            format!(
                "a{i}: login(email: \"{email}\", password: \"wrong-{i}-password\") {{ token }} "
            )
        })
        .collect();
    let aliased = app
        .gql(Cred::None, &format!("mutation {{ {fields} }}"), json!({}))
        .await;
    aliased.expect_code("BAD_USER_INPUT");
    assert!(aliased.data().is_null(), "nothing ran: {}", aliased.body);
    assert_eq!(app.count_events("LoginFailed").await, before);
    assert_eq!(app.count_events("LoginSucceeded").await, 0);

    // Ten wrong passwords, each refused as a wrong password.
    for i in 0..10 {
        app.try_login(email, &format!("not-the-password-{i}"))
            .await
            .expect_code("UNAUTHENTICATED");
    }
    assert_eq!(app.count_events("LoginFailed").await, before + 10);
    // Now locked, right password or not.
    let locked = app.try_login(email, STRONG).await;
    locked.expect_code("RATE_LIMITED");
    assert!(locked.set_cookies.is_empty());
    app.try_login(email, "not-the-password-x")
        .await
        .expect_code("RATE_LIMITED");
    assert_eq!(app.count_events("LoginSucceeded").await, 0);
    // The lock is the account's: another account logs in.
    app.login(other, STRONG).await;

    // Still locked just before the window has passed; open once it has.
    app.clock.advance(Duration::from_secs(14 * 60 + 50));
    app.try_login(email, STRONG)
        .await
        .expect_code("RATE_LIMITED");
    app.clock.advance(Duration::from_secs(11));
    let token = app.login(email, STRONG).await;
    assert_eq!(
        app.me(Cred::Bearer(&token)).await.ok()["me"]["email"],
        email
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_failures_from_one_address_block_it_for_fifteen_minutes() {
    let app = TestApp::start().await;
    let email = "dora.lane@example.org";
    app.register(email, "Dora Lane", "PATIENT", STRONG).await;
    // 100 failures from this address, each on an unknown account (so no account locks).
    for i in 0..100 {
        app.try_login(&format!("nobody{i}@example.org"), "whatever-password")
            .await
            .expect_code("UNAUTHENTICATED");
    }
    assert_eq!(app.count_events("LoginFailed").await, 0);
    // Now the address is blocked, even for an account with its right password.
    app.try_login(email, STRONG)
        .await
        .expect_code("RATE_LIMITED");
    app.clock.advance(Duration::from_secs(14 * 60 + 50));
    app.try_login(email, STRONG)
        .await
        .expect_code("RATE_LIMITED");
    app.clock.advance(Duration::from_secs(11));
    app.login(email, STRONG).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alias_limit_allows_twenty_and_refuses_twenty_one() {
    let app = TestApp::start().await;
    let query = |n: usize| {
        let fields: String = (0..n).map(|i| format!("m{i}: me {{ id }} ")).collect();
        format!("{{ {fields} }}")
    };
    let allowed = app.gql(Cred::None, &query(20), json!({})).await;
    assert!(allowed.ok()["m19"].is_null());
    app.gql(Cred::None, &query(21), json!({}))
        .await
        .expect_code("BAD_USER_INPUT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_name_email_phone_or_password_stands_in_clear_in_the_ledger() {
    let app = TestApp::start().await;
    let people = [
        (
            "Zebulon.Quixotefield@Example.org",
            "Zebulon Quixotefield",
            "PATIENT",
            "+44 20 7946 0958",
        ),
        (
            "henrietta.vasquez-oyelaran@clinic.example",
            "Henrietta Vasquez-Oyelaran",
            "DOCTOR",
            "(555) 013-2749",
        ),
    ];
    for (email, name, role, phone) in people {
        let registered = app
            .try_register(email, name, role, STRONG, Some(phone))
            .await;
        assert_eq!(registered.ok()["register"]["phone"], phone);
    }
    // Logins, a failure, a logout: more events that could carry personal data.
    let token = app.login(people[0].0, STRONG).await;
    app.try_login(people[0].0, "wrong-password-123")
        .await
        .expect_code("UNAUTHENTICATED");
    app.try_login(people[1].0, STRONG)
        .await
        .expect_code("FORBIDDEN");
    app.gql(Cred::Bearer(&token), "mutation { logout }", json!({}))
        .await
        .ok();

    let mut needles: Vec<String> = vec![STRONG.to_owned()];
    for (email, name, _, phone) in people {
        needles.push(email.trim().to_owned());
        needles.push(name.to_owned());
        needles.extend(
            name.split([' ', '-'])
                .filter(|part| part.len() >= 3)
                .map(str::to_owned),
        );
        needles.push(email.split('@').next().unwrap().to_owned());
        needles.push(phone.to_owned());
        needles.push(phone.chars().filter(char::is_ascii_digit).collect());
    }
    let payloads: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT seq, type, payload::text FROM events ORDER BY seq")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(payloads.len(), 5, "{payloads:?}");
    let views: Vec<String> = sqlx::query_scalar("SELECT u::text FROM users u")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(views.len(), 2);
    let rows = payloads
        .iter()
        .map(|(seq, kind, text)| (format!("event {seq} {kind}"), text.clone()))
        .chain(views.into_iter().map(|text| ("users row".to_owned(), text)));
    for (what, text) in rows {
        let text = text.to_lowercase();
        for needle in &needles {
            assert!(
                !text.contains(&needle.to_lowercase()),
                "{what} holds {needle:?} in clear: {text}"
            );
        }
    }
}
