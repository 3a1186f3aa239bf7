//! Admin UI sessions across replicas: two `modelrt` processes sharing one usage database (as
//! behind a load balancer). A sign-in through one works through the other, changes included;
//! signing out through either ends it on both; revoking the admin key a session was opened
//! with ends it everywhere; the database holds only the hash of a session id.

use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::MASTER;
use crate::common::*;

fn config(upstream: &str, db: &str) -> String {
    mock_config(
        upstream,
        &format!(
            r#"
[storage]
database_url = "sqlite://{db}"
spill_path = "usage.spill.jsonl"
flush_interval = "50ms"

[gateway]
master_key = "{MASTER}"

[gateway.governance]
enabled = true
sync_interval = "100ms"
"#
        ),
    )
}

/// Signs in with `key`: the cookie (`name=value`) and the CSRF token. A database key made
/// through another replica is known here once this one's governance cache syncs.
async fn sign_in(gw: &Gw, key: &str) -> (String, String) {
    let mut tries = 0;
    let r = loop {
        let r = client()
            .post(gw.at("/ui/api/session"))
            .json(&json!({"key": key}))
            .send()
            .await
            .unwrap();
        tries += 1;
        if r.status() != 401 || tries == 50 {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let csrf = r.json::<Value>().await.unwrap()["csrf"]
        .as_str()
        .unwrap()
        .to_owned();
    (cookie, csrf)
}

async fn get(gw: &Gw, path: &str, cookie: &str) -> (u16, Value) {
    let r = client()
        .get(gw.at(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sessions_are_shared_by_replicas_on_one_database() {
    let up = openai_upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.sqlite");
    let cfg = config(&up.uri(), db.to_str().unwrap());
    let one = Gw::start(Some(&cfg)).await;
    let two = Gw::start(Some(&cfg)).await;

    // An admin database key, made through the first replica.
    let made: Value = client()
        .post(one.at("/admin/keys"))
        .bearer_auth(MASTER)
        .json(&json!({"id": "ops", "role": "admin"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ops = made["secret"].as_str().unwrap().to_owned();

    // Signed in on one, known on two, with the same CSRF token; a change through two works.
    let (cookie, csrf) = sign_in(&one, MASTER).await;
    let (status, who) = get(&two, "/ui/api/session", &cookie).await;
    assert_eq!(status, 200);
    assert_eq!(who["signed_in"], true, "{who}");
    assert_eq!(who["shared_sessions"], true, "{who}");
    assert_eq!(who["csrf"], csrf.as_str(), "{who}");
    let team = client()
        .post(two.at("/ui/api/admin/teams"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&json!({"id": "made-through-two"}))
        .send()
        .await
        .unwrap();
    assert_eq!(team.status(), 201);

    // The database has the session id's hash, never the id (nor the key).
    let id = cookie.split_once('=').unwrap().1.to_owned();
    let mut bytes = Vec::new();
    for suffix in ["", "-wal"] {
        let p = format!("{}{suffix}", db.display());
        bytes.extend(std::fs::read(&p).unwrap_or_default());
    }
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.contains(&hex::encode(Sha256::digest(id.as_bytes()))),
        "the session is not in the shared database"
    );
    assert!(!text.contains(&id), "a session id is stored in the clear");
    assert!(!text.contains(MASTER), "a key is stored in the clear");

    // An admin key's session opened on two works on one.
    let (ops_cookie, _) = sign_in(&two, &ops).await;
    assert_eq!(get(&one, "/ui/api/admin/keys", &ops_cookie).await.0, 200);

    // Sign-out through two ends the session on both.
    let out = client()
        .delete(two.at("/ui/api/session"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 200);
    for gw in [&one, &two] {
        assert_eq!(get(gw, "/ui/api/admin/keys", &cookie).await.0, 401);
        let (_, who) = get(gw, "/ui/api/session", &cookie).await;
        assert_eq!(who["signed_in"], false, "{who}");
    }

    // Revoking the admin key (through one's admin API) ends its session on two.
    let revoked = client()
        .post(one.at("/admin/keys/ops/revoke"))
        .bearer_auth(MASTER)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let mut ended = false;
    for _ in 0..50 {
        if get(&two, "/ui/api/admin/keys", &ops_cookie).await.0 == 401 {
            ended = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        ended,
        "a revoked admin key's session still works on another replica"
    );
    assert_eq!(get(&one, "/ui/api/admin/keys", &ops_cookie).await.0, 401);
}
