//! Composite map keys built without allocating on the hot path.

use std::cell::RefCell;

/// Separates the parts of a composite key (a control character no label value uses).
const SEP: char = '\u{1f}';

thread_local! {
    static BUF: RefCell<String> = const { RefCell::new(String::new()) };
}

fn push_parts(buf: &mut String, parts: &[&str]) {
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            buf.push(SEP);
        }
        buf.push_str(p);
    }
}

/// The parts joined into a new string.
pub(crate) fn join(parts: &[&str]) -> String {
    let mut s = String::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    push_parts(&mut s, parts);
    s
}

/// Calls `f` with the joined key held in a reused thread-local buffer.
pub(crate) fn with_key<R>(parts: &[&str], f: impl FnOnce(&str) -> R) -> R {
    BUF.with(|b| match b.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            push_parts(&mut buf, parts);
            f(buf.as_str())
        }
        // Re-entered from inside `f` (never done by this crate): fall back to a fresh string.
        Err(_) => f(&join(parts)),
    })
}

/// A fast word-at-a-time hasher (FxHash's mixing) for the short composite keys of the series
/// and price maps. Not keyed: those maps are size-capped, so a client choosing model names
/// cannot make them grow, only slow its own colliding lookups.
#[derive(Clone, Copy, Default)]
pub(crate) struct FastHash(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FastHash {
    #[inline]
    fn mix(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl std::hash::Hasher for FastHash {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.mix(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(w));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.mix(u64::from(i));
    }

    fn write_usize(&mut self, i: usize) {
        self.mix(i as u64);
    }
}

/// Builds [`FastHash`] hashers.
pub(crate) type FastBuild = std::hash::BuildHasherDefault<FastHash>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_and_reuses() {
        assert_eq!(join(&["a", "", "c"]), "a\u{1f}\u{1f}c");
        assert_eq!(with_key(&["x", "y"], |k| k.to_owned()), "x\u{1f}y");
        let nested = with_key(&["a"], |outer| {
            with_key(&["b"], |inner| format!("{outer}{inner}"))
        });
        assert_eq!(nested, "ab");
    }
}
