//! The `x-ratelimit-*` headers, in OpenAI's own syntax: `x-ratelimit-limit-requests: 60`,
//! `x-ratelimit-remaining-requests: 59`, `x-ratelimit-reset-requests: 1s`, and the same three
//! for `-tokens`; resets are Go durations (`6m0s`).

use runtime_core::http::format_go_duration;

use crate::limits::CellState;

/// The tightest request and token cells of a request (key, team or user).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateHeaders {
    /// The request cell with the least left.
    pub requests: Option<CellState>,
    /// The token cell with the least left.
    pub tokens: Option<CellState>,
}

impl RateHeaders {
    /// From the states of every cell a request went through.
    pub fn from_states(states: &[CellState]) -> Self {
        let pick = |requests: bool| {
            states
                .iter()
                .filter(|s| s.requests == requests)
                .min_by_key(|s| s.remaining)
                .copied()
        };
        Self {
            requests: pick(true),
            tokens: pick(false),
        }
    }

    /// Header names and values (none for a kind without a limit).
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::with_capacity(6);
        for (s, names) in [
            (
                self.requests,
                [
                    "x-ratelimit-limit-requests",
                    "x-ratelimit-remaining-requests",
                    "x-ratelimit-reset-requests",
                ],
            ),
            (
                self.tokens,
                [
                    "x-ratelimit-limit-tokens",
                    "x-ratelimit-remaining-tokens",
                    "x-ratelimit-reset-tokens",
                ],
            ),
        ] {
            if let Some(s) = s {
                out.push((names[0], s.limit.to_string()));
                out.push((names[1], s.remaining.to_string()));
                // Whole milliseconds, like OpenAI's (`1.5s`, `6m0s`, `174ms`).
                let ms = std::time::Duration::from_millis(s.reset.as_millis() as u64);
                out.push((names[2], format_go_duration(ms)));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn openai_syntax_and_the_tightest_cell() {
        let st = |limit, remaining, reset_ms: u64, requests| CellState {
            limit,
            remaining,
            reset: Duration::from_micros(reset_ms * 1000 + 321),
            requests,
        };
        let h = RateHeaders::from_states(&[
            st(60, 59, 1000, true),
            st(10, 3, 360_000, true),
            st(40_000, 39_000, 1_500, false),
        ]);
        let p = h.pairs();
        let get = |n: &str| p.iter().find(|(k, _)| *k == n).map(|(_, v)| v.as_str());
        assert_eq!(get("x-ratelimit-limit-requests"), Some("10"));
        assert_eq!(get("x-ratelimit-remaining-requests"), Some("3"));
        assert_eq!(get("x-ratelimit-reset-requests"), Some("6m0s"));
        assert_eq!(get("x-ratelimit-limit-tokens"), Some("40000"));
        assert_eq!(get("x-ratelimit-reset-tokens"), Some("1.5s"));
        assert!(RateHeaders::default().pairs().is_empty());
    }
}
