//! Key secrets: made here, shown once, stored only as SHA-256.

use rand::Rng;
use sha2::{Digest, Sha256};

/// The prefix of every secret this crate makes.
pub const SECRET_PREFIX: &str = "sk-mrt-";

/// A fresh secret: `sk-mrt-` and 40 random base62 characters (238 bits).
pub fn new_secret() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rng();
    let mut s = String::with_capacity(SECRET_PREFIX.len() + 40);
    s.push_str(SECRET_PREFIX);
    for _ in 0..40 {
        s.push(char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]));
    }
    s
}

/// SHA-256 of a presented key, hex (what is stored and compared).
pub fn hash_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The display form of a secret: its prefix and last four characters (`sk-mrt-…abcd`).
pub fn display(secret: &str) -> String {
    let tail: String = secret
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{SECRET_PREFIX}…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_displayed_by_their_tail_only() {
        let a = new_secret();
        let b = new_secret();
        assert_ne!(a, b);
        assert!(a.starts_with(SECRET_PREFIX) && a.len() == 47);
        let d = display(&a);
        assert!(d.ends_with(&a[a.len() - 4..]) && !d.contains(&a[7..40]));
        assert_eq!(hash_hex("test").len(), 64);
        assert_eq!(
            hash_hex("test"),
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        );
    }
}
