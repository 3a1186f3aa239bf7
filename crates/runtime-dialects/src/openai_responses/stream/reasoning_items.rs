//! The reasoning items of a Responses stream: summary text as it streams, and the opaque
//! reasoning items of an OpenAI upstream (their `encrypted_content`, untouched).

use serde_json::Value;

use super::{OpenItem, OutputItem, ResponsesStreamEncoder, SummaryDelta, SummaryPart, summary};

impl ResponsesStreamEncoder {
    pub(super) fn open_reasoning(&mut self, out: &mut Vec<u8>) {
        self.close(out);
        let output_index = self.next_output_index();
        let id = self.ids.item("rs");
        let item = OutputItem::Reasoning {
            id: id.clone(),
            summary: Vec::new(),
            encrypted_content: None,
        };
        self.item_added(out, output_index, &item);
        self.open = Some(OpenItem::Reasoning {
            output_index,
            id,
            text: None,
            signature: None,
            encrypted: None,
        });
    }

    /// An upstream OpenAI reasoning item ended (a `reasoning::REASONING_ITEM` annotation): its
    /// `encrypted_content` goes on the reasoning item its summary opened (or on a new one when
    /// it had no summary), which ends with it, untouched.
    pub(super) fn reasoning_item(&mut self, item: &Value, out: &mut Vec<u8>) {
        let Some(enc) = item.get("encrypted_content").and_then(Value::as_str) else {
            return;
        };
        let open_unsigned = matches!(
            &self.open,
            Some(OpenItem::Reasoning {
                signature: None,
                encrypted: None,
                ..
            })
        );
        if !open_unsigned {
            self.open_reasoning(out);
        }
        if let Some(OpenItem::Reasoning { encrypted, .. }) = &mut self.open {
            *encrypted = Some(enc.to_owned());
        }
        self.close(out);
    }

    pub(super) fn reasoning_text(&mut self, text: &str, out: &mut Vec<u8>) {
        let reuse = matches!(
            &self.open,
            Some(OpenItem::Reasoning {
                signature: None,
                ..
            })
        );
        if !reuse {
            self.open_reasoning(out);
        }
        let Some(OpenItem::Reasoning {
            output_index,
            id,
            text: acc,
            ..
        }) = &mut self.open
        else {
            return;
        };
        let (output_index, id) = (*output_index, id.clone());
        let first = acc.is_none();
        acc.get_or_insert_with(String::new).push_str(text);
        if first {
            self.emit(
                out,
                "response.reasoning_summary_part.added",
                SummaryPart {
                    item_id: &id,
                    output_index,
                    summary_index: 0,
                    part: summary(""),
                },
            );
        }
        if !text.is_empty() {
            self.emit(
                out,
                "response.reasoning_summary_text.delta",
                SummaryDelta {
                    item_id: &id,
                    output_index,
                    summary_index: 0,
                    delta: text,
                },
            );
        }
    }
}
