use serde_json::json;

use crate::helpers::{Backend, TestApp};

async fn text(app: &TestApp, url: String) -> (u16, String) {
    let response = app.http.get(url).send().await.expect("the request is sent");
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The value of the first series that starts with `series` (labels included).
fn value(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no series {series} in\n{metrics}"))
}

#[tokio::test]
async fn metrics_show_requests_by_route_template_and_the_sampled_gauges() {
    let app = TestApp::spawn_with(Backend::Sqlite, |settings| {
        settings.rate_limits.enabled = Some(true);
        settings.rate_limits.writes_per_ip = backbone_gateway::rate_limits::Rate {
            per_minute: 1,
            burst: 2,
        };
        settings.metrics.listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    for _ in 0..2 {
        let id = app.challenge(None).await["id"].as_str().unwrap().to_owned();
        app.get(&format!("/api/v2/Challenges/{id}"), None).await;
    }
    app.post("/api/v2/Challenges", None, json!({}))
        .await
        .expect_status(429);
    app.get("/no/such/route", None).await.expect_status(404);

    // The Admin API serves /metrics without an API key.
    let (status, metrics) = text(&app, format!("{}/metrics", app.admin_base)).await;
    assert_eq!(status, 200);
    let requests = |method: &str, route: &str, status: u16| {
        format!("backbone_http_requests_total{{listener=\"consumer\",method=\"{method}\",route=\"{route}\",status=\"{status}\"}}")
    };
    // Other tests share the process-wide recorder: at least our requests are counted.
    assert!(value(&metrics, &requests("POST", "/api/v2/Challenges", 201)) >= 2.0);
    assert!(value(&metrics, &requests("POST", "/api/v2/Challenges", 429)) >= 1.0);
    assert!(value(&metrics, &requests("GET", "unmatched", 404)) >= 1.0);
    // The route template, never an ID.
    assert!(
        metrics.contains(&requests("GET", "/api/v2/Challenges/{id}", 401)),
        "{metrics}"
    );
    assert!(!metrics.contains("route=\"/api/v2/Challenges/CHL"), "{metrics}");
    assert!(metrics.contains(
        "backbone_http_request_duration_seconds_bucket{listener=\"consumer\",method=\"POST\",route=\"/api/v2/Challenges\",status=\"201\",le=\"0.005\"}"
    ));
    assert!(
        value(
            &metrics,
            "backbone_rate_limit_rejections_total{limit=\"writes_per_ip\"}"
        ) >= 1.0
    );
    for gauge in [
        "backbone_db_pool_connections{pool=\"read\",state=\"in_use\"}",
        "backbone_db_pool_max{pool=\"write\"}",
        "backbone_outbox_pending",
        "backbone_outbox_relay_lag_seconds",
        "backbone_sse_open_streams",
        "backbone_dead_letter_events",
    ] {
        value(&metrics, gauge);
    }

    // The same on the [metrics] listener, with the health checks.
    let metrics_base = app.metrics_base.clone().expect("the metrics listener runs");
    let (status, again) = text(&app, format!("{metrics_base}/metrics")).await;
    assert_eq!(status, 200);
    assert!(again.contains("backbone_http_requests_total{listener=\"consumer\""));
    let (status, live) = text(&app, format!("{metrics_base}/health/live")).await;
    assert_eq!((status, live.as_str()), (200, r#"{"status":"Healthy"}"#));
    let ready = app.get("/health/ready", None).await;
    ready.expect_status(200);
    assert_eq!(ready.body["checks"]["database"], "Healthy");
    assert_eq!(ready.body["checks"]["blob_storage"], "Healthy");
}

#[tokio::test]
async fn readiness_fails_when_the_blob_storage_is_gone() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.get("/health/ready", None).await.expect_status(200);
    // The local store's directory disappears (a lost volume).
    let blobs = app.app.settings.data_dir.join("blobs");
    std::fs::remove_dir_all(&blobs).unwrap();
    std::fs::write(&blobs, b"not a directory").unwrap();
    let ready = app.get("/health/ready", None).await;
    ready.expect_status(503);
    assert_eq!(ready.body["checks"]["blob_storage"], "Unhealthy");
    assert_eq!(ready.body["checks"]["database"], "Healthy");
    app.get("/health/live", None).await.expect_status(200);
}

#[tokio::test]
async fn prometheus_metrics_and_the_quota_metrics_list_live_side_by_side() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (status, prometheus) = text(&app, format!("{}/metrics", app.admin_base)).await;
    assert_eq!(status, 200);
    assert!(prometheus.contains("backbone_outbox_pending"), "{prometheus}");
    let quota_metrics = app
        .http
        .get(format!("{}/api/v1/metrics", app.admin_base))
        .header("x-api-key", crate::helpers::ADMIN_API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(quota_metrics.status(), 200);
    let body: serde_json::Value = quota_metrics.json().await.unwrap();
    assert_eq!(body["result"][0]["key"], "NumberOfSentMessages");
}
