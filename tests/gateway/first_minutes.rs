//! The first five minutes of a new user (issue 15, item 5): the example config is accepted,
//! `modelrt config check` finds its file the way `serve` does and opens nothing, errors in
//! `[[models]]` name the model, the "unpriced" warning comes once and before `modelrt chat`'s
//! answer, and `modelrt models` says where each entry comes from.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use common::*;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `modelrt ARGS` in `cwd` with only `env` of the provider variables set.
async fn modelrt(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_modelrt"));
    for k in [
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "GEMINI_API_KEY",
        "MODELRT_CONFIG",
        "HF_TOKEN",
        "RUST_LOG",
    ] {
        cmd.env_remove(k);
    }
    cmd.envs(env.iter().copied())
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null());
    cmd.output().await.unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn the_example_config_passes_the_check_without_opening_anything() {
    let cwd = tempfile::tempdir().unwrap();
    let example = repo().join("examples/modelrt.toml");
    let env = [
        ("OPENAI_API_KEY", "sk-example"),
        ("ANTHROPIC_API_KEY", "sk-ant-example"),
        ("MODELRT_MASTER_KEY", "sk-master-example"),
        ("APP_GATEWAY_KEY", "sk-app-example"),
    ];
    let out = modelrt(
        cwd.path(),
        &["config", "check", example.to_str().unwrap()],
        &env,
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains("ok (3 providers, 3 logical models, 1 gateway keys, master key set)"),
        "{said}"
    );
    assert!(!said.contains("sk-"), "{said}");
    // The usage database (`sqlite://modelrt-usage.sqlite`) was not created.
    assert_eq!(files_in(cwd.path()), Vec::<String>::new());
}

#[tokio::test]
async fn config_check_reads_the_config_flag_and_modelrt_config() {
    let cwd = tempfile::tempdir().unwrap();
    let file = cwd.path().join("m.toml");
    std::fs::write(
        &file,
        "[providers.openai]\napi_key = \"sk-x\"\n[storage]\ndatabase_url = \"sqlite://usage/db.sqlite\"\nspill_path = \"usage/spill.jsonl\"\n",
    )
    .unwrap();
    let f = file.to_str().unwrap();
    for (args, env) in [
        (vec!["--config", f, "config", "check"], vec![]),
        (vec!["config", "check", "--config", f], vec![]),
        (vec!["config", "check"], vec![("MODELRT_CONFIG", f)]),
        (vec!["config", "check", f], vec![]),
    ] {
        let out = modelrt(cwd.path(), &args, &env).await;
        assert!(
            out.status.success(),
            "{args:?} {env:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stdout).contains("m.toml: ok"),
            "{}",
            text(&out.stdout)
        );
    }
    // Nothing opened: no database, no spill file, no directory for them.
    assert_eq!(files_in(cwd.path()), ["m.toml"]);

    let out = modelrt(cwd.path(), &["config", "check"], &[]).await;
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("--config") && err.contains("MODELRT_CONFIG"),
        "{err}"
    );
}

#[tokio::test]
async fn an_error_inside_models_names_the_model() {
    let cwd = tempfile::tempdir().unwrap();
    let file = cwd.path().join("m.toml");
    std::fs::write(
        &file,
        r#"
[providers.openai]
api_key = "sk-x"

[[models]]
name = "fine"
[[models.deployments]]
provider = "openai"
model = "gpt-4o-mini"

[[models]]
name = "broken"
strategy = "fastest-please"
[[models.deployments]]
provider = "openai"
model = "gpt-4o-mini"
"#,
    )
    .unwrap();
    let out = modelrt(
        cwd.path(),
        &["config", "check", file.to_str().unwrap()],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("models[1]") && err.contains("broken"), "{err}");
    assert!(err.contains("fastest-please"), "{err}");

    std::fs::write(
        &file,
        "[providers.openai]\napi_key = \"sk-x\"\n[[models]]\n[[models.deployments]]\nprovider = \"openai\"\nmodel = \"gpt-4o\"\n",
    )
    .unwrap();
    let out = modelrt(
        cwd.path(),
        &["config", "check", file.to_str().unwrap()],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("models[0]") && err.contains("name"), "{err}");
}

#[tokio::test]
async fn the_unpriced_warning_comes_once_and_before_the_streamed_answer() {
    let up = openai_upstream().await;
    let cwd = tempfile::tempdir().unwrap();
    let file = cwd.path().join("m.toml");
    std::fs::write(
        &file,
        mock_config(
            &up.uri(),
            r#"
[[models]]
name = "house"

[[models.deployments]]
provider = "mock"
model = "house-model-7b"
name = "house-a"

[[models.deployments]]
provider = "mock"
model = "house-model-7b"
name = "house-b"

[storage]
enabled = false
"#,
        ),
    )
    .unwrap();
    // stdout and stderr into one file, as a terminal shows them.
    let log = cwd.path().join("both.txt");
    let both = std::fs::File::create(&log).unwrap();
    let status = tokio::process::Command::new(env!("CARGO_BIN_EXE_modelrt"))
        .env_remove("RUST_LOG")
        .env_remove("MODELRT_CONFIG")
        .args([
            "--config",
            file.to_str().unwrap(),
            "chat",
            "-m",
            "house",
            "Say hi",
        ])
        .current_dir(cwd.path())
        .stdin(Stdio::null())
        .stdout(both.try_clone().unwrap())
        .stderr(both)
        .status()
        .await
        .unwrap();
    let seen = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{seen}");
    assert_eq!(seen.matches("no price known").count(), 1, "{seen}");
    let warning = seen.find("no price known").unwrap();
    let answer = seen.find("Hello").expect("the answer");
    assert!(
        warning < answer,
        "the warning lands before the answer:\n{seen}"
    );
    assert!(
        seen.trim_end().ends_with("Hello"),
        "nothing after the answer:\n{seen}"
    );
}

#[tokio::test]
async fn models_says_which_entries_are_live_and_which_static() {
    let up = openai_upstream().await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let cwd = tempfile::tempdir().unwrap();
    let file = cwd.path().join("m.toml");
    std::fs::write(
        &file,
        mock_config(
            &up.uri(),
            &format!(
                r#"
[providers.down]
type = "openai"
base_url = "http://127.0.0.1:{closed}/v1"
api_key = "sk-down"

[[models]]
name = "chat"

[[models.deployments]]
provider = "mock"
model = "gpt-4o-mini"

[storage]
enabled = false
"#
            ),
        ),
    )
    .unwrap();
    let out = modelrt(
        cwd.path(),
        &["--config", file.to_str().unwrap(), "models"],
        &[],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let row = |id: &str| {
        table
            .lines()
            .find(|l| l.split_whitespace().next() == Some(id))
            .unwrap_or_else(|| panic!("no row {id}:\n{table}"))
            .to_owned()
    };
    assert!(table.lines().next().unwrap().ends_with("SOURCE"), "{table}");
    assert!(row("chat").ends_with("config"), "{table}");
    assert!(row("mock/gpt-4o-mini").ends_with("live"), "{table}");
    assert!(row("down/gpt-4o").ends_with("catalog"), "{table}");
    assert!(
        text(&out.stderr).contains("down"),
        "the failed listing is said on stderr"
    );
}
