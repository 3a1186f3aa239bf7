//! Merging identical concurrent misses: while one request for a key is upstream, the
//! requests that miss on the same key wait for its answer instead of each sending their own.
//!
//! The first request to miss becomes the leader and holds a [`Leader`] guard; later ones
//! follow. The leader lands its answer (followers get it, marked a cache hit); if it fails, is
//! cancelled or is dropped, followers are released (and join again, one of them leading), so
//! an error is never shared and a follower never waits on a request that no longer exists.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use runtime_core::{Error, RequestContext, TimeoutPhase};
use tokio::sync::watch;

use crate::key::CacheKey;

type Value = Arc<dyn Any + Send + Sync>;

#[derive(Clone)]
enum State {
    Flying,
    Landed(Value),
    Released,
}

type Map = HashMap<CacheKey, watch::Receiver<State>>;

/// The requests in flight, by cache key.
#[derive(Default)]
pub struct Flights {
    map: Arc<Mutex<Map>>,
}

impl std::fmt::Debug for Flights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flights")
            .field("in_flight", &self.map.lock().len())
            .finish()
    }
}

/// What joining a key's flight made of this request.
pub enum Join {
    /// No request for the key is upstream: this one goes, and lands or releases.
    Leader(Leader),
    /// Another request for the key is upstream: wait for it with [`Follower::wait`].
    Follower(Follower),
}

/// The guard of the request that went upstream; dropping it without landing releases the
/// followers.
pub struct Leader {
    map: Arc<Mutex<Map>>,
    key: CacheKey,
    tx: watch::Sender<State>,
}

/// A request waiting for a leader.
pub struct Follower {
    rx: watch::Receiver<State>,
}

impl Flights {
    /// Joins the flight of `key`, or starts it.
    pub fn join(&self, key: &CacheKey) -> Join {
        let mut map = self.map.lock();
        if let Some(rx) = map.get(key) {
            return Join::Follower(Follower { rx: rx.clone() });
        }
        let (tx, rx) = watch::channel(State::Flying);
        map.insert(*key, rx);
        Join::Leader(Leader {
            map: self.map.clone(),
            key: *key,
            tx,
        })
    }

    /// How many keys have a request upstream.
    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    /// True when no request is upstream.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Leader {
    /// Hands the answer to the followers.
    pub fn land<T: Any + Send + Sync>(self, value: Arc<T>) {
        self.map.lock().remove(&self.key);
        self.tx.send_replace(State::Landed(value));
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        let mut map = self.map.lock();
        // Only this flight's entry: a landed flight was removed already, and a new leader
        // for the key may have started since.
        if map
            .get(&self.key)
            .is_some_and(|rx| rx.same_channel(&self.tx.subscribe()))
        {
            map.remove(&self.key);
        }
        drop(map);
        self.tx.send_if_modified(|s| {
            if matches!(s, State::Flying) {
                *s = State::Released;
                true
            } else {
                false
            }
        });
    }
}

impl Follower {
    /// The leader's answer (`Ok(None)`: it failed or went away; call upstream yourself), or
    /// this request's own cancellation or deadline while waiting.
    pub async fn wait<T: Any + Clone>(
        mut self,
        ctx: &RequestContext,
        provider: &str,
        model: &str,
    ) -> Result<Option<T>, Error> {
        let landed = async {
            match self.rx.wait_for(|s| !matches!(s, State::Flying)).await {
                Ok(s) => match &*s {
                    State::Landed(v) => v.downcast_ref::<T>().cloned(),
                    _ => None,
                },
                // The leader's sender is gone without a word: released.
                Err(_) => None,
            }
        };
        let waited = tokio::time::Instant::now();
        let deadline = async {
            match ctx.remaining() {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            v = landed => Ok(v),
            () = ctx.cancel.cancelled() => Err(Error::Cancelled),
            () = deadline => Err(Error::Timeout {
                provider: provider.to_owned(),
                model: model.to_owned(),
                phase: TimeoutPhase::Deadline,
                after: waited.elapsed(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use super::*;
    use crate::key::KeyKind;

    const K: CacheKey = CacheKey {
        kind: KeyKind::Chat,
        digest: [7; 32],
    };

    fn leader(j: Join) -> Leader {
        match j {
            Join::Leader(l) => l,
            Join::Follower(_) => panic!("expected to lead"),
        }
    }

    fn follower(j: Join) -> Follower {
        match j {
            Join::Follower(f) => f,
            Join::Leader(_) => panic!("expected to follow"),
        }
    }

    #[tokio::test]
    async fn followers_get_the_landed_answer_and_the_key_is_free_again() {
        let f = Flights::default();
        let l = leader(f.join(&K));
        let a = follower(f.join(&K));
        let b = follower(f.join(&K));
        assert_eq!(f.len(), 1);
        let ctx = RequestContext::new();
        let (ra, rb, ()) = tokio::join!(
            a.wait::<String>(&ctx, "p", "m"),
            b.wait::<String>(&ctx, "p", "m"),
            async {
                tokio::task::yield_now().await;
                l.land(Arc::new("answer".to_owned()));
            }
        );
        assert_eq!(ra.unwrap().as_deref(), Some("answer"));
        assert_eq!(rb.unwrap().as_deref(), Some("answer"));
        assert!(f.is_empty());
        leader(f.join(&K));
    }

    #[tokio::test]
    async fn a_leader_dropped_without_landing_releases_its_followers() {
        let f = Flights::default();
        let l = leader(f.join(&K));
        let a = follower(f.join(&K));
        drop(l);
        assert!(f.is_empty());
        let ctx = RequestContext::new();
        assert_eq!(a.wait::<String>(&ctx, "p", "m").await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_key_flies_again_after_landing_and_a_new_leader_releases_only_its_followers() {
        let f = Flights::default();
        let old = leader(f.join(&K));
        old.land(Arc::new(1u32));
        let new = leader(f.join(&K));
        let waiting = follower(f.join(&K));
        drop(new);
        let ctx = RequestContext::new();
        assert_eq!(waiting.wait::<u32>(&ctx, "p", "m").await.unwrap(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_follower_keeps_its_own_deadline_and_cancellation() {
        let f = Flights::default();
        let _l = leader(f.join(&K));
        let ctx = RequestContext::new().with_timeout(Duration::from_secs(2));
        let e = follower(f.join(&K))
            .wait::<String>(&ctx, "p", "m")
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                Error::Timeout {
                    phase: TimeoutPhase::Deadline,
                    ..
                }
            ),
            "{e}"
        );
        let ctx = RequestContext::new();
        ctx.cancel.cancel();
        let e = follower(f.join(&K))
            .wait::<String>(&ctx, "p", "m")
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Cancelled), "{e}");
    }
}
