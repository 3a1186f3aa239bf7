//! `modelrt models` with where each entry comes from, and the price check `modelrt chat`
//! runs before its answer.

use model_runtime::{ModelInfo, Provider, RequestContext, Runtime, Service};

use crate::cli_common::{CliError, table as text_table};

/// Where a listed model comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A logical model of the config file (`[[models]]`).
    Config,
    /// The provider's live model listing.
    Live,
    /// The provider's static catalog (it has no listing, or the listing failed).
    Catalog,
}

impl Source {
    /// The word the table shows.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Config => "config",
            Source::Live => "live",
            Source::Catalog => "catalog",
        }
    }
}

/// Logical models, then every provider instance's models marked live or catalog. A listing
/// that fails is said on stderr and its catalog shown instead.
pub async fn marked(rt: &Runtime) -> Result<Vec<(ModelInfo, Source)>, CliError> {
    let ctx = RequestContext::new();
    let mut out: Vec<(ModelInfo, Source)> = rt
        .router()
        .map(|r| r.models())
        .unwrap_or_default()
        .into_iter()
        .map(|m| (m, Source::Config))
        .collect();
    for name in rt.logical_models() {
        if !out.iter().any(|(m, _)| m.id == name) {
            let m = ModelInfo {
                id: name,
                provider: "router".into(),
                ..ModelInfo::default()
            };
            out.push((m, Source::Config));
        }
    }
    let registry = rt.registry();
    let instances: Vec<(String, std::sync::Arc<dyn Provider>)> = registry
        .instances()
        .into_iter()
        .filter_map(|n| registry.get(&n).map(|p| (n, p)))
        .collect();
    let listings = futures::future::join_all(instances.iter().map(|(_, p)| {
        let ctx = &ctx;
        async move {
            if p.capabilities().list_models {
                p.list_models(ctx).await.map_err(Some)
            } else {
                Err(None)
            }
        }
    }))
    .await;
    for ((name, p), listing) in instances.iter().zip(listings) {
        let (models, source) = match listing {
            Ok(m) => (m, Source::Live),
            Err(e) => {
                if let Some(e) = e {
                    eprintln!(
                        "warning: {name}: the model listing failed ({e}); showing its static catalog"
                    );
                }
                (p.models(), Source::Catalog)
            }
        };
        out.extend(models.into_iter().map(|m| {
            let id = format!("{name}/{}", m.id);
            (ModelInfo { id, ..m }, source)
        }));
    }
    Ok(out)
}

/// The `modelrt models` table, with a SOURCE column.
pub fn table(rows: &[(ModelInfo, Source)]) -> String {
    let mut t = vec![[
        "MODEL".to_owned(),
        "KIND".to_owned(),
        "PROVIDER".to_owned(),
        "CONTEXT".to_owned(),
        "SOURCE".to_owned(),
    ]];
    for (m, s) in rows {
        t.push([
            m.id.clone(),
            format!("{:?}", m.kind).to_lowercase(),
            m.provider.clone(),
            m.context_window.map(|c| c.to_string()).unwrap_or_default(),
            s.as_str().to_owned(),
        ]);
    }
    let mut text = text_table(&t);
    text.push_str(
        "\nSOURCE: config = a logical model of the config file; live = the provider's model listing; catalog = the static catalog built into modelrt (no listing, or it failed)\n",
    );
    text
}

/// Resolves the prices of `model` (each deployment of a logical model, or `provider/model`)
/// so a missing price is warned about now, on stderr, before any of the answer is written;
/// the warning is said once per model, so it does not come again mid-stream.
pub fn price_up_front(rt: &Runtime, model: &str) {
    let Some(pricing) = rt.metering().map(|m| m.pricing().clone()) else {
        return;
    };
    let book = crate::govern::price::PriceBook::new(rt);
    let deps: Vec<_> = book
        .in_use()
        .into_iter()
        .filter(|d| d.model == model)
        .collect();
    if deps.is_empty() {
        if let Some((provider, m)) = model.split_once('/') {
            let _ = pricing.price(provider, None, m);
        }
    }
    for d in deps {
        let _ = pricing.price(&d.provider, d.deployment.as_deref(), &d.provider_model);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_marks_each_source() {
        let m = |id: &str| ModelInfo {
            id: id.into(),
            provider: "p".into(),
            ..ModelInfo::default()
        };
        let text = table(&[
            (m("fast"), Source::Config),
            (m("p/a"), Source::Live),
            (m("q/b"), Source::Catalog),
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].ends_with("SOURCE"), "{text}");
        assert!(
            lines[1].starts_with("fast") && lines[1].ends_with("config"),
            "{text}"
        );
        assert!(
            lines[2].ends_with("live") && lines[3].ends_with("catalog"),
            "{text}"
        );
    }
}
