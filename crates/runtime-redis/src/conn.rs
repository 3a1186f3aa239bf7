//! Making a connection for each mode, and the one connection type callers use.

use std::time::Duration;

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{AsyncConnectionConfig, Cmd, Pipeline, RedisFuture, RedisResult, Value};
use runtime_core::Error;

use crate::config::{RedisConfig, RedisMode};

/// A live connection: to one server (standalone, or the master a sentinel named) or to a
/// cluster. Cheap to clone; commands are multiplexed.
#[derive(Clone)]
pub enum Conn {
    /// One server.
    Single(MultiplexedConnection),
    /// A cluster (commands routed by slot).
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Conn::Single(_) => "Conn::Single",
            Conn::Cluster(_) => "Conn::Cluster",
        })
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(cmd, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

/// What a connection is made from (built without any I/O).
pub(crate) enum Target {
    Single(redis::Client),
    Cluster(ClusterClient),
    Sentinel(tokio::sync::Mutex<SentinelClient>),
}

impl Target {
    pub(crate) fn new(cfg: &RedisConfig) -> Result<Self, Error> {
        cfg.validate("redis")?;
        let invalid = |e: redis::RedisError| Error::InvalidConfig {
            provider: "redis".into(),
            field: "redis.urls".into(),
            reason: e.to_string(),
        };
        let addrs = cfg.addresses();
        Ok(match cfg.mode {
            RedisMode::Standalone => {
                Target::Single(redis::Client::open(addrs[0]).map_err(invalid)?)
            }
            RedisMode::Cluster => Target::Cluster(
                ClusterClient::builder(addrs)
                    .connection_timeout(cfg.connect_timeout)
                    .response_timeout(cfg.timeout)
                    // The breaker recovers; the client must not keep a caller waiting.
                    .retries(2)
                    .min_retry_wait(10)
                    .max_retry_wait(100)
                    .build()
                    .map_err(invalid)?,
            ),
            RedisMode::Sentinel => {
                let info = node_info(cfg).map_err(invalid)?;
                let node = SentinelNodeConnectionInfo::default().set_redis_connection_info(info);
                let client = SentinelClient::build(
                    addrs,
                    cfg.master_name.clone().unwrap_or_default(),
                    Some(node),
                    SentinelServerType::Master,
                )
                .map_err(invalid)?;
                Target::Sentinel(tokio::sync::Mutex::new(client))
            }
        })
    }

    /// A fresh connection, checked with a round trip (a cluster must report `cluster_state:ok`).
    pub(crate) async fn connect(&self, cfg: &RedisConfig) -> RedisResult<Conn> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(cfg.connect_timeout))
            .set_response_timeout(Some(cfg.timeout.max(Duration::from_millis(1))));
        let mut conn = match self {
            Target::Single(c) => Conn::Single(
                c.get_multiplexed_async_connection_with_config(&config)
                    .await?,
            ),
            Target::Cluster(c) => Conn::Cluster(c.get_async_connection().await?),
            Target::Sentinel(s) => Conn::Single(
                s.lock()
                    .await
                    .get_async_connection_with_config(&config)
                    .await?,
            ),
        };
        if let Conn::Cluster(_) = conn {
            let info: String = redis::cmd("CLUSTER")
                .arg("INFO")
                .query_async(&mut conn)
                .await?;
            if !info.contains("cluster_state:ok") {
                return Err(redis::RedisError::from((
                    redis::ErrorKind::Server(redis::ServerErrorKind::ClusterDown),
                    "cluster_state is not ok",
                )));
            }
        }
        let _: String = redis::cmd("PING").query_async(&mut conn).await?;
        Ok(conn)
    }
}

/// The data nodes' database and credentials, through the crate's own URL parser.
fn node_info(cfg: &RedisConfig) -> RedisResult<redis::RedisConnectionInfo> {
    use redis::IntoConnectionInfo;
    let enc = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    let user = cfg.username.as_deref().map(enc).unwrap_or_default();
    let auth = match &cfg.password {
        Some(p) => format!("{user}:{}@", enc(p)),
        None if !user.is_empty() => format!("{user}@"),
        None => String::new(),
    };
    let url = format!("redis://{auth}node/{}", cfg.db.unwrap_or(0));
    Ok(url.into_connection_info()?.redis_settings().clone())
}

/// Whether an error says the connection (or the node behind it) is unusable, as opposed to
/// a command the server refused.
pub(crate) fn is_outage(e: &redis::RedisError) -> bool {
    use redis::{ErrorKind, ServerErrorKind};
    e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_cluster_error()
        || e.is_unrecoverable_error()
        || matches!(
            e.kind(),
            ErrorKind::ClusterConnectionNotFound
                | ErrorKind::MasterNameNotFoundBySentinel
                | ErrorKind::Server(
                    ServerErrorKind::MasterDown
                        | ServerErrorKind::ReadOnly
                        | ServerErrorKind::BusyLoading
                )
        )
}
