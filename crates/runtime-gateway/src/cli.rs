//! The `modelrt` command line.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use futures::StreamExt;
use model_runtime::metrics::GroupBy;
use model_runtime::{
    ChatRequest, Config, EmbeddingRequest, EncodingFormat, Message, ModelInfo, RequestContext,
    Runtime, ServiceExt, StreamEvent,
};

pub use crate::cli_common::{CliError, load_config, table};
use crate::config::GatewayConfig;
use crate::listener::serve;
use crate::server::shutdown_signal;
use crate::state::Gateway;

/// `modelrt`: an OpenAI-compatible LLM gateway and a CLI over the same providers.
#[derive(Debug, Parser)]
#[command(name = "modelrt", version, about, long_about = None)]
pub struct Cli {
    /// The configuration file (default: $MODELRT_CONFIG, else the embedded default: every
    /// linked provider whose credentials are in the environment).
    #[arg(long, short = 'c', global = true, env = "MODELRT_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where admin commands go (keys, teams, users, spend).
    #[command(flatten)]
    pub target: crate::cli_admin::Target,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the OpenAI-compatible gateway.
    Serve {
        /// Address to listen on (default: `gateway.listen` of the config, else 127.0.0.1:4000).
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Chat with a model, streaming the answer to the terminal.
    Chat {
        /// The model: `provider/model` or a logical model.
        #[arg(short, long)]
        model: String,
        /// The prompt (read from stdin when omitted).
        prompt: Option<String>,
        /// A system message.
        #[arg(long)]
        system: Option<String>,
        /// Most tokens to generate.
        #[arg(long)]
        max_tokens: Option<u32>,
        /// Sampling temperature.
        #[arg(long)]
        temperature: Option<f64>,
        /// Wait for the whole answer instead of streaming.
        #[arg(long)]
        no_stream: bool,
    },
    /// Embed texts and print the vectors as JSON.
    Embed {
        /// The embedding model.
        #[arg(short, long)]
        model: String,
        /// Texts to embed (one line of stdin each when omitted).
        input: Vec<String>,
        /// Output dimensions, for models that can shorten vectors.
        #[arg(long)]
        dimensions: Option<u32>,
    },
    /// List logical models and the models of every configured provider.
    Models {
        /// Print the OpenAI JSON list instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// List every provider linked into this binary, with its config fields.
    Providers,
    /// Configuration tools.
    Config {
        /// What to do.
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Cost and tokens over a time range, as a table.
    Usage {
        /// How far back (`24h`, `7d`, `30m`…).
        #[arg(long, default_value = "24h")]
        since: String,
        /// Grouping column.
        #[arg(long, value_enum, default_value_t = GroupColumn::Model)]
        by: GroupColumn,
    },
    /// Database keys: create, list, show, update, rotate, revoke.
    Keys {
        /// What to do.
        #[command(subcommand)]
        command: crate::cli_admin::KeysCommand,
    },
    /// Teams: budgets and limits across their keys.
    Teams {
        /// What to do.
        #[command(subcommand)]
        command: crate::cli_admin::EntityCommand,
    },
    /// End users: budgets across keys.
    Users {
        /// What to do.
        #[command(subcommand)]
        command: crate::cli_admin::EntityCommand,
    },
    /// Spend per day or hour by key, team, user, model, provider or deployment.
    Spend {
        /// key, team, user, model, provider, deployment.
        #[arg(long, default_value = "key")]
        by: String,
        /// How far back (`24h`, `7d`).
        #[arg(long, default_value = "7d")]
        since: String,
        /// hour or day.
        #[arg(long, default_value = "day")]
        bucket: String,
    },
    /// Price tools.
    Pricing {
        /// What to do.
        #[command(subcommand)]
        command: PricingCommand,
    },
}

/// `modelrt pricing …`.
#[derive(Debug, Subcommand)]
pub enum PricingCommand {
    /// List the models in use (logical models' deployments) that have no price.
    Check,
}

/// `modelrt config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a config file: TOML shape, `${ENV}` references, every provider, gateway keys.
    /// Nothing is opened or connected (no database file, no Redis).
    Check {
        /// The file (default: `--config`, else $MODELRT_CONFIG).
        file: Option<PathBuf>,
    },
}

/// A usage grouping column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GroupColumn {
    /// Provider instance.
    Provider,
    /// Requested model.
    Model,
    /// Router deployment.
    Deployment,
    /// Gateway key.
    Key,
}

/// Parses the command line and runs it: the whole `modelrt` program.
///
/// A custom build that links more providers calls it from its own `main` — linking a
/// provider crate registers it, so nothing else is needed:
///
/// ```no_run
/// // src/main.rs of a binary crate depending on runtime-gateway and provider crates
/// // (e.g. `use provider_voyage as _;`).
/// fn main() -> std::process::ExitCode {
///     runtime_gateway::cli::main()
/// }
/// ```
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_level = if matches!(cli.command, Command::Serve { .. }) {
        "info"
    } else {
        "warn"
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Traces are exported by `serve` only; the exporter runs on this runtime.
    let otel = match cli.command {
        Command::Serve { .. } => {
            let _rt = rt.enter();
            startup_otel(cli.config.as_deref())
        }
        _ => None,
    };
    crate::telemetry::init_logging(
        default_level,
        crate::telemetry::startup_log_format(cli.config.as_deref()),
        otel,
    );
    let result = rt.block_on(run(cli));
    crate::otel::shutdown();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e.message);
            ExitCode::from(e.code)
        }
    }
}

async fn start(config: Config) -> Result<Runtime, CliError> {
    Ok(Runtime::start(config).await?)
}

/// Runs `f` over a started runtime, then shuts the runtime down (flushing usage records)
/// whatever `f` returned.
async fn with_runtime<F, Fut>(config: Config, f: F) -> Result<(), CliError>
where
    F: FnOnce(std::sync::Arc<Runtime>) -> Fut,
    Fut: std::future::Future<Output = Result<(), CliError>>,
{
    let runtime = std::sync::Arc::new(start(config).await?);
    let result = f(runtime.clone()).await;
    runtime.shutdown().await;
    result
}

/// Runs one command.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    use crate::cli_admin as ca;
    let (target, cfg) = (&cli.target, cli.config.as_deref());
    match &cli.command {
        Command::Keys { command } => {
            let (m, p, b) = ca::keys_request(command)?;
            return ca::run(target, cfg, m, &p, None, b).await;
        }
        Command::Teams { command } => {
            let (m, p, b) = ca::entity_request("team", command)?;
            return ca::run(target, cfg, m, &p, None, b).await;
        }
        Command::Users { command } => {
            let (m, p, b) = ca::entity_request("user", command)?;
            return ca::run(target, cfg, m, &p, None, b).await;
        }
        Command::Spend { by, since, bucket } => {
            let q = format!("by={by}&since={since}&bucket={bucket}");
            return ca::run(
                target,
                cfg,
                "GET",
                "/admin/spend",
                Some(q),
                serde_json::Value::Null,
            )
            .await;
        }
        Command::Pricing {
            command: PricingCommand::Check,
        } => return ca::pricing_check(cfg).await,
        _ => {}
    }
    match cli.command {
        Command::Serve { listen } => {
            let config = load_config(cli.config.as_deref())?;
            run_serve(config, listen).await
        }
        Command::Chat {
            model,
            prompt,
            system,
            max_tokens,
            temperature,
            no_stream,
        } => {
            let config = load_config(cli.config.as_deref())?;
            let prompt = match prompt {
                Some(p) => p,
                None => read_stdin()?,
            };
            let mut messages = Vec::new();
            if let Some(s) = system {
                messages.push(Message::system(s));
            }
            messages.push(Message::user(prompt));
            let mut req = ChatRequest::new(model, messages);
            req.max_tokens = max_tokens;
            req.temperature = temperature;
            with_runtime(config, |rt| async move {
                // Before the answer starts: a missing price is warned about on stderr here,
                // once, not in the middle of the streamed text.
                crate::cli_models::price_up_front(&rt, &req.model);
                run_chat(&rt, &req, !no_stream).await
            })
            .await
        }
        Command::Embed {
            model,
            input,
            dimensions,
        } => {
            let config = load_config(cli.config.as_deref())?;
            let input = if input.is_empty() {
                read_stdin()?.lines().map(str::to_owned).collect()
            } else {
                input
            };
            let mut req = EmbeddingRequest::new(model, input);
            req.dimensions = dimensions;
            with_runtime(config, |rt| async move {
                let resp = rt.service().embed(&req, &RequestContext::new()).await?;
                let json = crate::encode::embeddings(&resp, EncodingFormat::Float, &req.model);
                let mut out = std::io::stdout().lock();
                out.write_all(&json)
                    .and_then(|()| out.write_all(b"\n"))
                    .map_err(|e| CliError::new(format!("cannot write to stdout: {e}")))
            })
            .await
        }
        Command::Models { json } => {
            let config = load_config(cli.config.as_deref())?;
            with_runtime(config, |rt| async move {
                if json {
                    let mut models = rt.service().list_models(&RequestContext::new()).await?;
                    for name in rt.logical_models().into_iter().rev() {
                        if !models.iter().any(|m| m.id == name) {
                            models.insert(
                                0,
                                ModelInfo {
                                    id: name,
                                    provider: "router".into(),
                                    ..ModelInfo::default()
                                },
                            );
                        }
                    }
                    println!(
                        "{}",
                        String::from_utf8_lossy(&crate::encode::model_list(&models))
                    );
                } else {
                    let rows = crate::cli_models::marked(&rt).await?;
                    print!("{}", crate::cli_models::table(&rows));
                }
                Ok(())
            })
            .await
        }
        Command::Providers => {
            let registry = model_runtime::registry()?;
            print!("{}", providers_text(&registry));
            Ok(())
        }
        Command::Config {
            command: ConfigCommand::Check { file },
        } => {
            let Some(file) = file.or(cli.config) else {
                return Err(CliError::new(
                    "no configuration file to check: pass it (`modelrt config check FILE`), or set --config / MODELRT_CONFIG",
                ));
            };
            let config = Config::from_file(&file)?;
            let gateway = GatewayConfig::from_config(&config)?;
            crate::telemetry::TelemetryConfig::from_config(&config)?;
            let providers = config.providers.len();
            // Every layer is built and validated; nothing connects (Redis, the usage
            // database, health probes), so a check passes while those are down.
            let rt = Runtime::check(config).await?;
            println!(
                "{}: ok ({providers} providers, {} logical models, {} gateway keys{})",
                file.display(),
                rt.logical_models().len(),
                gateway.keys.len(),
                if gateway.master_key_hash.is_some() {
                    ", master key set"
                } else {
                    ""
                }
            );
            rt.shutdown().await;
            Ok(())
        }
        Command::Keys { .. }
        | Command::Teams { .. }
        | Command::Users { .. }
        | Command::Spend { .. }
        | Command::Pricing { .. } => Ok(()),
        Command::Usage { since, by } => {
            let config = load_config(cli.config.as_deref())?;
            let (from, to) =
                crate::timeq::range(Some(&since), None, None).map_err(CliError::new)?;
            let group = match by {
                GroupColumn::Provider => GroupBy::Provider,
                GroupColumn::Model => GroupBy::Model,
                GroupColumn::Deployment => GroupBy::Deployment,
                GroupColumn::Key => GroupBy::Key,
            };
            with_runtime(config, |rt| async move {
                let rows = rt
                    .usage_summary(from, to, &[group])
                    .await
                    .map_err(|e| CliError::new(e.to_string()))?;
                print!("{}", crate::usage::summary_table(&rows, group));
                Ok(())
            })
            .await
        }
    }
}

fn read_stdin() -> Result<String, CliError> {
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .map_err(|e| CliError::new(format!("cannot read stdin: {e}")))?;
    if s.trim().is_empty() {
        return Err(CliError::new(
            "no prompt: pass it as an argument or on stdin",
        ));
    }
    Ok(s)
}

async fn run_serve(config: Config, listen: Option<SocketAddr>) -> Result<(), CliError> {
    let gateway = GatewayConfig::from_config(&config)?;
    let telemetry = crate::telemetry::TelemetryConfig::from_config(&config)?;
    let listen = listen.unwrap_or(gateway.listen);
    let runtime = start(config).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| CliError::new(format!("cannot listen on {listen}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::new(format!("cannot read the listen address: {e}")))?;
    if !gateway.auth_enabled() && !addr.ip().is_loopback() {
        tracing::warn!(
            %addr,
            "no master key or gateway keys are configured: anyone who can reach this address can use the providers"
        );
    }
    let governance = gateway.governance.clone();
    let reserved: Vec<String> = gateway.keys.iter().map(|k| k.id.clone()).collect();
    let gov_redis = gateway.redis.as_ref().and_then(|r| {
        runtime
            .redis_handle(&r.config, "governance")
            .map_err(|e| tracing::warn!(error = %e, "governance Redis unusable; budgets use the database"))
            .ok()
    });
    let governor = match governance {
        Some(settings) => Some(std::sync::Arc::new(
            crate::govern::Governor::start(&runtime, settings, gov_redis, reserved)
                .await
                .map_err(|e| CliError::new(format!("governance database: {e}")))?,
        )),
        None => None,
    };
    let gw = Gateway::new(runtime, gateway);
    if let Some(g) = &governor {
        gw.set_governor(g.clone());
    }
    // Tests and scripts read the bound address (useful with port 0) from this line.
    println!("modelrt listening on http://{addr}");
    let _ = std::io::stdout().flush();
    tracing::info!(%addr, "gateway started");
    let otlp_metrics = telemetry
        .traces
        .as_ref()
        .and_then(|t| crate::otel::start_metrics(t, gw.metrics_source()));
    let served = serve(gw.clone(), listener, shutdown_signal()).await;
    // The last metric values, after the drain.
    if let Some(m) = otlp_metrics {
        m.shutdown().await;
    }
    // Flush usage records and stop background tasks even when the server failed.
    if let Some(g) = &governor {
        g.gov.shutdown().await;
    }
    gw.runtime().shutdown().await;
    served.map_err(|e| CliError::new(format!("server error: {e}")))?;
    tracing::info!("stopped");
    Ok(())
}

async fn run_chat(runtime: &Runtime, req: &ChatRequest, stream: bool) -> Result<(), CliError> {
    let provider = runtime.service();
    let ctx = RequestContext::new();
    let mut out = std::io::stdout().lock();
    let write_err = |e: std::io::Error| CliError::new(format!("cannot write to stdout: {e}"));
    if !stream {
        let resp = provider.chat(req, &ctx).await?;
        if let Some(r) = resp.message.reasoning_text() {
            eprintln!("{r}");
        }
        writeln!(out, "{}", resp.message.text().unwrap_or_default()).map_err(write_err)?;
        return Ok(());
    }
    let mut s = provider.chat_stream(req, &ctx).await?;
    let mut ended_with_newline = true;
    while let Some(ev) = s.next().await {
        match ev? {
            StreamEvent::TextDelta { text } => {
                out.write_all(text.as_bytes()).map_err(write_err)?;
                out.flush().map_err(write_err)?;
                ended_with_newline = text.ends_with('\n');
            }
            StreamEvent::ReasoningDelta { text } => eprint!("{text}"),
            StreamEvent::RefusalDelta { text } => eprint!("{text}"),
            StreamEvent::ToolCallStart { name, .. } => eprintln!("[tool call: {name}]"),
            _ => {}
        }
    }
    if !ended_with_newline {
        writeln!(out).map_err(write_err)?;
    }
    Ok(())
}

/// The `modelrt providers` text.
pub fn providers_text(registry: &model_runtime::ProviderRegistry) -> String {
    let mut out = String::new();
    for f in registry.factories() {
        out.push_str(&format!(
            "{} — {} ({} {})\n  {}\n",
            f.name, f.display_name, f.crate_name, f.crate_version, f.description
        ));
        let mut rows = vec![[
            "  KEY".to_owned(),
            "TYPE".to_owned(),
            "REQUIRED".to_owned(),
            "ENV".to_owned(),
            "DEFAULT".to_owned(),
            "HELP".to_owned(),
        ]];
        for s in f.settings {
            rows.push([
                format!("  {}", s.key),
                format!("{:?}", s.kind).to_lowercase(),
                if s.required { "yes" } else { "no" }.to_owned(),
                s.env.unwrap_or("").to_owned(),
                s.default.unwrap_or("").to_owned(),
                s.help.to_owned(),
            ]);
        }
        out.push_str(&table(&rows));
        out.push('\n');
    }
    out
}

/// The OpenTelemetry layer for `serve` with this config file, when its `[telemetry]` sets an
/// `endpoint`. A config that does not load or validate gives none here: `serve` reports it
/// with its key right after. An exporter that cannot be built is reported on stderr and
/// the gateway runs without traces.
pub fn startup_otel(config_file: Option<&std::path::Path>) -> Option<crate::otel::BoxedLayer> {
    let config = crate::cli_common::load_config(config_file).ok()?;
    let traces = crate::telemetry::TelemetryConfig::from_config(&config)
        .ok()?
        .traces?;
    match crate::otel::layer(&traces) {
        Ok(l) => Some(l),
        Err(e) => {
            eprintln!("warning: traces are not exported: {e}");
            None
        }
    }
}
