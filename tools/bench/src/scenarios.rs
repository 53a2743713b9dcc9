//! The `sync`, `messages`, `deletion-setup` and `files` scenarios: set-up through the API,
//! then timed operations; and the set-up helpers the load scenarios share.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use base64::Engine;
use serde_json::{json, Value};

use crate::{create_identity, report, run_concurrently, Args, PASSWORD};

/// An identity with a valid access token.
pub(crate) struct Session {
    pub(crate) address: String,
    pub(crate) token: String,
}

pub(crate) async fn session(http: &reqwest::Client, args: &Args) -> anyhow::Result<Session> {
    let (_, username) = create_identity(http, args).await?;
    let response: Value = http
        .post(format!("{}/connect/token", args.base_url))
        .form(&[
            ("grant_type", "password"),
            ("client_id", &args.client_id),
            ("client_secret", &args.client_secret),
            ("username", &username),
            ("password", PASSWORD),
        ])
        .send()
        .await?
        .json()
        .await?;
    let token = response["access_token"]
        .as_str()
        .context("access token")?
        .to_owned();
    let me: Value = get(http, args, &token, "/api/v2/Identities/Self").await?;
    Ok(Session {
        address: me["address"].as_str().context("address")?.to_owned(),
        token,
    })
}

async fn call(
    http: &reqwest::Client,
    args: &Args,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let mut request = http
        .request(method.clone(), format!("{}{path}", args.base_url))
        .bearer_auth(token)
        .header("x-supported-datawallet-version", "1");
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await?;
    let status = response.status();
    let text = response.text().await?;
    if !status.is_success() {
        bail!("{method} {path}: {status} {text}");
    }
    Ok(if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str::<Value>(&text)?["result"].clone()
    })
}

async fn get(http: &reqwest::Client, args: &Args, token: &str, path: &str) -> anyhow::Result<Value> {
    call(http, args, token, reqwest::Method::GET, path, None).await
}

pub(crate) fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `requester` asks for a relationship from a template of `owner`, who accepts; returns the
/// relationship's ID.
pub(crate) async fn relate(
    http: &reqwest::Client,
    args: &Args,
    owner: &Session,
    requester: &Session,
) -> anyhow::Result<String> {
    use reqwest::Method;
    let template = call(
        http,
        args,
        &owner.token,
        Method::POST,
        "/api/v2/RelationshipTemplates",
        Some(json!({ "content": b64(b"t") })),
    )
    .await?;
    let template = template["id"].as_str().context("template id")?;
    let body = json!({ "relationshipTemplateId": template, "creationContent": b64(b"c") });
    let relationship = call(
        http,
        args,
        &requester.token,
        Method::POST,
        "/api/v2/Relationships",
        Some(body),
    )
    .await?;
    let id = relationship["id"].as_str().context("relationship id")?;
    call(
        http,
        args,
        &owner.token,
        Method::PUT,
        &format!("/api/v2/Relationships/{id}/Accept"),
        Some(json!({})),
    )
    .await?;
    Ok(id.to_owned())
}

/// The datawallet an identity needs before it can start sync runs.
pub(crate) async fn create_datawallet(
    http: &reqwest::Client,
    args: &Args,
    session: &Session,
) -> anyhow::Result<()> {
    use reqwest::Method;
    let run = call(
        http,
        args,
        &session.token,
        Method::POST,
        "/api/v2/SyncRuns",
        Some(json!({ "type": "DatawalletVersionUpgrade" })),
    )
    .await?;
    let id = run["syncRun"]["id"].as_str().context("run id")?;
    let path = format!("/api/v2/SyncRuns/{id}/FinalizeDatawalletVersionUpgrade");
    call(
        http,
        args,
        &session.token,
        Method::PUT,
        &path,
        Some(json!({ "newDatawalletVersion": 1 })),
    )
    .await?;
    Ok(())
}

/// `count` rounds: the peer changes its feature flags 100 times, which gives the identity 100
/// external events; then one sync run delivers all of them.
pub async fn sync(http: &reqwest::Client, args: &Args) -> anyhow::Result<()> {
    use reqwest::Method;
    let me = session(http, args).await?;
    let peer = session(http, args).await?;
    relate(http, args, &me, &peer).await?;
    create_datawallet(http, args, &me).await?;
    // Drain the relationship's own event.
    settle().await;
    drain(http, args, &me).await?;

    let mut latencies = Vec::new();
    let started = Instant::now();
    for round in 0..args.count {
        for flag in 0..100 {
            let body = json!({ format!("flag{flag}"): round % 2 == 0 });
            call(
                http,
                args,
                &peer.token,
                Method::PATCH,
                "/api/v2/Identities/Self/FeatureFlags",
                Some(body),
            )
            .await?;
        }
        settle().await;
        let timer = Instant::now();
        let delivered = drain(http, args, &me).await?;
        latencies.push(timer.elapsed());
        if delivered != 100 {
            bail!("round {round}: expected 100 events, the run delivered {delivered}");
        }
    }
    report(
        "sync run delivering 100 external events (start, 2 pages, finalize)",
        &latencies,
        started.elapsed(),
    );
    Ok(())
}

/// Lets the worker relay what the last requests wrote (it is woken at once; this is ample).
async fn settle() {
    tokio::time::sleep(Duration::from_millis(1500)).await;
}

/// One complete sync run; returns how many events it delivered.
async fn drain(http: &reqwest::Client, args: &Args, me: &Session) -> anyhow::Result<usize> {
    use reqwest::Method;
    let start = call(
        http,
        args,
        &me.token,
        Method::POST,
        "/api/v2/SyncRuns",
        Some(json!({ "type": "ExternalEventSync" })),
    )
    .await?;
    if start["status"] == "NoNewEvents" {
        return Ok(0);
    }
    let run = start["syncRun"]["id"].as_str().context("run id")?.to_owned();
    let mut results = Vec::new();
    for page in 1.. {
        let events = get(
            http,
            args,
            &me.token,
            &format!("/api/v2/SyncRuns/{run}/ExternalEvents?pageNumber={page}"),
        )
        .await?;
        let events = events.as_array().context("events")?;
        results.extend(events.iter().map(|e| json!({ "externalEventId": e["id"] })));
        if events.len() < 50 {
            break;
        }
    }
    let path = format!("/api/v2/SyncRuns/{run}/FinalizeExternalEventSync");
    call(
        http,
        args,
        &me.token,
        Method::PUT,
        &path,
        Some(json!({ "externalEventResults": results })),
    )
    .await?;
    Ok(results.len())
}

/// `count` messages sent between ten related pairs, recipients fetching theirs in between so
/// the unreceived limit never applies.
pub async fn messages(http: &reqwest::Client, args: &Args) -> anyhow::Result<()> {
    use reqwest::Method;
    let mut pairs = Vec::new();
    for _ in 0..args.pairs.max(1) {
        let (sender, recipient) = (session(http, args).await?, session(http, args).await?);
        relate(http, args, &recipient, &sender).await?;
        pairs.push((sender, recipient));
    }
    let body = |to: &str| {
        json!({
            "recipients": [{ "address": to, "encryptedKey": b64(&[7; 64]) }],
            "body": b64(&[42; 1024]),
            "attachments": [],
        })
    };
    let mut latencies = Vec::new();
    let started = Instant::now();
    let rounds = args.count.div_ceil(pairs.len() * 10);
    for _ in 0..rounds {
        let sent = run_concurrently(pairs.len() * 10, args.concurrency, |i| {
            let (sender, recipient) = &pairs[i % pairs.len()];
            let body = body(&recipient.address);
            async move {
                let timer = Instant::now();
                call(
                    http,
                    args,
                    &sender.token,
                    Method::POST,
                    "/api/v2/Messages",
                    Some(body),
                )
                .await?;
                Ok(timer.elapsed())
            }
        })
        .await?;
        latencies.extend(sent);
        for (_, recipient) in &pairs {
            get(http, args, &recipient.token, "/api/v2/Messages?pageSize=200").await?;
        }
    }
    report(
        "message send (1 KiB body, POST /api/v2/Messages)",
        &latencies,
        started.elapsed(),
    );
    Ok(())
}

/// `args.count` new identities, each in an active relationship with `target` (requested from
/// its template, accepted by `target`).
async fn accepted_peers(
    http: &reqwest::Client,
    args: &Args,
    target: &Session,
    template: &str,
) -> anyhow::Result<Vec<Session>> {
    use reqwest::Method;
    let started = Instant::now();
    let peers = run_concurrently(args.count, args.concurrency, |_| {
        let (template, target) = (template.to_owned(), target);
        async move {
            let peer = session(http, args).await?;
            get(
                http,
                args,
                &peer.token,
                &format!("/api/v2/RelationshipTemplates/{template}"),
            )
            .await?;
            let body = json!({ "relationshipTemplateId": template, "creationContent": b64(b"c") });
            let relationship = call(
                http,
                args,
                &peer.token,
                Method::POST,
                "/api/v2/Relationships",
                Some(body),
            )
            .await?;
            let id = relationship["id"].as_str().context("relationship id")?.to_owned();
            call(
                http,
                args,
                &target.token,
                Method::PUT,
                &format!("/api/v2/Relationships/{id}/Accept"),
                Some(json!({})),
            )
            .await?;
            Ok(peer)
        }
    })
    .await?;
    println!(
        "{} relationships in {:.1} s",
        peers.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(peers)
}

/// Prepares an identity with `count` relationships and ten messages from each peer, then starts
/// its deletion with no grace period; `scripts/bench.sh` times the deletion job afterwards.
pub async fn deletion_setup(http: &reqwest::Client, args: &Args) -> anyhow::Result<()> {
    use reqwest::Method;
    let target = session(http, args).await?;
    let template = call(
        http,
        args,
        &target.token,
        Method::POST,
        "/api/v2/RelationshipTemplates",
        Some(json!({ "content": b64(b"t") })),
    )
    .await?;
    let template = template["id"].as_str().context("template id")?.to_owned();
    let peers = accepted_peers(http, args, &target, &template).await?;
    let started = Instant::now();
    let sends = run_concurrently(peers.len() * 10, args.concurrency, |i| {
        let peer = &peers[i % peers.len()];
        let body = json!({
            "recipients": [{ "address": target.address, "encryptedKey": b64(&[7; 64]) }],
            "body": b64(&[42; 256]),
        });
        async move {
            call(
                http,
                args,
                &peer.token,
                Method::POST,
                "/api/v2/Messages",
                Some(body),
            )
            .await
        }
    })
    .await?;
    println!(
        "{} messages in {:.1} s",
        sends.len(),
        started.elapsed().as_secs_f64()
    );
    let body = json!({ "lengthOfGracePeriodInDays": 0 });
    call(
        http,
        args,
        &target.token,
        Method::POST,
        "/api/v2/Identities/Self/DeletionProcesses",
        Some(body),
    )
    .await?;
    println!("deletion started for {}", target.address);
    Ok(())
}

/// Uploads and downloads one file of `count` MiB (streamed both ways on the client too), and
/// reports both throughputs; run it with the server's file size limit raised accordingly.
#[expect(
    clippy::cast_precision_loss,
    reason = "a benchmark report: counts far below 2^52, where f64 is exact enough"
)]
pub async fn files(http: &reqwest::Client, args: &Args) -> anyhow::Result<()> {
    use futures::StreamExt;
    let me = session(http, args).await?;
    let size = args.count * 1024 * 1024;
    let chunk = bytes::Bytes::from(vec![0x5a; 1024 * 1024]);
    let body = futures::stream::iter((0..args.count).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
    let part = reqwest::multipart::Part::stream_with_length(reqwest::Body::wrap_stream(body), size as u64)
        .file_name("cipher.bin")
        .mime_str("application/octet-stream")?;
    let expires = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let form = reqwest::multipart::Form::new()
        .part("content", part)
        .text("cipherHash", b64(&[1; 32]))
        .text("owner", me.address.clone())
        .text("ownerSignature", b64(&[2; 64]))
        .text("expiresAt", expires)
        .text("encryptedProperties", b64(b"properties"));
    let timer = Instant::now();
    let response = http
        .post(format!("{}/api/v2/Files", args.base_url))
        .bearer_auth(&me.token)
        .multipart(form)
        .send()
        .await?;
    let upload = timer.elapsed();
    let status = response.status();
    let created: Value = response.json().await?;
    if status != 201 {
        bail!("upload failed: {status} {created}");
    }
    let id = created["result"]["id"].as_str().context("file id")?.to_owned();
    let timer = Instant::now();
    let mut download = http
        .get(format!("{}/api/v2/Files/{id}", args.base_url))
        .bearer_auth(&me.token)
        .send()
        .await?
        .bytes_stream();
    let mut received = 0usize;
    while let Some(chunk) = download.next().await {
        received += chunk?.len();
    }
    let download = timer.elapsed();
    if received != size {
        bail!("downloaded {received} bytes, expected {size}");
    }
    let mib_per_second = |elapsed: Duration| args.count as f64 / elapsed.as_secs_f64();
    println!(
        "file of {} MiB: upload {:.0} ms ({:.0} MiB/s), download {:.0} ms ({:.0} MiB/s)",
        args.count,
        upload.as_secs_f64() * 1000.0,
        mib_per_second(upload),
        download.as_secs_f64() * 1000.0,
        mib_per_second(download)
    );
    Ok(())
}
