//! The tracing span of every attempt. Alone in its binary: a scoped subscriber races with
//! callsite interest caching when other tests run on parallel threads.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::result_large_err
)]

use std::sync::Arc;
use std::time::Duration;

use runtime_core::{ChatRequest, Error, RequestContext, ServiceExt};
use runtime_router::{DeploymentConfig, ModelConfig, Router, RouterDefaults};
use runtime_testkit::fake::{FakeProvider, Step};

fn req(model: &str) -> ChatRequest {
    ChatRequest::new(model, vec![runtime_core::Message::user("hello there")])
}

fn server_error() -> Error {
    Error::Api {
        provider: "p".into(),
        model: "m".into(),
        status: 500,
        error_type: None,
        code: None,
        message: "boom".into(),
        retry_after: None,
        should_retry: None,
    }
}

#[tokio::test(start_paused = true)]
async fn every_attempt_has_a_tracing_span_with_its_outcome() {
    use std::io::Write;
    use tracing_subscriber::fmt::format::FmtSpan;

    #[derive(Clone, Default)]
    struct Buf(Arc<std::sync::Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let out = buf.clone();
    let sub = tracing_subscriber::fmt()
        .with_writer(move || out.clone())
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(false)
        .finish();
    let _g = tracing::subscriber::set_default(sub);

    let a = Arc::new(FakeProvider::new("a"));
    let b = Arc::new(FakeProvider::new("b"));
    a.push(Step::fail(server_error()));
    let r = Router::builder()
        .defaults(RouterDefaults {
            backoff_base: Duration::from_millis(1),
            ..RouterDefaults::default()
        })
        .model(
            ModelConfig::new("chat")
                .deployment(DeploymentConfig::new("a", "a-model"))
                .deployment(DeploymentConfig::new("b", "b-model")),
        )
        .provider("a", a)
        .provider("b", b)
        .build()
        .unwrap();
    r.chat(&req("chat"), &RequestContext::new()).await.unwrap();
    drop(_g);
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    let closes: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("router.attempt") && l.contains("close"))
        .collect();
    assert_eq!(closes.len(), 2, "{text}");
    assert!(
        closes[0].contains("deployment=a/a-model") && closes[0].contains("outcome=\"api_error\""),
        "{}",
        closes[0]
    );
    assert!(
        closes[1].contains("deployment=b/b-model")
            && closes[1].contains("strategy=\"round_robin\"")
            && closes[1].contains("outcome=\"ok\""),
        "{}",
        closes[1]
    );
}
