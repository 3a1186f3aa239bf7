//! The worst-case price and output limit of every model a client may name, built once at
//! start: a logical model costs what its dearest deployment costs (the router may send the
//! call to any of them), and is unpriced when any of its deployments is.

use std::collections::BTreeMap;

use model_runtime::{ModelPricing, Runtime};

/// What one model may cost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Worst {
    /// The highest price per input token class, per output token class, USD per Mtok;
    /// `None`: some deployment has no known price.
    pub pricing: Option<ModelPricing>,
    /// The model's output limit, when every deployment's is known (the largest).
    pub max_output: Option<u32>,
}

/// One deployment of a model in use: (model name, provider, deployment, provider model).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InUse {
    /// The name clients send (a logical model, or `provider/model`).
    pub model: String,
    /// Provider instance.
    pub provider: String,
    /// Deployment name.
    pub deployment: Option<String>,
    /// The provider's model id.
    pub provider_model: String,
}

/// Prices and limits of the models in use.
#[derive(Debug, Default)]
pub struct PriceBook {
    logical: BTreeMap<String, Vec<InUse>>,
}

fn max_pricing(a: ModelPricing, b: ModelPricing) -> ModelPricing {
    let m = |x: Option<f64>, y: Option<f64>| match (x, y) {
        (None, None) => None,
        (x, y) => Some(x.unwrap_or(0.0).max(y.unwrap_or(0.0))),
    };
    ModelPricing {
        input_per_mtok: a.input_per_mtok.max(b.input_per_mtok),
        output_per_mtok: a.output_per_mtok.max(b.output_per_mtok),
        cached_input_per_mtok: m(a.cached_input_per_mtok, b.cached_input_per_mtok),
        cache_write_per_mtok: m(a.cache_write_per_mtok, b.cache_write_per_mtok),
        reasoning_per_mtok: m(a.reasoning_per_mtok, b.reasoning_per_mtok),
        per_search_unit: m(a.per_search_unit, b.per_search_unit),
    }
}

impl PriceBook {
    /// Every logical model's deployments, from the runtime's config.
    pub fn new(runtime: &Runtime) -> Self {
        let mut logical = BTreeMap::new();
        for m in &runtime.config().models {
            let Some(name) = m.get("name").and_then(|v| v.as_str()) else {
                continue;
            };
            let deps = m
                .get("deployments")
                .and_then(|d| d.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|d| {
                            let provider = d.get("provider")?.as_str()?.to_owned();
                            let model = d.get("model")?.as_str()?.to_owned();
                            let dep = d
                                .get("name")
                                .and_then(|n| n.as_str())
                                .map(str::to_owned)
                                .unwrap_or_else(|| format!("{provider}/{model}"));
                            Some(InUse {
                                model: name.to_owned(),
                                provider,
                                deployment: Some(dep),
                                provider_model: model,
                            })
                        })
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            logical.insert(name.to_owned(), deps);
        }
        Self { logical }
    }

    /// The deployments a model name may be served by (a `provider/model` is its own).
    pub fn deployments(&self, model: &str) -> Vec<InUse> {
        if let Some(d) = self.logical.get(model) {
            return d.clone();
        }
        match model.split_once('/') {
            Some((p, m)) => vec![InUse {
                model: model.to_owned(),
                provider: p.to_owned(),
                deployment: None,
                provider_model: m.to_owned(),
            }],
            None => Vec::new(),
        }
    }

    /// Every deployment of every logical model.
    pub fn in_use(&self) -> Vec<InUse> {
        self.logical.values().flatten().cloned().collect()
    }

    /// The worst case of `model` on this runtime.
    pub fn worst(&self, runtime: &Runtime, model: &str) -> Worst {
        let deps = self.deployments(model);
        if deps.is_empty() {
            return Worst {
                pricing: None,
                max_output: None,
            };
        }
        let pricing = runtime.metering().map(|m| m.pricing().clone());
        let mut worst: Option<ModelPricing> = None;
        let mut unpriced = false;
        let mut max_output: Option<u32> = Some(0);
        for d in &deps {
            match pricing
                .as_ref()
                .and_then(|p| p.price(&d.provider, d.deployment.as_deref(), &d.provider_model))
            {
                Some((p, _)) => worst = Some(worst.map_or(p, |w| max_pricing(w, p))),
                None => unpriced = true,
            }
            let limit = runtime.registry().get(&d.provider).and_then(|p| {
                p.models()
                    .into_iter()
                    .find(|m| m.id == d.provider_model)
                    .and_then(|m| m.max_output_tokens)
            });
            max_output = match (max_output, limit) {
                (Some(a), Some(b)) => Some(a.max(b)),
                _ => None,
            };
        }
        Worst {
            pricing: if unpriced { None } else { worst },
            max_output: max_output.filter(|m| *m > 0),
        }
    }
}

/// The most a call may cost, µUSD (rounded up): `prompt_bytes` input tokens (a byte-level
/// tokenizer makes at most one token per byte, so the request body's length bounds a text
/// prompt) at the dearest input class, and `output` tokens at the dearest output class.
pub fn worst_cost_micros(p: &ModelPricing, prompt_bytes: u64, output: u64) -> i64 {
    let input = p
        .input_per_mtok
        .max(p.cached_input_per_mtok.unwrap_or(0.0))
        .max(p.cache_write_per_mtok.unwrap_or(0.0));
    let out = p.output_per_mtok.max(p.reasoning_per_mtok.unwrap_or(0.0));
    // USD per Mtok × tokens = µUSD.
    (input * prompt_bytes as f64 + out * output as f64).ceil() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_cost_takes_the_dearest_classes_and_rounds_up() {
        let p = ModelPricing {
            input_per_mtok: 3.0,
            output_per_mtok: 15.0,
            cached_input_per_mtok: Some(0.3),
            cache_write_per_mtok: Some(3.75),
            reasoning_per_mtok: None,
            per_search_unit: None,
        };
        // 1000 bytes × 3.75 + 100 × 15 = 5250 µUSD.
        assert_eq!(worst_cost_micros(&p, 1000, 100), 5250);
        assert_eq!(worst_cost_micros(&p, 1, 0), 4);
        let cheap = ModelPricing {
            input_per_mtok: 0.15,
            output_per_mtok: 0.6,
            ..ModelPricing::default()
        };
        let w = max_pricing(p, cheap);
        assert_eq!((w.input_per_mtok, w.output_per_mtok), (3.0, 15.0));
        assert_eq!(w.cache_write_per_mtok, Some(3.75));
    }
}
