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

/// FNV-1a: a fast hasher for the short composite keys of the series and price maps (their
/// size is capped, so a hash-flooding client cannot make them grow).
#[derive(Clone, Copy)]
pub(crate) struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// Builds [`Fnv`] hashers.
pub(crate) type FnvBuild = std::hash::BuildHasherDefault<Fnv>;

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
