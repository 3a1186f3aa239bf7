//! Embedding batching: coalescing concurrent requests, splitting large ones, apportioning usage.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Instant;

use futures::{StreamExt, TryStreamExt};
use parking_lot::Mutex;
use runtime_core::{
    Call, Embedding, EmbeddingRequest, EmbeddingResponse, Error, Failure, RequestContext,
    ResponseMeta, Result, Service, ServiceExt, TimeoutPhase, Usage,
};
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::config::BatchConfig;
use crate::key::canonical_object_into;
use crate::stats::CacheStats;

/// Upstream calls one over-limit request may have in flight at once.
const SPLIT_CONCURRENCY: usize = 4;

/// Splits `total` into parts proportional to `weights` that add up to exactly `total`
/// (largest-remainder method; ties go to the earlier part). All-zero weights share equally.
pub fn apportion(total: u64, weights: &[u64]) -> Vec<u64> {
    if weights.is_empty() {
        return Vec::new();
    }
    let mut w: Vec<u128> = weights.iter().map(|&w| u128::from(w)).collect();
    let mut sum: u128 = w.iter().sum();
    if sum == 0 {
        w.iter_mut().for_each(|x| *x = 1);
        sum = w.len() as u128;
    }
    let total128 = u128::from(total);
    let mut parts: Vec<u64> = Vec::with_capacity(w.len());
    let mut rems: Vec<(u128, usize)> = Vec::with_capacity(w.len());
    for (i, wi) in w.iter().enumerate() {
        let exact = total128 * wi;
        parts.push(u64::try_from(exact / sum).unwrap_or(u64::MAX));
        rems.push((exact % sum, i));
    }
    let given: u64 = parts.iter().sum();
    let mut left = total - given;
    rems.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in rems {
        if left == 0 {
            break;
        }
        parts[i] += 1;
        left -= 1;
    }
    parts
}

/// Splits every field of `usage` by [`apportion`] with the same weights.
pub fn apportion_usage(usage: &Usage, weights: &[u64]) -> Vec<Usage> {
    let f = |t: u64| apportion(t, weights);
    let (p, c, t, cp, cc, r) = (
        f(usage.prompt_tokens),
        f(usage.completion_tokens),
        f(usage.total_tokens),
        f(usage.cached_prompt_tokens),
        f(usage.cache_creation_tokens),
        f(usage.reasoning_tokens),
    );
    (0..weights.len())
        .map(|i| Usage {
            prompt_tokens: p[i],
            completion_tokens: c[i],
            total_tokens: t[i],
            cached_prompt_tokens: cp[i],
            cache_creation_tokens: cc[i],
            reasoning_tokens: r[i],
        })
        .collect()
}

/// Most inputs in one upstream call: the provider's declared limit and `max_batch`.
pub fn batch_limit(provider: &dyn Service, max_batch: usize) -> usize {
    provider
        .capabilities()
        .max_embedding_inputs
        .unwrap_or(usize::MAX)
        .min(max_batch)
        .max(1)
}

/// `req` embedded by `provider` as `model` (the call's model: when it is not `req.model`, the
/// call goes re-targeted, the body not copied), keeping a routed failure's route.
pub(crate) async fn embed_as(
    provider: &dyn Service,
    req: &EmbeddingRequest,
    model: &str,
    ctx: &RequestContext,
) -> Result<EmbeddingResponse, Failure> {
    provider
        .call_typed(Call::embed(req).with_model(model), ctx)
        .await
}

/// Sends `req` as `model` in calls of at most `limit` inputs (a few at a time) and
/// reassembles the answers in input order, usage summed. The per-chunk requests name `model`.
pub async fn embed_in_chunks(
    provider: &dyn Service,
    req: &EmbeddingRequest,
    model: &str,
    ctx: &RequestContext,
    limit: usize,
) -> Result<EmbeddingResponse> {
    let limit = limit.max(1);
    if req.input.len() <= limit {
        return Ok(embed_as(provider, req, model, ctx).await?);
    }
    let chunks: Vec<EmbeddingRequest> = req
        .input
        .chunks(limit)
        .map(|c| EmbeddingRequest {
            input: c.to_vec(),
            ..without_input(req, model)
        })
        .collect();
    let parts: Vec<(usize, EmbeddingResponse)> = futures::stream::iter(chunks)
        .map(|c| async move {
            let n = c.input.len();
            let mut resp = provider.embed(&c, ctx).await?;
            check_and_sort(provider.name(), &c.model, &mut resp.data, n)?;
            Ok::<_, Error>((n, resp))
        })
        .buffered(SPLIT_CONCURRENCY)
        .try_collect()
        .await?;
    let mut out = EmbeddingResponse {
        data: Vec::with_capacity(req.input.len()),
        ..EmbeddingResponse::default()
    };
    let mut usage: Option<Usage> = None;
    for (i, (_, resp)) in parts.into_iter().enumerate() {
        if i == 0 {
            out.model = resp.model;
            out.meta = resp.meta;
        }
        if let Some(u) = resp.usage {
            usage.get_or_insert_with(Usage::default).add(&u);
        }
        let base = out.data.len();
        out.data.extend(resp.data.into_iter().map(|e| Embedding {
            index: base + e.index,
            embedding: e.embedding,
        }));
    }
    out.usage = usage;
    Ok(out)
}

/// `req`'s parameters naming `model`, without its texts.
pub(crate) fn without_input(req: &EmbeddingRequest, model: &str) -> EmbeddingRequest {
    EmbeddingRequest {
        model: model.to_owned(),
        input: Vec::new(),
        tokens: Vec::new(),
        dimensions: req.dimensions,
        encoding_format: req.encoding_format,
        user: req.user.clone(),
        extra: req.extra.clone(),
    }
}

/// Sorts vectors by index and checks there is exactly one per input.
fn check_and_sort(provider: &str, model: &str, data: &mut [Embedding], n: usize) -> Result<()> {
    data.sort_by_key(|e| e.index);
    let ok = data.len() == n && data.iter().enumerate().all(|(i, e)| e.index == i);
    if ok {
        Ok(())
    } else {
        Err(Error::decode(
            provider,
            model,
            "embeddings",
            format!("expected {n} vectors indexed 0..{n}, got {}", data.len()),
            "",
        ))
    }
}

/// One caller's share of a batch.
#[derive(Debug)]
struct Part {
    vectors: Vec<Vec<f32>>,
    usage: Option<Usage>,
    model: String,
    meta: ResponseMeta,
}

struct Member {
    texts: Vec<String>,
    tx: oneshot::Sender<Result<Part>>,
    /// The caller's span: the batch's span links to it (`follows_from`).
    span: tracing::Span,
}

struct Pending {
    id: u64,
    provider: Arc<dyn Service>,
    template: EmbeddingRequest,
    ctx: RequestContext,
    members: Vec<Member>,
    inputs: usize,
    limit: usize,
}

type GroupKey = (usize, [u8; 32]);

struct Inner {
    config: BatchConfig,
    stats: Arc<CacheStats>,
    groups: Mutex<HashMap<GroupKey, Pending>>,
    next_id: AtomicU64,
}

/// Coalesces concurrent embedding requests for the same provider, model and parameters into
/// upstream calls of at most `max_batch` inputs (and at most the provider's own limit).
///
/// The first request of a batch waits up to `max_wait` for others; a batch that fills up
/// goes at once. Each caller gets exactly its own vectors, in its order, and a share of the
/// usage (split by text length, exact to the token). An upstream error reaches every caller
/// of the batch. A caller that goes away (future dropped or context cancelled) does not
/// affect the others; when every caller of a batch is gone the upstream call is dropped.
///
/// Requests are only coalesced when everything but the input texts is the same (the model
/// served, dimensions, encoding, user, `extra`) and they carry the same per-request credential.
#[derive(Clone)]
pub struct EmbeddingBatcher {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for EmbeddingBatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddingBatcher")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl EmbeddingBatcher {
    /// A batcher with its own counters.
    pub fn new(config: BatchConfig) -> Self {
        Self::with_stats(config, Arc::new(CacheStats::new()))
    }

    /// A batcher counting into `stats`.
    pub fn with_stats(config: BatchConfig, stats: Arc<CacheStats>) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                stats,
                groups: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(1),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &BatchConfig {
        &self.inner.config
    }

    /// The counters.
    pub fn stats(&self) -> &Arc<CacheStats> {
        &self.inner.stats
    }

    /// Embeds `req` through `provider` as `model` (the call's model, which may not be
    /// `req.model`), sharing upstream calls with concurrent requests for the same model: the
    /// batched requests name `model`.
    pub async fn embed(
        &self,
        provider: &Arc<dyn Service>,
        req: &EmbeddingRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<EmbeddingResponse> {
        if req.input.is_empty() {
            return Ok(embed_as(provider.as_ref(), req, model, ctx).await?);
        }
        let limit = batch_limit(provider.as_ref(), self.inner.config.max_batch);
        let group = group_key(provider, req, model, ctx);
        let receivers: Vec<(usize, oneshot::Receiver<Result<Part>>)> = req
            .input
            .chunks(limit)
            .map(|c| {
                (
                    c.len(),
                    self.submit(
                        group,
                        provider,
                        || without_input(req, model),
                        c.to_vec(),
                        ctx,
                        limit,
                    ),
                )
            })
            .collect();
        let wait = futures::future::join_all(
            receivers
                .into_iter()
                .map(|(n, rx)| async move { (n, rx.await) }),
        );
        let parts = tokio::select! {
            parts = wait_until(ctx, provider.name(), model, wait) => parts?,
            () = ctx.cancel.cancelled() => return Err(Error::Cancelled),
        };
        let mut out = EmbeddingResponse {
            data: Vec::with_capacity(req.input.len()),
            ..EmbeddingResponse::default()
        };
        let mut usage: Option<Usage> = None;
        for (i, (n, part)) in parts.into_iter().enumerate() {
            let part = part.map_err(|_| Error::Stream {
                provider: provider.name().to_owned(),
                model: model.to_owned(),
                error_type: None,
                message: "the embedding batch ended without an answer".into(),
                transient: true,
                content_sent: false,
            })??;
            if part.vectors.len() != n {
                return Err(Error::decode(
                    provider.name(),
                    model,
                    "embeddings",
                    "batch returned the wrong number of vectors",
                    "",
                ));
            }
            if i == 0 {
                out.model = part.model;
                out.meta = part.meta;
            }
            if let Some(u) = part.usage {
                usage.get_or_insert_with(Usage::default).add(&u);
            }
            let base = out.data.len();
            out.data.extend(
                part.vectors
                    .into_iter()
                    .enumerate()
                    .map(|(j, v)| Embedding {
                        index: base + j,
                        embedding: v,
                    }),
            );
        }
        out.usage = usage;
        Ok(out)
    }

    /// Adds `texts` to the group's open batch, opening one (with `template`: what every request
    /// of the group carries but the texts, built only then) when there is none.
    fn submit(
        &self,
        group: GroupKey,
        provider: &Arc<dyn Service>,
        template: impl FnOnce() -> EmbeddingRequest,
        texts: Vec<String>,
        ctx: &RequestContext,
        limit: usize,
    ) -> oneshot::Receiver<Result<Part>> {
        let (tx, rx) = oneshot::channel();
        let n = texts.len();
        let mut ready = Vec::new();
        {
            let mut groups = self.inner.groups.lock();
            if groups.get(&group).is_some_and(|p| p.inputs + n > p.limit) {
                ready.extend(groups.remove(&group));
            }
            let pending = groups.entry(group).or_insert_with(|| {
                let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
                self.start_timer(group, id);
                Pending {
                    id,
                    provider: provider.clone(),
                    template: template(),
                    ctx: RequestContext {
                        request_id: ctx.request_id.clone(),
                        deadline: ctx.deadline,
                        cancel: CancellationToken::new(),
                        api_key: ctx.api_key.clone(),
                        key_id: ctx.key_id.clone(),
                        team_id: ctx.team_id.clone(),
                        end_user: ctx.end_user.clone(),
                        // Usage is reported per caller by the metering layer above the batch.
                        usage: runtime_core::UsageReport::default(),
                        cache: ctx.cache,
                    },
                    members: Vec::new(),
                    inputs: 0,
                    limit,
                }
            });
            if !pending.members.is_empty() {
                // The batch must live as long as its most patient caller needs.
                pending.ctx.deadline = match (pending.ctx.deadline, ctx.deadline) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    _ => None,
                };
                if pending.ctx.key_id != ctx.key_id {
                    pending.ctx.key_id = None;
                }
            }
            pending.members.push(Member {
                texts,
                tx,
                span: tracing::Span::current(),
            });
            pending.inputs += n;
            if pending.inputs >= pending.limit {
                ready.extend(groups.remove(&group));
            }
        }
        for p in ready {
            tokio::spawn(run_batch(p, self.inner.stats.clone()));
        }
        rx
    }

    fn start_timer(&self, group: GroupKey, id: u64) {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let wait = self.inner.config.max_wait;
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            let Some(inner) = weak.upgrade() else { return };
            let batch = {
                let mut groups = inner.groups.lock();
                match groups.get(&group) {
                    Some(p) if p.id == id => groups.remove(&group),
                    _ => None,
                }
            };
            if let Some(p) = batch {
                run_batch(p, inner.stats.clone()).await;
            }
        });
    }
}

async fn wait_until<F: Future>(
    ctx: &RequestContext,
    provider: &str,
    model: &str,
    fut: F,
) -> Result<F::Output> {
    match ctx.deadline {
        None => Ok(fut.await),
        Some(deadline) => {
            let started = Instant::now();
            tokio::time::timeout_at(deadline.into(), fut)
                .await
                .map_err(|_| Error::Timeout {
                    provider: provider.to_owned(),
                    model: model.to_owned(),
                    phase: TimeoutPhase::Deadline,
                    after: started.elapsed(),
                })
        }
    }
}

/// The batch `req` served as `model` may join.
fn group_key(
    provider: &Arc<dyn Service>,
    req: &EmbeddingRequest,
    model: &str,
    ctx: &RequestContext,
) -> GroupKey {
    let mut h = Sha256::new();
    // Everything but the texts: the model served, dimensions, encoding, user and every
    // `extra` field.
    let mut buf = Vec::with_capacity(128);
    let _ = serde_json::to_writer(
        &mut buf,
        &(model, req.dimensions, req.encoding_format, &req.user),
    );
    canonical_object_into(&mut buf, &req.extra, &[]);
    h.update(&buf);
    h.update([0u8]);
    if let Some(k) = &ctx.api_key {
        h.update([1u8]);
        h.update(k.expose().as_bytes());
    }
    // The provider instance, by address: two providers with the same name never share.
    let addr = Arc::as_ptr(provider).cast::<()>() as usize;
    (addr, h.finalize().into())
}

async fn run_batch(p: Pending, stats: Arc<CacheStats>) {
    let Pending {
        provider,
        mut template,
        ctx,
        members,
        ..
    } = p;
    // Callers that already went away are not sent upstream.
    let mut members: Vec<Member> = members.into_iter().filter(|m| !m.tx.is_closed()).collect();
    if members.is_empty() {
        return;
    }
    let sizes: Vec<usize> = members.iter().map(|m| m.texts.len()).collect();
    let weights: Vec<u64> = members
        .iter()
        .map(|m| m.texts.iter().map(|t| t.len() as u64).sum())
        .collect();
    template.input = members
        .iter_mut()
        .flat_map(|m| std::mem::take(&mut m.texts))
        .collect();
    let total = template.input.len();
    stats.batch(members.len() as u64, total as u64);
    // The shared upstream call runs in a span of its own that follows from every caller's
    // span (OpenTelemetry: a span link each), so each request's trace leads to it.
    let span = tracing::info_span!(
        target: "runtime_cache::batch",
        "embedding batch",
        otel.name = "embeddings batch",
        gen_ai.operation.name = "embeddings",
        gen_ai.request.model = &*runtime_core::error::excerpt(&template.model),
        modelrt.batch.requests = members.len(),
        modelrt.batch.inputs = total,
    );
    for m in &members {
        span.follows_from(&m.span);
    }
    let result = {
        let call = tracing::Instrument::instrument(provider.embed(&template, &ctx), span);
        let all_gone = futures::future::join_all(members.iter_mut().map(|m| m.tx.closed()));
        tokio::select! {
            r = call => Some(r),
            _ = all_gone => None,
        }
    };
    let Some(result) = result else {
        ctx.cancel.cancel();
        return;
    };
    let result = result.and_then(|mut resp| {
        check_and_sort(provider.name(), &template.model, &mut resp.data, total)?;
        Ok(resp)
    });
    match result {
        Err(e) => {
            for m in members {
                let _ = m.tx.send(Err(e.clone()));
            }
        }
        Ok(resp) => {
            let usages = resp.usage.map(|u| apportion_usage(&u, &weights));
            let mut vectors = resp.data.into_iter().map(|e| e.embedding);
            for (i, (m, n)) in members.into_iter().zip(sizes).enumerate() {
                let part = Part {
                    vectors: vectors.by_ref().take(n).collect(),
                    usage: usages.as_ref().and_then(|u| u.get(i).copied()),
                    model: resp.model.clone(),
                    meta: resp.meta.clone(),
                };
                let _ = m.tx.send(Ok(part));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apportion_is_exact_and_proportional() {
        assert_eq!(apportion(10, &[1, 1, 1]), vec![4, 3, 3]);
        assert_eq!(apportion(7, &[0, 0]), vec![4, 3]);
        assert_eq!(apportion(100, &[1, 3]), vec![25, 75]);
        assert_eq!(apportion(0, &[5, 5]), vec![0, 0]);
        assert_eq!(apportion(5, &[]), Vec::<u64>::new());
        assert_eq!(apportion(1, &[1, 2]), vec![0, 1]);
        for total in [0u64, 1, 7, 99, 1_000_003, u64::MAX / 3] {
            for weights in [
                vec![1u64],
                vec![3, 5, 7],
                vec![1; 17],
                vec![0, 9, 0, 2],
                vec![u64::MAX, 1],
            ] {
                let parts = apportion(total, &weights);
                assert_eq!(
                    parts.iter().copied().map(u128::from).sum::<u128>(),
                    u128::from(total)
                );
            }
        }
    }

    #[test]
    fn usage_fields_split_exactly() {
        let u = Usage {
            prompt_tokens: 101,
            completion_tokens: 0,
            total_tokens: 101,
            cached_prompt_tokens: 5,
            cache_creation_tokens: 0,
            reasoning_tokens: 0,
        };
        let parts = apportion_usage(&u, &[3, 3, 4]);
        let mut sum = Usage::default();
        parts.iter().for_each(|p| sum.add(p));
        assert_eq!(sum, u);
        assert!(parts.iter().all(|p| p.prompt_tokens == p.total_tokens));
    }
}
