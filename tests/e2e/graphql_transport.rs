//! The GraphQL transport through HTTP: one JSON operation by POST, nothing run by GET,
//! limits answered with a code, never a batch.

use crate::common;

use common::app::{Cred, TestApp};
use serde_json::{Value, json};

async fn post_raw(app: &TestApp, body: Vec<u8>) -> (u16, Value) {
    let response = app
        .http
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_refused_and_runs_nothing() {
    let app = TestApp::start().await;
    let before = app.count_all_events().await;
    let batch = json!([
        {"query": "mutation { register(input: {email: \"a@example.org\", password: \"Tq9#vLm2!pXz7wRb\", name: \"Ann Lee\", role: PATIENT}) { id } }"},
        {"query": "{ me { id } }"}
    ]);
    let (status, body) = post_raw(&app, serde_json::to_vec(&batch).unwrap()).await;
    assert_eq!((status, code(&body)), (400, "BAD_USER_INPUT"), "{body}");
    assert_eq!(app.count_all_events().await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_serves_graphiql_and_runs_nothing() {
    let app = TestApp::start().await;
    let query = "mutation { register(input: {email: \"g@example.org\", password: \"Tq9#vLm2!pXz7wRb\", name: \"Gil Ray\", role: PATIENT}) { id } }";
    let response = app
        .http
        .get(app.url("/graphql"))
        .query(&[("query", query)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .to_lowercase()
            .contains("graphiql")
    );
    assert_eq!(app.count_all_events().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_is_413_with_a_code() {
    let app = TestApp::start().await;
    let padding = "x".repeat(300 * 1024);
    let body = json!({"query": format!("{{ me {{ id }} }} # {padding}")});
    let (status, body) = post_raw(&app, serde_json::to_vec(&body).unwrap()).await;
    assert_eq!((status, code(&body)), (413, "BAD_USER_INPUT"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_bad_user_input() {
    let app = TestApp::start().await;
    let (status, body) = post_raw(&app, b"{not json".to_vec()).await;
    assert_eq!((status, code(&body)), (400, "BAD_USER_INPUT"), "{body}");

    // Parse errors, unknown fields and the depth limit are async-graphql's own errors:
    // they carry a code too.
    for query in ["{ me { id ", "{ nosuchfield }", &deep_query(40)] {
        let answer = app.gql(Cred::None, query, json!({})).await;
        assert_eq!(
            answer.code(),
            "BAD_USER_INPUT",
            "{query}: {:?}",
            answer.body
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_aliases_are_refused() {
    let app = TestApp::start().await;
    let fields: String = (0..21).map(|i| format!("a{i}: me {{ id }} ")).collect();
    let answer = app
        .gql(Cred::None, &format!("{{ {fields} }}"), json!({}))
        .await;
    assert_eq!(answer.code(), "BAD_USER_INPUT", "{:?}", answer.body);
    assert!(answer.message().contains("aliases"), "{}", answer.message());
}

/// `{ __schema { types { fields { type { ofType { ofType … } } } } } }`, `depth` levels.
fn deep_query(depth: usize) -> String {
    let mut q = String::from("{ __schema { types { fields { type { ");
    for _ in 0..depth {
        q.push_str("ofType { ");
    }
    q.push_str("name ");
    for _ in 0..depth + 4 {
        q.push_str("} ");
    }
    q.push('}');
    q
}
