//! Streams: OpenAI's chunk decoder, each chunk normalised like a whole answer first, the
//! preset's extras sent as events so that a folded stream equals the whole answer.

use provider_openai::wire::{ChatCompletionChunk, ChunkDecoder};
use runtime_core::{Error, FrameDecoder, Result, StreamEvent};
use serde_json::{Map, Value};

use crate::preset::Preset;
use crate::response::{annotations, detail_extras, normalize};

/// Decodes one preset's SSE `data` payloads.
#[derive(Debug)]
pub struct PresetDecoder {
    inner: ChunkDecoder,
    preset: &'static Preset,
    provider: String,
    model: String,
    /// Annotations sent so far (APIs repeat them on every chunk; sent when they change).
    sent: Map<String, Value>,
}

impl PresetDecoder {
    /// A decoder for one stream.
    pub fn new(preset: &'static Preset, provider: &str, model: &str) -> Self {
        Self {
            inner: ChunkDecoder::new(provider, model),
            preset,
            provider: provider.to_owned(),
            model: model.to_owned(),
            sent: Map::new(),
        }
    }
}

impl FrameDecoder for PresetDecoder {
    fn decode(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Result<()> {
        let trimmed = data.trim();
        if trimmed.is_empty() || trimmed == "[DONE]" {
            return self.inner.decode(trimmed, out);
        }
        let mut v: Value = serde_json::from_str(trimmed)
            .map_err(|e| Error::decode(&self.provider, &self.model, "stream chunk", e, trimmed))?;
        normalize(&self.preset.response, &mut v);
        let notes = annotations(self.preset, &v);
        let extras = if self.preset.response.openrouter {
            detail_extras(v.pointer("/choices/0/delta/reasoning_details"))
        } else {
            Default::default()
        };
        let chunk: ChatCompletionChunk = serde_json::from_value(v)
            .map_err(|e| Error::decode(&self.provider, &self.model, "stream chunk", e, trimmed))?;
        self.inner.decode_chunk(chunk, out)?;
        out.extend(
            extras
                .signatures
                .into_iter()
                .map(|signature| StreamEvent::ReasoningSignature { signature }),
        );
        out.extend(
            extras
                .encrypted
                .into_iter()
                .map(|data| StreamEvent::RedactedReasoning { data }),
        );
        for (key, value) in notes {
            if self.sent.get(&key) != Some(&value) {
                self.sent.insert(key.clone(), value.clone());
                out.push(StreamEvent::Annotation { key, value });
            }
        }
        Ok(())
    }

    fn end(&mut self, out: &mut Vec<StreamEvent>) -> Result<()> {
        self.inner.end(out)
    }

    fn is_done(&self) -> bool {
        self.inner.is_done()
    }
}
