//! `CachedProvider`: the response cache and the embedding batcher as a layer.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::{BufMut, Bytes, BytesMut};
use futures::StreamExt;
use runtime_core::{
    AssistantMessage, CacheMode, Call, Capabilities, ChatRequest, ChatResponse, ChatStream,
    CompletionRequest, CompletionResponse, Content, Embedding, EmbeddingRequest, EmbeddingResponse,
    Failure, FinishReason, ModelInfo, Op, Reply, RequestContext, RerankRequest, RerankResponse,
    ResponseMeta, Result, Service, ServiceExt, StreamAccumulator, Usage,
};

use crate::backend::Decoded;
use crate::batch::{EmbeddingBatcher, batch_limit, embed_as, embed_in_chunks, without_input};
use crate::cache::ResponseCache;
use crate::config::{BatchConfig, CacheConfig};
use crate::control::{reads, writes};
use crate::flight::{Flights, Join};
use crate::key::{CacheKey, EmbeddingKeys, chat_key, completion_key, rerank_key};
use crate::stats::CacheStats;

/// The annotation (in [`ResponseMeta::annotations`]) that says how many inputs of an
/// embedding request were served from the cache.
pub const CACHED_INPUTS_ANNOTATION: &str = "cache_hit_inputs";

/// Wraps any service (a provider, the router, the dispatcher) with the response cache and the
/// embedding batcher.
///
/// - Chat and text completion are cached when the answer is deterministic: `temperature` is
///   exactly 0, or the request sets [`CacheControl::force`](runtime_core::CacheControl).
///   Streamed and non-streamed calls share entries: a cached answer asked for as a stream
///   is replayed as events; a stream that completes is stored, one that fails or is
///   dropped is not.
/// - Embeddings are cached per input text; only the missing texts go upstream (through the
///   batcher when enabled), and the answer keeps the request's order.
/// - Only successful answers are stored: never an error, and never an answer whose finish
///   reason is `content_filter` or that ended incomplete.
/// - Identical non-streamed misses in flight at the same time are merged: the first goes
///   upstream, the others wait for its answer (served to them as a hit) instead of each
///   sending their own; if it fails or is not storable, they go upstream themselves.
/// - [`ResponseMeta::cache_hit`] is `Some(true)` on a hit, `Some(false)` when the cache was
///   consulted or written and missed, `None` when it did not apply (mode `off`, sampling not
///   deterministic, cache disabled).
/// - Keys name the model served, [`Call::model`]: a call a layer above re-targeted
///   ([`Call::is_retargeted`]) shares its entries with direct calls naming that model, and
///   goes upstream re-targeted as it came (the body is not copied).
pub struct CachedProvider {
    inner: Arc<dyn Service>,
    cache: Option<ResponseCache>,
    batcher: Option<EmbeddingBatcher>,
    stats: Arc<CacheStats>,
    flights: Flights,
}

impl std::fmt::Debug for CachedProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedProvider")
            .field("inner", &self.inner.name())
            .field("cache", &self.cache)
            .field("batcher", &self.batcher)
            .finish()
    }
}

impl CachedProvider {
    /// `inner` behind `cache`, without batching.
    pub fn new(inner: Arc<dyn Service>, cache: ResponseCache) -> Self {
        Self::from_parts(inner, Some(cache))
    }

    /// `inner` behind `cache` (`None`: no caching, only batching and splitting).
    pub fn from_parts(inner: Arc<dyn Service>, cache: Option<ResponseCache>) -> Self {
        let stats = cache
            .as_ref()
            .map(|c| c.stats().clone())
            .unwrap_or_default();
        Self::from_parts_with_stats(inner, cache, stats)
    }

    /// [`CachedProvider::from_parts`] counting into `stats` (shared with the cache's own and
    /// with a batcher made with [`EmbeddingBatcher::with_stats`]).
    pub fn from_parts_with_stats(
        inner: Arc<dyn Service>,
        cache: Option<ResponseCache>,
        stats: Arc<CacheStats>,
    ) -> Self {
        Self {
            inner,
            cache,
            batcher: None,
            stats,
            flights: Flights::default(),
        }
    }

    /// Adds the embedding batcher (it counts into this provider's [`CacheStats`]).
    pub fn with_batching(mut self, config: BatchConfig) -> Self {
        self.batcher = Some(EmbeddingBatcher::with_stats(config, self.stats.clone()));
        self
    }

    /// Uses an existing batcher (shared between several cached providers).
    pub fn with_batcher(mut self, batcher: EmbeddingBatcher) -> Self {
        self.batcher = Some(batcher);
        self
    }

    /// Everything the `[cache]` section says: the backend (`enabled = false`: none), the
    /// default TTL and namespace, and the batcher (`embedding_batch.enabled`).
    pub fn from_config(inner: Arc<dyn Service>, config: &CacheConfig) -> Result<Self> {
        let cache = if config.enabled {
            Some(ResponseCache::from_config(config)?)
        } else {
            None
        };
        Ok(Self::assemble(inner, cache, config))
    }

    /// Like [`CachedProvider::from_config`], a Redis backend using `redis` (the runtime's
    /// shared connection) instead of making its own.
    #[cfg(feature = "redis")]
    pub fn from_config_with_redis(
        inner: Arc<dyn Service>,
        config: &CacheConfig,
        redis: Option<runtime_redis::Redis>,
    ) -> Result<Self> {
        let cache = if config.enabled {
            Some(ResponseCache::from_config_with_redis(config, redis)?)
        } else {
            None
        };
        Ok(Self::assemble(inner, cache, config))
    }

    fn assemble(
        inner: Arc<dyn Service>,
        cache: Option<ResponseCache>,
        config: &CacheConfig,
    ) -> Self {
        let mut me = Self::from_parts(inner, cache);
        if config.embedding_batch.enabled {
            me = me.with_batching(config.embedding_batch);
        }
        me
    }

    /// The counters (hits, misses, stores, errors, latency saved, batches).
    pub fn stats(&self) -> &Arc<CacheStats> {
        &self.stats
    }

    /// The cache, when caching is on.
    pub fn cache(&self) -> Option<&ResponseCache> {
        self.cache.as_ref()
    }

    /// The batcher, when batching is on.
    pub fn batcher(&self) -> Option<&EmbeddingBatcher> {
        self.batcher.as_ref()
    }

    /// The wrapped service.
    pub fn inner(&self) -> &Arc<dyn Service> {
        &self.inner
    }

    /// The cache if this request may use it at all.
    fn active(&self, ctx: &RequestContext) -> Option<&ResponseCache> {
        let cache = self.cache.as_ref()?;
        if ctx.cache.mode == CacheMode::Off {
            self.stats.bypass();
            return None;
        }
        Some(cache)
    }

    /// The cache and key of a chat/completion request that may be cached.
    fn plan(
        &self,
        ctx: &RequestContext,
        temperature: Option<f64>,
        key: impl FnOnce() -> Option<CacheKey>,
    ) -> Option<(&ResponseCache, CacheKey)> {
        let cache = self.active(ctx)?;
        if !(ctx.cache.force || temperature == Some(0.0)) {
            self.stats.bypass();
            return None;
        }
        match key() {
            Some(k) => Some((cache, k)),
            None => {
                self.stats.bypass();
                None
            }
        }
    }

    async fn lookup<T: serde::de::DeserializeOwned + Clone + Send + Sync + 'static>(
        cache: &ResponseCache,
        key: &CacheKey,
        ctx: &RequestContext,
    ) -> Option<T> {
        if !reads(ctx.cache.mode) {
            return None;
        }
        let entry = cache.get(key, ctx.cache.max_age).await?;
        if let Some(v) = entry.decoded.as_ref().and_then(|d| d.0.downcast_ref::<T>()) {
            return Some(v.clone());
        }
        match serde_json::from_slice(&entry.value) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::warn!(error = %e, "unreadable cache entry removed");
                cache.remove(key).await;
                None
            }
        }
    }

    /// Embeddings of `req` served as `model` from upstream: through the batcher when on,
    /// else split to the upstream's limit; a request within it goes as one call (re-targeted
    /// when `model` is not the body's, keeping a routed failure's route).
    async fn send_embeddings(
        &self,
        req: &EmbeddingRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<EmbeddingResponse, Failure> {
        match &self.batcher {
            Some(b) => Ok(b.embed(&self.inner, req, model, ctx).await?),
            None => {
                let limit = batch_limit(self.inner.as_ref(), usize::MAX);
                if req.input.len() <= limit {
                    return embed_as(self.inner.as_ref(), req, model, ctx).await;
                }
                Ok(embed_in_chunks(self.inner.as_ref(), req, model, ctx, limit).await?)
            }
        }
    }
}

/// A non-streamed answer the cache stores and merged misses share.
trait Answer: Clone + serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static {
    fn meta_mut(&mut self) -> &mut ResponseMeta;
    fn finish_reason(&self) -> &FinishReason;
}

impl Answer for ChatResponse {
    fn meta_mut(&mut self) -> &mut ResponseMeta {
        &mut self.meta
    }
    fn finish_reason(&self) -> &FinishReason {
        &self.finish_reason
    }
}

impl Answer for CompletionResponse {
    fn meta_mut(&mut self) -> &mut ResponseMeta {
        &mut self.meta
    }
    fn finish_reason(&self) -> &FinishReason {
        &self.finish_reason
    }
}

static RERANK_DONE: FinishReason = FinishReason::Stop;

/// A ranking is deterministic, like an embedding: always storable.
impl Answer for RerankResponse {
    fn meta_mut(&mut self) -> &mut ResponseMeta {
        &mut self.meta
    }
    fn finish_reason(&self) -> &FinishReason {
        &RERANK_DONE
    }
}

impl CachedProvider {
    /// A cacheable non-streamed call: the cache, else the answer of an identical request
    /// already upstream, else `call` — stored when it may be, and handed to the requests
    /// that merged into it.
    async fn answer<T: Answer, Fut>(
        &self,
        cache: &ResponseCache,
        key: CacheKey,
        ctx: &RequestContext,
        model: &str,
        call: impl FnOnce() -> Fut,
    ) -> Result<T, Failure>
    where
        Fut: Future<Output = Result<T, Failure>>,
    {
        if let Some(mut hit) = Self::lookup::<T>(cache, &key, ctx).await {
            hit.meta_mut().cache_hit = Some(true);
            return Ok(hit);
        }
        // Only a request that may read the cache may take another's fresh answer. A request
        // released by a failed leader joins again: the next one to go leads the others.
        let mut leader = None;
        if reads(ctx.cache.mode) {
            loop {
                match self.flights.join(&key) {
                    Join::Leader(l) => {
                        leader = Some(l);
                        break;
                    }
                    Join::Follower(f) => {
                        if let Some(mut v) = f.wait::<T>(ctx, self.inner.name(), model).await? {
                            self.stats.merged();
                            v.meta_mut().cache_hit = Some(true);
                            return Ok(v);
                        }
                    }
                }
            }
        }
        let started = Instant::now();
        // An error drops `leader`: the merged requests go upstream themselves.
        let mut resp = call().await?;
        if storable(resp.finish_reason()) {
            resp.meta_mut().cache_hit = None;
            let shared = Arc::new(resp.clone());
            if writes(ctx.cache.mode) {
                if let Some(bytes) = serialize(&resp) {
                    cache
                        .put_decoded(
                            &key,
                            bytes,
                            Some(Decoded(shared.clone())),
                            ctx.cache.ttl,
                            started.elapsed(),
                        )
                        .await;
                }
            }
            if let Some(l) = leader {
                l.land(shared);
            }
        }
        resp.meta_mut().cache_hit = Some(false);
        Ok(resp)
    }
}

fn storable(reason: &FinishReason) -> bool {
    match reason {
        FinishReason::ContentFilter => false,
        FinishReason::Other(r) => r != "incomplete",
        _ => true,
    }
}

fn serialize<T: serde::Serialize>(v: &T) -> Option<Bytes> {
    serde_json::to_vec(v).ok().map(Bytes::from)
}

/// What a stream that completes is stored as.
#[derive(Clone, Copy)]
enum StoreAs {
    Chat,
    Completion,
}

/// Passes a stream through and stores the folded answer when (and only when) it ends
/// without error.
fn store_on_complete(
    stream: ChatStream,
    cache: ResponseCache,
    key: CacheKey,
    ttl: Option<Duration>,
    started: Instant,
    store_as: StoreAs,
) -> ChatStream {
    let meta = stream.meta().clone();
    struct State {
        inner: ChatStream,
        acc: Option<StreamAccumulator>,
        cache: ResponseCache,
        key: CacheKey,
        ttl: Option<Duration>,
        started: Instant,
        store_as: StoreAs,
        meta: ResponseMeta,
    }
    let state = State {
        inner: stream,
        acc: Some(StreamAccumulator::default()),
        cache,
        key,
        ttl,
        started,
        store_as,
        meta: meta.clone(),
    };
    let s = futures::stream::unfold(state, |mut st| async move {
        match st.inner.next().await {
            Some(Ok(ev)) => {
                if let Some(acc) = st.acc.as_mut() {
                    acc.push(ev.clone());
                }
                Some((Ok(ev), st))
            }
            Some(Err(e)) => {
                // A failed stream is never stored, even if it goes on.
                st.acc = None;
                Some((Err(e), st))
            }
            None => {
                if let Some(acc) = st.acc.take() {
                    let mut resp = acc.finish_with_meta(st.meta.clone());
                    resp.meta.cache_hit = None;
                    if storable(&resp.finish_reason) {
                        let stored = match st.store_as {
                            StoreAs::Chat => serialize(&resp).map(|b| (b, Decoded(Arc::new(resp)))),
                            StoreAs::Completion => {
                                let c = CompletionResponse::from(resp);
                                serialize(&c).map(|b| (b, Decoded(Arc::new(c))))
                            }
                        };
                        if let Some((bytes, decoded)) = stored {
                            st.cache
                                .put_decoded(
                                    &st.key,
                                    bytes,
                                    Some(decoded),
                                    st.ttl,
                                    st.started.elapsed(),
                                )
                                .await;
                        }
                    }
                }
                None
            }
        }
    })
    .fuse();
    let mut out_meta = meta;
    out_meta.cache_hit = Some(false);
    ChatStream::new(s).with_meta(out_meta)
}

fn completion_as_chat(c: CompletionResponse) -> ChatResponse {
    ChatResponse {
        id: c.id,
        model: c.model,
        created: c.created,
        message: AssistantMessage {
            content: Some(Content::Text(c.text)),
            ..AssistantMessage::default()
        },
        finish_reason: c.finish_reason,
        usage: c.usage,
        meta: c.meta,
    }
}

fn replay(resp: &ChatResponse) -> ChatStream {
    let mut meta = resp.meta.clone();
    meta.cache_hit = Some(true);
    ChatStream::from_events(resp.to_events()).with_meta(meta)
}

/// A cached vector: the model name (length-prefixed) and the `f32`s little-endian.
fn encode_vector(model: &str, v: &[f32]) -> Bytes {
    let model = &model.as_bytes()[..model.len().min(u16::MAX as usize)];
    let mut b = BytesMut::with_capacity(2 + model.len() + 4 * v.len());
    b.put_u16(model.len() as u16);
    b.put_slice(model);
    for x in v {
        b.put_f32_le(*x);
    }
    b.freeze()
}

fn decode_vector(raw: &[u8]) -> Option<(String, Vec<f32>)> {
    let len = usize::from(u16::from_be_bytes([*raw.first()?, *raw.get(1)?]));
    let model = std::str::from_utf8(raw.get(2..2 + len)?).ok()?.to_owned();
    let rest = raw.get(2 + len..)?;
    if rest.len() % 4 != 0 {
        return None;
    }
    let v = rest
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Some((model, v))
}

impl CachedProvider {
    /// Cached like embeddings: rankings are deterministic, so no `temperature` is needed;
    /// `cache_control` modes and `force` apply as for every call.
    async fn cached_rerank(
        &self,
        call: Call<'_>,
        req: &RerankRequest,
        ctx: &RequestContext,
    ) -> Result<Reply, Failure> {
        let Some(cache) = self.active(ctx) else {
            return self.inner.call(call, ctx).await;
        };
        let Ok(key) = rerank_key(self.inner.name(), call.model, req) else {
            self.stats.bypass();
            return self.inner.call(call, ctx).await;
        };
        self.answer(cache, key, ctx, call.model, || {
            self.inner.call_typed(call, ctx)
        })
        .await
        .map(Reply::Rerank)
    }

    async fn cached_chat(
        &self,
        call: Call<'_>,
        req: &ChatRequest,
        ctx: &RequestContext,
    ) -> Result<Reply, Failure> {
        let Some((cache, key)) = self.plan(ctx, req.temperature, || {
            chat_key(self.inner.name(), call.model, req).ok()
        }) else {
            return self.inner.call(call, ctx).await;
        };
        if call.stream {
            return self
                .cached_stream(call, cache, key, ctx, StoreAs::Chat)
                .await;
        }
        self.answer(cache, key, ctx, call.model, || {
            self.inner.call_typed(call, ctx)
        })
        .await
        .map(Reply::Chat)
    }

    /// A streamed chat or completion through the cache: a hit replays the stored answer as a
    /// stream; a miss stores the stream's answer (`store_as`) when it completes.
    async fn cached_stream(
        &self,
        call: Call<'_>,
        cache: &ResponseCache,
        key: CacheKey,
        ctx: &RequestContext,
        store_as: StoreAs,
    ) -> Result<Reply, Failure> {
        let hit = match store_as {
            StoreAs::Chat => Self::lookup::<ChatResponse>(cache, &key, ctx).await,
            StoreAs::Completion => Self::lookup::<CompletionResponse>(cache, &key, ctx)
                .await
                .map(completion_as_chat),
        };
        if let Some(hit) = hit {
            return Ok(Reply::Stream(replay(&hit)));
        }
        let started = Instant::now();
        let stream: ChatStream = self.inner.call_typed(call, ctx).await?;
        if !writes(ctx.cache.mode) {
            let mut stream = stream;
            stream.meta_mut().cache_hit = Some(false);
            return Ok(Reply::Stream(stream));
        }
        Ok(Reply::Stream(store_on_complete(
            stream,
            cache.clone(),
            key,
            ctx.cache.ttl,
            started,
            store_as,
        )))
    }

    async fn cached_complete(
        &self,
        call: Call<'_>,
        req: &CompletionRequest,
        ctx: &RequestContext,
    ) -> Result<Reply, Failure> {
        let Some((cache, key)) = self.plan(ctx, req.temperature, || {
            completion_key(self.inner.name(), call.model, req).ok()
        }) else {
            return self.inner.call(call, ctx).await;
        };
        if call.stream {
            return self
                .cached_stream(call, cache, key, ctx, StoreAs::Completion)
                .await;
        }
        self.answer(cache, key, ctx, call.model, || {
            self.inner.call_typed(call, ctx)
        })
        .await
        .map(Reply::Completion)
    }

    /// Embeddings of `req` served as `model` (the call's): per text from the cache, the
    /// missing texts from upstream in a request naming `model`.
    async fn cached_embed(
        &self,
        req: &EmbeddingRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<EmbeddingResponse, Failure> {
        if req.input.is_empty() {
            // Nothing to look up: the provider decides what an empty request means.
            return self.send_embeddings(req, model, ctx).await;
        }
        let Some(cache) = self.active(ctx) else {
            return self.send_embeddings(req, model, ctx).await;
        };
        let Ok(keys) = EmbeddingKeys::new(self.inner.name(), model, req) else {
            self.stats.bypass();
            return self.send_embeddings(req, model, ctx).await;
        };
        let keys: Vec<CacheKey> = req.input.iter().map(|t| keys.key(t)).collect();
        let mut found: Vec<Option<(String, Vec<f32>)>> = if reads(ctx.cache.mode) {
            cache
                .get_many(&keys, ctx.cache.max_age)
                .await
                .into_iter()
                .map(|e| e.and_then(|e| decode_vector(&e.value)))
                .collect()
        } else {
            vec![None; keys.len()]
        };
        let cached_inputs = found.iter().filter(|f| f.is_some()).count();

        // The distinct texts still missing, in first-seen order.
        let mut missing: Vec<String> = Vec::new();
        let mut missing_keys: Vec<CacheKey> = Vec::new();
        let mut slot: HashMap<[u8; 32], usize> = HashMap::new();
        let mut wanted: Vec<Option<usize>> = Vec::with_capacity(keys.len());
        for (i, f) in found.iter().enumerate() {
            if f.is_some() {
                wanted.push(None);
                continue;
            }
            let idx = *slot.entry(keys[i].digest).or_insert_with(|| {
                missing.push(req.input[i].clone());
                missing_keys.push(keys[i]);
                missing.len() - 1
            });
            wanted.push(Some(idx));
        }

        // An answer served from the cache alone names the provider the model served names
        // (`provider/model`, the dispatcher's form), not the layer below (the dispatcher), so
        // cache hits are counted under the provider that produced the vectors.
        let mut meta = ResponseMeta {
            provider: Some(match model.split_once('/') {
                Some((p, _)) if !p.is_empty() => p.to_owned(),
                _ => self.inner.name().to_owned(),
            }),
            ..ResponseMeta::default()
        };
        let mut usage = Some(Usage::default());
        let mut answered = None;
        let mut fetched: Vec<Vec<f32>> = Vec::new();
        if !missing.is_empty() {
            // A request of its own, naming the model served: it is not re-targeted any more.
            let sub = EmbeddingRequest {
                input: missing,
                ..without_input(req, model)
            };
            let started = Instant::now();
            let mut resp = self.send_embeddings(&sub, model, ctx).await?;
            let elapsed = started.elapsed();
            resp.data.sort_by_key(|e| e.index);
            if resp.data.len() != sub.input.len() {
                return Err(Failure::from(runtime_core::Error::decode(
                    self.inner.name(),
                    model,
                    "embeddings",
                    format!(
                        "expected {} vectors, got {}",
                        sub.input.len(),
                        resp.data.len()
                    ),
                    "",
                )));
            }
            fetched = resp.data.into_iter().map(|e| e.embedding).collect();
            if writes(ctx.cache.mode) {
                let per_text = elapsed / u32::try_from(fetched.len()).unwrap_or(u32::MAX).max(1);
                let items = missing_keys
                    .iter()
                    .zip(&fetched)
                    .map(|(k, v)| (*k, encode_vector(&resp.model, v)))
                    .collect();
                cache.put_many(items, ctx.cache.ttl, per_text).await;
            }
            usage = resp.usage;
            meta = resp.meta;
            answered = Some(resp.model);
        }
        let answered = answered
            .or_else(|| found.iter().flatten().next().map(|(m, _)| m.clone()))
            .unwrap_or_else(|| model.to_owned());
        let data = wanted
            .into_iter()
            .enumerate()
            .map(|(index, w)| Embedding {
                index,
                embedding: match w {
                    Some(j) => fetched.get(j).cloned().unwrap_or_default(),
                    None => found[index].take().map(|(_, v)| v).unwrap_or_default(),
                },
            })
            .collect();
        meta.cache_hit = Some(cached_inputs == req.input.len());
        meta.annotations.insert(
            CACHED_INPUTS_ANNOTATION.into(),
            serde_json::Value::from(cached_inputs),
        );
        Ok(EmbeddingResponse {
            model: answered,
            data,
            usage,
            meta,
        })
    }
}

#[async_trait]
impl Service for CachedProvider {
    fn name(&self) -> &str {
        self.inner.name()
    }

    /// The inner service's capabilities, except that there is no limit on embedding inputs:
    /// this layer splits larger requests itself.
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities().max_embedding_inputs(None)
    }

    fn models(&self) -> Vec<ModelInfo> {
        self.inner.models()
    }

    /// Chat, completion, embeddings and rankings are cached (rankings, like embeddings, are
    /// deterministic: no `temperature` is needed; `cache_control` modes and `force` apply as
    /// for every call). Counting, listings and probes pass through.
    async fn call(&self, call: Call<'_>, ctx: &RequestContext) -> Result<Reply, Failure> {
        match call.op {
            Op::Chat(r) => self.cached_chat(call, r, ctx).await,
            Op::Complete(r) => self.cached_complete(call, r, ctx).await,
            Op::Embed(r) => self
                .cached_embed(r, call.model, ctx)
                .await
                .map(Reply::Embeddings),
            Op::Rerank(r) => self.cached_rerank(call, r, ctx).await,
            _ => self.inner.call(call, ctx).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_round_trip() {
        let v = vec![1.5f32, -0.0, f32::MIN_POSITIVE, 3.25e10];
        let b = encode_vector("text-embedding-3-small", &v);
        assert_eq!(
            decode_vector(&b),
            Some(("text-embedding-3-small".to_owned(), v))
        );
        assert_eq!(decode_vector(&b[..b.len() - 1]), None);
        assert_eq!(decode_vector(&[]), None);
    }
}
