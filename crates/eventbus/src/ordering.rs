//! Handling a batch of events concurrently without reordering what must stay in order.
//!
//! Handlers care about the order of events that concern the same identity or relationship (a
//! message must be recorded before the relationship change that unblocks its delivery; one
//! identity's external events are numbered in order). Each event's *keys* are the identity
//! addresses and relationship IDs its payload mentions; an event waits for the latest earlier
//! event of the batch with which it shares a key, and runs beside all others. Events that
//! mention neither are keyed by their type.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use futures::future::{join_all, BoxFuture, FutureExt, Shared};
use tokio::sync::Semaphore;

use crate::{Event, EventBus};

/// What became of one event of a batch.
#[derive(Debug, Clone)]
pub enum Outcome {
    Published,
    Failed(Arc<anyhow::Error>),
    /// Not offered: an earlier event it must follow failed.
    Held,
}

/// Publishes `events` (in outbox order) with at most `max_concurrent` in flight; returns one
/// outcome per event, in the same order.
pub async fn publish_in_order(bus: &dyn EventBus, events: &[&Event], max_concurrent: usize) -> Vec<Outcome> {
    let predecessors = predecessors(events);
    let permits = Semaphore::new(max_concurrent.max(1));
    let mut runs: Vec<Shared<BoxFuture<'_, Outcome>>> = Vec::with_capacity(events.len());
    for (event, before) in events.iter().zip(&predecessors) {
        let waits: Vec<_> = before.iter().map(|&i| runs[i].clone()).collect();
        let permits = &permits;
        let run = async move {
            let earlier = join_all(waits).await;
            if !earlier
                .iter()
                .all(|outcome| matches!(outcome, Outcome::Published))
            {
                return Outcome::Held;
            }
            let _permit = permits.acquire().await.expect("the semaphore is never closed");
            match bus.publish(event).await {
                Ok(()) => Outcome::Published,
                Err(error) => Outcome::Failed(Arc::new(error)),
            }
        }
        .boxed()
        .shared();
        runs.push(run);
    }
    join_all(runs).await
}

/// For each event, the indices of the earlier events it must wait for: per key, the latest.
fn predecessors(events: &[&Event]) -> Vec<Vec<usize>> {
    let mut latest: HashMap<String, usize> = HashMap::new();
    events
        .iter()
        .enumerate()
        .map(|(index, event)| {
            let mut before: Vec<usize> = ordering_keys(event)
                .into_iter()
                .filter_map(|key| latest.insert(key, index))
                .collect();
            before.sort_unstable();
            before.dedup();
            before
        })
        .collect()
}

/// The identity addresses and relationship IDs an event's payload mentions anywhere (its
/// type when it mentions neither): events that share one must be handled in order.
pub fn ordering_keys(event: &Event) -> Vec<String> {
    fn collect(value: &serde_json::Value, keys: &mut Vec<String>) {
        match value {
            serde_json::Value::String(text) if is_key(text) => keys.push(text.clone()),
            serde_json::Value::Array(items) => items.iter().for_each(|item| collect(item, keys)),
            serde_json::Value::Object(map) => map.values().for_each(|inner| collect(inner, keys)),
            _ => {}
        }
    }
    let mut keys = Vec::new();
    collect(&event.payload, &mut keys);
    // A payload may name the same identity twice; the event must not wait for itself.
    keys.sort_unstable();
    keys.dedup();
    if keys.is_empty() {
        keys.push(format!("type:{}", event.event_type));
    }
    keys
}

/// Keeps the order of work about the same keys while it streams in (a broker's deliveries):
/// each piece waits for the latest earlier piece that shares a key with it, and runs beside
/// everything else. The streaming counterpart of [`publish_in_order`].
#[derive(Default)]
pub struct KeyedSequencer {
    tails: Mutex<HashMap<String, Shared<BoxFuture<'static, ()>>>>,
}

impl KeyedSequencer {
    /// `work`, to run after the work scheduled earlier for any of `keys`; the caller spawns
    /// it. Call in arrival order.
    pub fn schedule(
        &self,
        keys: Vec<String>,
        work: impl Future<Output = ()> + Send + 'static,
    ) -> impl Future<Output = ()> + Send + 'static {
        let mut tails = self
            .tails
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Finished work holds nobody back: forget it, so the map stays small.
        tails.retain(|_, tail| tail.peek().is_none());
        let earlier: Vec<_> = keys.iter().filter_map(|key| tails.get(key).cloned()).collect();
        let run = async move {
            join_all(earlier).await;
            work.await;
        }
        .boxed()
        .shared();
        for key in keys {
            tails.insert(key, run.clone());
        }
        run
    }
}

fn is_key(text: &str) -> bool {
    text.starts_with("did:e:") || backbone_core::ids::is_valid_id("REL", text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(id: &str, payload: serde_json::Value) -> Event {
        Event {
            id: id.into(),
            event_type: "Test".into(),
            payload,
            created_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn events_wait_for_the_latest_earlier_one_sharing_a_key() {
        let events = [
            event("1", json!({ "A": "did:e:x:dids:a" })),
            event("2", json!({ "B": "did:e:x:dids:b" })),
            event("3", json!({ "Both": ["did:e:x:dids:a", "did:e:x:dids:b"] })),
            event("4", json!({ "A": "did:e:x:dids:a" })),
            event("5", json!({ "Nothing": 1 })),
            event("6", json!({ "Nothing": 2 })),
            event(
                "7",
                json!({ "Twice": "did:e:x:dids:b", "Again": "did:e:x:dids:b" }),
            ),
        ];
        let refs: Vec<&Event> = events.iter().collect();
        assert_eq!(
            predecessors(&refs),
            vec![vec![], vec![], vec![0, 1], vec![2], vec![], vec![4], vec![2]]
        );
    }

    #[test]
    fn typed_events_are_keyed_by_the_identities_and_relationships_they_name() {
        use backbone_core::events::relationships::RelationshipStatusChanged;
        use backbone_core::events::DomainEvent;
        use backbone_core::ids::RelationshipId;
        use backbone_core::status::RelationshipStatus;
        use backbone_core::IdentityAddress;

        let (a, b) = (
            IdentityAddress::derive(&[1; 32], "localhost"),
            IdentityAddress::derive(&[2; 32], "localhost"),
        );
        let relationship = RelationshipId::generate();
        let published = DomainEvent::from_event(&RelationshipStatusChanged {
            relationship_id: relationship.clone(),
            new_status: RelationshipStatus::Active,
            initiator: a.clone(),
            peer: b.clone(),
            was_due_to_identity_deletion: false,
        });
        let mut expected = vec![a.to_string(), b.to_string(), relationship.to_string()];
        expected.sort_unstable();
        assert_eq!(ordering_keys(&event("1", published.payload)), expected);
    }

    /// Fails the events whose ID is in `failing`; records the order of the others.
    struct Recorder {
        failing: &'static [&'static str],
        seen: std::sync::Mutex<Vec<String>>,
    }

    #[async_trait::async_trait]
    impl EventBus for Recorder {
        async fn publish(&self, event: &Event) -> anyhow::Result<()> {
            tokio::task::yield_now().await;
            if self.failing.contains(&event.id.as_str()) {
                anyhow::bail!("handler failed");
            }
            self.seen.lock().unwrap().push(event.id.clone());
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_failure_holds_back_only_what_must_follow_it() {
        let events = [
            event("1", json!({ "A": "did:e:x:dids:a" })),
            event("2", json!({ "B": "did:e:x:dids:b" })),
            event("3", json!({ "A": "did:e:x:dids:a" })),
            event("4", json!({ "B": "did:e:x:dids:b" })),
        ];
        let refs: Vec<&Event> = events.iter().collect();
        let bus = Recorder {
            failing: &["1"],
            seen: Mutex::default(),
        };
        let outcomes = publish_in_order(&bus, &refs, 4).await;
        let kinds: Vec<&str> = outcomes
            .iter()
            .map(|o| match o {
                Outcome::Published => "published",
                Outcome::Failed(_) => "failed",
                Outcome::Held => "held",
            })
            .collect();
        assert_eq!(kinds, ["failed", "published", "held", "published"]);
        assert_eq!(*bus.seen.lock().unwrap(), ["2", "4"]);
    }

    #[tokio::test]
    async fn the_sequencer_keeps_the_order_of_work_sharing_a_key() {
        let sequencer = KeyedSequencer::default();
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (release_first, first_may_finish) = tokio::sync::oneshot::channel::<()>();
        let record = |name: &'static str| {
            let seen = seen.clone();
            move || seen.lock().unwrap().push(name)
        };
        let first = {
            let done = record("a1");
            sequencer.schedule(vec!["a".into()], async move {
                first_may_finish.await.unwrap();
                done();
            })
        };
        let second = {
            let done = record("a2");
            sequencer.schedule(vec!["a".into(), "b".into()], async move { done() })
        };
        let other = {
            let done = record("c");
            sequencer.schedule(vec!["c".into()], async move { done() })
        };
        let (second, other) = (tokio::spawn(second), tokio::spawn(other));
        other.await.unwrap();
        assert_eq!(*seen.lock().unwrap(), ["c"], "unrelated work does not wait");
        let first = tokio::spawn(first);
        release_first.send(()).unwrap();
        first.await.unwrap();
        second.await.unwrap();
        assert_eq!(*seen.lock().unwrap(), ["c", "a1", "a2"]);
    }
}
