//! Rate limits that hold across server processes (`commands::rate_limit`, in
//! PostgreSQL): failed sign-ins per client address and per account, whether or not the
//! address has an account; registrations per address; the client address behind trusted
//! proxies. Each test sends from its own loopback addresses (127.x.y.z) so the limits
//! say which address did what.

use crate::common;

use common::app::{STRONG, TestApp};
use serde_json::{Value, json};
use std::net::{IpAddr, SocketAddr};

const LOGIN: &str =
    "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }";

/// An HTTP client whose connections come from `ip` (any 127.x.y.z works on Linux).
fn from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn post(
    client: &reqwest::Client,
    addr: SocketAddr,
    query: &str,
    variables: Value,
    headers: &[(&str, &str)],
) -> Value {
    let mut request = client
        .post(format!("http://{addr}/graphql"))
        .json(&json!({"query": query, "variables": variables}));
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    request.send().await.unwrap().json().await.unwrap()
}

fn code(answer: &Value) -> &str {
    answer["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("none")
}

/// After ten failures a known address and an unknown one are locked alike: the same code
/// and the same words, so the answers cannot tell which addresses have accounts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_and_an_unknown_address_are_locked_with_identical_answers() {
    let app = TestApp::start().await;
    app.register("known@example.org", "Kim Known", "PATIENT", STRONG)
        .await;
    let client = from("127.0.9.1");
    let mut last = Vec::new();
    for email in ["known@example.org", "unknown@example.org"] {
        for _ in 0..10 {
            let answer = post(
                &client,
                app.addr,
                LOGIN,
                json!({"e": email, "p": "Wrong-password-1"}),
                &[],
            )
            .await;
            assert_eq!(code(&answer), "UNAUTHENTICATED", "{answer}");
        }
        // Locked now, the right password or not.
        let locked = post(
            &client,
            app.addr,
            LOGIN,
            json!({"e": email, "p": STRONG}),
            &[],
        )
        .await;
        assert_eq!(code(&locked), "RATE_LIMITED", "{email}: {locked}");
        last.push(locked);
    }
    assert_eq!(
        last[0], last[1],
        "the same answer for a known and an unknown address"
    );
    assert!(
        last[0]["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("15 minutes"),
        "{}",
        last[0]
    );
    // The window passes: the right password works again.
    app.clock
        .advance(std::time::Duration::from_secs(15 * 60 + 1));
    let answer = post(
        &client,
        app.addr,
        LOGIN,
        json!({"e": "known@example.org", "p": STRONG}),
        &[],
    )
    .await;
    assert!(answer["data"]["login"]["token"].is_string(), "{answer}");
}

/// The per-address limit is counted in the database: failures spread over two server
/// processes add up, and the next attempt at either is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_server_processes_share_one_limit() {
    let mut app = TestApp::start().await;
    app.rate_limits.login_per_address = commands::rate_limit::Limit::per_minutes(6, 15);
    app.restart().await;
    let other = app.another_server().await;
    let client = from("127.0.9.2");
    for i in 0..6 {
        let server = if i % 2 == 0 { app.addr } else { other.addr };
        let email = format!("guess{i}@example.org");
        let answer = post(
            &client,
            server,
            LOGIN,
            json!({"e": email, "p": "Wrong-password-1"}),
            &[],
        )
        .await;
        assert_eq!(code(&answer), "UNAUTHENTICATED", "{answer}");
    }
    for server in [app.addr, other.addr] {
        let answer = post(
            &client,
            server,
            LOGIN,
            json!({"e": "fresh@example.org", "p": "x"}),
            &[],
        )
        .await;
        assert_eq!(code(&answer), "RATE_LIMITED", "{answer}");
        assert!(
            answer["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("this address")
        );
    }
    // Another address is not affected.
    let elsewhere = post(
        &from("127.0.9.3"),
        other.addr,
        LOGIN,
        json!({"e": "fresh@example.org", "p": "x"}),
        &[],
    )
    .await;
    assert_eq!(code(&elsewhere), "UNAUTHENTICATED", "{elsewhere}");
}

/// Behind trusted proxies the client is the right-most address no trusted proxy wrote;
/// a first hop the client writes itself changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spoofed_first_hop_does_not_escape_the_limit() {
    let mut app = TestApp::start().await;
    app.rate_limits.login_per_address = commands::rate_limit::Limit::per_minutes(5, 15);
    app.trusted_proxies = graphql::TrustedProxies::parse("127.0.9.0/24").unwrap();
    app.restart().await;
    // The proxy at 127.0.9.4 appends the address it received from (198.51.100.7); what is
    // left of it the client wrote, a new "address" on every try.
    let proxy = from("127.0.9.4");
    for i in 0..5 {
        let hops = format!("203.0.113.{i}, 198.51.100.7");
        let answer = post(
            &proxy,
            app.addr,
            LOGIN,
            json!({"e": format!("g{i}@example.org"), "p": "x"}),
            &[("x-forwarded-for", &hops)],
        )
        .await;
        assert_eq!(code(&answer), "UNAUTHENTICATED", "{answer}");
    }
    let spoofed = post(
        &proxy,
        app.addr,
        LOGIN,
        json!({"e": "g9@example.org", "p": "x"}),
        &[("x-forwarded-for", "192.0.2.99, 198.51.100.7")],
    )
    .await;
    assert_eq!(
        code(&spoofed),
        "RATE_LIMITED",
        "the client is still 198.51.100.7: {spoofed}"
    );
    // A different client behind the same proxy is its own.
    let other = post(
        &proxy,
        app.addr,
        LOGIN,
        json!({"e": "g9@example.org", "p": "x"}),
        &[("x-forwarded-for", "198.51.100.8")],
    )
    .await;
    assert_eq!(code(&other), "UNAUTHENTICATED", "{other}");
    // A connection from outside the trusted proxies is its own client, whatever it says.
    let direct = post(
        &from("127.0.8.1"),
        app.addr,
        LOGIN,
        json!({"e": "g9@example.org", "p": "x"}),
        &[("x-forwarded-for", "198.51.100.7")],
    )
    .await;
    assert_eq!(code(&direct), "UNAUTHENTICATED", "{direct}");
}

/// Registrations are limited per client address (20 an hour by default).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_from_one_address_are_limited() {
    let mut app = TestApp::start().await;
    app.rate_limits.register_per_address = commands::rate_limit::Limit::per_minutes(3, 60);
    app.restart().await;
    let client = from("127.0.9.5");
    let register = "mutation($i: RegisterInput!) { register(input: $i) { id } }";
    let input = |n: u32| json!({"i": {"email": format!("p{n}@example.org"), "name": format!("Pat Number{n}"), "role": "PATIENT", "password": STRONG}});
    for n in 0..3 {
        let answer = post(&client, app.addr, register, input(n), &[]).await;
        assert!(answer["data"]["register"]["id"].is_string(), "{answer}");
    }
    let refused = post(&client, app.addr, register, input(3), &[]).await;
    assert_eq!(code(&refused), "RATE_LIMITED", "{refused}");
    assert_eq!(
        app.count_events("UserRegistered").await,
        3,
        "nothing recorded past the limit"
    );
    let elsewhere = post(&from("127.0.9.6"), app.addr, register, input(4), &[]).await;
    assert!(
        elsewhere["data"]["register"]["id"].is_string(),
        "{elsewhere}"
    );
}
