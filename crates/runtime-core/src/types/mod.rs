//! Request and response types, OpenAI-shaped on the wire but typed.

pub mod chat;
pub mod completion;
pub mod element;
pub mod embedding;
pub mod model;
pub mod pricing;
pub mod rerank;
pub mod usage;

pub(crate) mod serde_util;

pub use chat::*;
pub use completion::*;
pub use element::*;
pub use embedding::*;
pub use model::*;
pub use pricing::*;
pub use rerank::*;
pub use usage::*;

// Defined here, above chat.rs and element.rs, so neither file imports the other.
impl ChatRequest {
    /// The extra fields pinned to `at`, if any.
    pub fn element_extra(&self, at: ElementRef) -> Option<&ElementExtra> {
        self.element_extras.iter().find(|e| e.at == at)
    }

    /// The extra fields pinned to `at`, created empty when absent.
    pub fn element_extra_mut(&mut self, at: ElementRef) -> &mut ElementExtra {
        let pos = match self.element_extras.iter().position(|e| e.at == at) {
            Some(pos) => pos,
            None => {
                self.element_extras.push(ElementExtra::new(at));
                self.element_extras.len() - 1
            }
        };
        &mut self.element_extras[pos]
    }
}
