//! The event bus: every event reaches every subscriber, in order.
//!
//! The consumers of events act on what they read: the history records it,
//! the alert engine fires on a `crash-loop`, the automatic diagnosis starts
//! on one, the metrics count them. A bus that drops events for a subscriber
//! that fell behind (as a `broadcast` channel does when it lags) means a
//! crash loop with no alert and no diagnosis. So each subscriber has a
//! queue of its own that the publisher never waits on, bounded only to
//! survive a subscriber that stopped reading altogether: beyond
//! [`SUBSCRIBER_LIMIT`] events waiting, that subscriber's events are
//! counted as lost, and it receives an [`EventKind::EventsLost`] event saying how many once
//! it reads again.
//!
//! Every message passes through the redactor (when one is set) as it is
//! published: what the history, the API, alerts and `daemon.log` show is
//! redacted once, at the source.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::mpsc;

use crate::{Event, EventKind};

/// Events that may wait for one subscriber before its events are lost.
pub const SUBSCRIBER_LIMIT: usize = 16_384;

/// Masks secrets in an outward text.
pub type Redact = Arc<dyn Fn(&str) -> String + Send + Sync>;

struct Queue {
    tx: mpsc::UnboundedSender<Event>,
    waiting: Arc<AtomicUsize>,
    lost: Arc<AtomicU64>,
}

#[derive(Default)]
struct Inner {
    queues: Mutex<Vec<Queue>>,
    redact: RwLock<Option<Redact>>,
}

/// The publishing side; cheap to clone.
#[derive(Clone, Default)]
pub struct EventBus {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for EventBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventBus").finish_non_exhaustive()
    }
}

impl EventBus {
    /// A bus with no subscriber and no redactor.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets (or replaces, after a reload) how messages are redacted.
    pub fn set_redact(&self, redact: Redact) {
        *self
            .inner
            .redact
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(redact);
    }

    /// Redacts `text` with the current redactor.
    pub fn redact(&self, text: &str) -> String {
        let redact = self
            .inner
            .redact
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        match redact {
            Some(r) => r(text),
            None => text.to_string(),
        }
    }

    /// Sends `event`, redacted, to every subscriber. Never waits.
    pub fn publish(&self, mut event: Event) {
        event.message = self.redact(&event.message);
        let mut queues = self
            .inner
            .queues
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        queues.retain(|q| {
            if q.waiting.load(Ordering::Acquire) >= SUBSCRIBER_LIMIT {
                q.lost.fetch_add(1, Ordering::AcqRel);
                return !q.tx.is_closed();
            }
            q.waiting.fetch_add(1, Ordering::AcqRel);
            q.tx.send(event.clone()).is_ok()
        });
    }

    /// A new subscriber: it receives every event published from now on.
    pub fn subscribe(&self) -> Subscription {
        let (tx, rx) = mpsc::unbounded_channel();
        let waiting = Arc::new(AtomicUsize::new(0));
        let lost = Arc::new(AtomicU64::new(0));
        self.inner
            .queues
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(Queue {
                tx,
                waiting: waiting.clone(),
                lost: lost.clone(),
            });
        Subscription { rx, waiting, lost }
    }
}

/// One subscriber's queue.
pub struct Subscription {
    rx: mpsc::UnboundedReceiver<Event>,
    waiting: Arc<AtomicUsize>,
    lost: Arc<AtomicU64>,
}

impl Subscription {
    /// The next event; `None` once every publisher is gone.
    pub async fn recv(&mut self) -> Option<Event> {
        if let Some(event) = self.try_recv() {
            return Some(event);
        }
        let event = self.rx.recv().await?;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        Some(event)
    }

    /// The next event, blocking the thread (for subscribers that are threads).
    pub fn blocking_recv(&mut self) -> Option<Event> {
        if let Some(event) = self.try_recv() {
            return Some(event);
        }
        let event = self.rx.blocking_recv()?;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        Some(event)
    }

    /// The next event if one is waiting. Lost events are reported after
    /// the ones that were kept, where they happened.
    pub fn try_recv(&mut self) -> Option<Event> {
        match self.rx.try_recv() {
            Ok(event) => {
                self.waiting.fetch_sub(1, Ordering::AcqRel);
                Some(event)
            }
            Err(_) => self.take_lost(),
        }
    }

    fn take_lost(&self) -> Option<Event> {
        let n = self.lost.swap(0, Ordering::AcqRel);
        (n > 0).then(|| {
            Event::now(
                None,
                EventKind::EventsLost,
                format!(
                    "{n} events were lost here: this reader was {SUBSCRIBER_LIMIT} events behind"
                ),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: usize) -> Event {
        Event::now(
            None,
            EventKind::State,
            format!("event {n} password=hunter2"),
        )
    }

    #[test]
    fn a_slow_subscriber_gets_every_event_in_order() {
        let bus = EventBus::new();
        let mut slow = bus.subscribe();
        let mut fast = bus.subscribe();
        for n in 0..10_000 {
            bus.publish(event(n));
            assert_eq!(fast.try_recv().unwrap().message, event(n).message);
        }
        for n in 0..10_000 {
            assert_eq!(slow.try_recv().unwrap().message, event(n).message);
        }
        assert!(slow.try_recv().is_none());
    }

    #[test]
    fn a_stuck_subscriber_loses_only_beyond_the_limit_and_is_told() {
        let bus = EventBus::new();
        let mut stuck = bus.subscribe();
        for n in 0..SUBSCRIBER_LIMIT + 5 {
            bus.publish(event(n));
        }
        for n in 0..SUBSCRIBER_LIMIT {
            assert_eq!(stuck.try_recv().unwrap().message, event(n).message);
        }
        let lost = stuck.try_recv().unwrap();
        assert_eq!(lost.kind, EventKind::EventsLost);
        assert!(lost.message.starts_with("5 events were lost"), "{lost:?}");
        assert!(stuck.try_recv().is_none());
    }

    #[test]
    fn messages_are_redacted_as_published() {
        let bus = EventBus::new();
        let mut sub = bus.subscribe();
        bus.set_redact(Arc::new(|s: &str| s.replace("hunter2", "***")));
        bus.publish(event(1));
        assert_eq!(sub.try_recv().unwrap().message, "event 1 password=***");
    }

    #[test]
    fn a_dropped_subscriber_is_forgotten() {
        let bus = EventBus::new();
        drop(bus.subscribe());
        bus.publish(event(1));
        assert!(bus.inner.queues.lock().unwrap().is_empty());
    }
}
