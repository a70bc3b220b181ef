//! What the capabilities plug into the platform at start: job kinds and event
//! subscribers. The platform knows them only through this registry, so it
//! imports no feature module; `crate::registry()` (the composition root) lists
//! them all.
//!
//! A **job kind** is a type implementing [`JobKind`]: its name, its payload (a
//! serde type, versioned), whether it runs in the queue's transaction or alone,
//! how many may run at once across all workers and nodes, and its retry policy.
//!
//! An **event subscriber** reacts to the kinds of events it names: either in the
//! writing transaction (derived data that must stay exact: totals, facts, jobs
//! to queue), or later, from the queue, in the queue's transaction (rules,
//! scenarios, webhooks).

use super::events::{Event, EventKind, Watcher};
use crate::db::Tx;
use crate::error::{AppError, Result};
use crate::Carnet;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where a job's handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Writes only through the queue's transaction: a batch of such jobs and
    /// their completions commit together (group commit). The handler may run
    /// again in a transaction that rolls back, so it acts only through the database.
    InQueueTx,
    /// Opens transactions of its own; runs alone, between groups. Idempotent, or
    /// recording its effects under effect keys.
    Alone,
}

/// When a failed job runs again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts in all, the first included; then the job stays `failed`.
    pub max_attempts: i64,
    /// Seconds before the second attempt; doubled for each next one.
    pub first_delay_secs: i64,
    /// The longest wait between attempts.
    pub max_delay_secs: i64,
}

impl Retry {
    pub const DEFAULT: Retry = Retry {
        max_attempts: 8,
        first_delay_secs: 5,
        max_delay_secs: 3600,
    };

    /// Seconds to wait after `attempts` attempts: the first delay, doubled each time, capped.
    pub fn delay(&self, attempts: i64) -> i64 {
        let shift = (attempts - 1).clamp(0, 30) as u32;
        self.first_delay_secs.saturating_mul(1i64 << shift).min(self.max_delay_secs)
    }
}

/// A kind of background job. Implement it on a unit type and register the type
/// in `crate::registry()`.
pub trait JobKind: 'static {
    /// The name stored in `jobs.kind`; never change it once jobs were queued.
    const NAME: &'static str;
    /// The payload's version, stored with it. Bump it when the payload's shape
    /// changes: a job queued with another version fails visibly instead of
    /// being misread.
    const VERSION: u32 = 1;
    const MODE: Mode;
    /// How many jobs of this kind may run at once, over every worker and node.
    const CONCURRENCY: Option<i64> = None;
    const RETRY: Retry = Retry::DEFAULT;
    type Payload: Serialize + DeserializeOwned + Send + 'static;

    /// The handler of a [`Mode::InQueueTx`] kind.
    fn run_in(_tx: &mut Tx, _payload: Self::Payload) -> BoxFut<'_, Result<()>> {
        Box::pin(async {
            Err(AppError::internal(format!(
                "{} jobs do not run in the queue's transaction",
                Self::NAME
            )))
        })
    }

    /// The handler of a [`Mode::Alone`] kind.
    fn run_alone(_c: &Carnet, _payload: Self::Payload) -> BoxFut<'_, Result<()>> {
        Box::pin(async { Err(AppError::internal(format!("{} jobs run in the queue's transaction", Self::NAME))) })
    }
}

/// Why a job could not run at all (it is failed at once, not retried).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unrunnable {
    UnknownKind(String),
    BadPayload(String),
}

impl std::fmt::Display for Unrunnable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unrunnable::UnknownKind(k) => write!(f, "unknown job kind {k:?}: no handler is registered for it"),
            Unrunnable::BadPayload(e) => write!(f, "unreadable payload: {e}"),
        }
    }
}

/// A job's outcome: done, failed (retried by its policy), or not runnable.
pub enum Outcome {
    Failed(AppError),
    Unrunnable(Unrunnable),
}

impl From<AppError> for Outcome {
    fn from(e: AppError) -> Self {
        Outcome::Failed(e)
    }
}

type RunIn = for<'a> fn(&'a mut Tx, &'a str) -> BoxFut<'a, Result<(), Outcome>>;
type RunAlone = for<'a> fn(&'a Carnet, &'a str) -> BoxFut<'a, Result<(), Outcome>>;

/// A registered kind, its type erased.
#[derive(Clone)]
pub struct KindInfo {
    pub name: &'static str,
    pub version: u32,
    pub mode: Mode,
    pub concurrency: Option<i64>,
    pub retry: Retry,
    run_in: RunIn,
    run_alone: RunAlone,
}

/// Encodes a payload with its version: the payload's fields and `"v"`.
pub fn encode<K: JobKind>(payload: &K::Payload) -> Result<String> {
    let mut value = serde_json::to_value(payload).map_err(AppError::internal)?;
    match value.as_object_mut() {
        Some(map) => {
            map.insert("v".into(), K::VERSION.into());
        }
        None => return Err(AppError::internal(format!("{} payloads must be JSON objects", K::NAME))),
    }
    Ok(value.to_string())
}

/// Decodes a payload written by [`encode`]. A payload without `"v"` is version 1
/// (jobs queued before payloads carried versions).
pub fn decode<K: JobKind>(raw: &str) -> Result<K::Payload, Unrunnable> {
    let mut value: serde_json::Value = serde_json::from_str(raw).map_err(|e| Unrunnable::BadPayload(e.to_string()))?;
    let version = value.get("v").and_then(|v| v.as_u64()).unwrap_or(1);
    if version != K::VERSION as u64 {
        return Err(Unrunnable::BadPayload(format!(
            "{} payload of version {version}; this build reads version {}",
            K::NAME,
            K::VERSION
        )));
    }
    if let Some(map) = value.as_object_mut() {
        map.remove("v");
    }
    serde_json::from_value(value).map_err(|e| Unrunnable::BadPayload(e.to_string()))
}

fn run_in_erased<'a, K: JobKind>(tx: &'a mut Tx, raw: &'a str) -> BoxFut<'a, Result<(), Outcome>> {
    Box::pin(async move {
        let payload = decode::<K>(raw).map_err(Outcome::Unrunnable)?;
        K::run_in(tx, payload).await.map_err(Outcome::Failed)
    })
}

fn run_alone_erased<'a, K: JobKind>(c: &'a Carnet, raw: &'a str) -> BoxFut<'a, Result<(), Outcome>> {
    Box::pin(async move {
        let payload = decode::<K>(raw).map_err(Outcome::Unrunnable)?;
        K::run_alone(c, payload).await.map_err(Outcome::Failed)
    })
}

/// A subscriber's handler: it sees the event in a transaction (the writer's,
/// or the queue's for [`Delivery::Queued`]).
pub type OnEvent = for<'a> fn(&'a mut Tx, &'a Event) -> BoxFut<'a, Result<()>>;

/// When a subscriber sees an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// In the transaction that records the event, before it commits: for
    /// derived data that must stay exact (an error rolls the change back).
    InWriterTx,
    /// Later, from the job queue, in the queue's transaction: for reactions
    /// (follow-up rules, scenarios, webhooks). At least once; use effect keys.
    Queued,
}

#[derive(Clone)]
pub struct Subscriber {
    pub name: &'static str,
    pub kinds: &'static [EventKind],
    pub delivery: Delivery,
    pub run: OnEvent,
}

/// Job kinds and event subscribers, built once at start.
#[derive(Clone, Default)]
pub struct Registry {
    kinds: HashMap<&'static str, KindInfo>,
    subscribers: Vec<Subscriber>,
    watchers: Vec<Watcher>,
    daily: Vec<DailyTask>,
}

/// A capability's daily work: queues that day's jobs in the daily job's transaction.
pub type DailyTask = for<'a> fn(&'a mut Tx, chrono::NaiveDate) -> BoxFut<'a, Result<()>>;

impl Registry {
    /// Registers a job kind. Panics on a second kind of the same name: a
    /// programming error found at start, not at run time.
    pub fn job<K: JobKind>(mut self) -> Self {
        let info = KindInfo {
            name: K::NAME,
            version: K::VERSION,
            mode: K::MODE,
            concurrency: K::CONCURRENCY,
            retry: K::RETRY,
            run_in: run_in_erased::<K>,
            run_alone: run_alone_erased::<K>,
        };
        assert!(self.kinds.insert(K::NAME, info).is_none(), "job kind {} registered twice", K::NAME);
        self
    }

    pub fn subscribe(mut self, s: Subscriber) -> Self {
        self.subscribers.push(s);
        self
    }

    /// Adds a watcher; the watchers of an entity settle in the order they were added.
    pub fn watch(mut self, w: Watcher) -> Self {
        self.watchers.push(w);
        self
    }

    /// Adds a task to the daily job (see `jobs::Daily`).
    pub fn daily(mut self, task: DailyTask) -> Self {
        self.daily.push(task);
        self
    }

    pub fn daily_tasks(&self) -> &[DailyTask] {
        &self.daily
    }

    pub fn watchers<'a>(&'a self, entity: &'a str) -> impl Iterator<Item = &'a Watcher> + 'a {
        self.watchers.iter().filter(move |w| w.entity == entity)
    }

    pub fn kind(&self, name: &str) -> Option<&KindInfo> {
        self.kinds.get(name)
    }

    /// Kinds with a concurrency limit, by name.
    pub fn limited(&self) -> Vec<(&'static str, i64)> {
        let mut v: Vec<_> = self.kinds.values().filter_map(|k| k.concurrency.map(|n| (k.name, n))).collect();
        v.sort();
        v
    }

    /// The subscribers of one kind of event, delivered one way.
    pub fn subscribers(&self, kind: EventKind, delivery: Delivery) -> impl Iterator<Item = &Subscriber> {
        self.subscribers
            .iter()
            .filter(move |s| s.delivery == delivery && s.kinds.contains(&kind))
    }

    /// Runs a job in the queue's transaction.
    pub async fn run_in(&self, tx: &mut Tx, kind: &str, payload: &str) -> Result<(), Outcome> {
        let info = self
            .kind(kind)
            .ok_or_else(|| Outcome::Unrunnable(Unrunnable::UnknownKind(kind.into())))?;
        (info.run_in)(tx, payload).await
    }

    /// Runs a job that commits on its own.
    pub async fn run_alone(&self, c: &Carnet, kind: &str, payload: &str) -> Result<(), Outcome> {
        let info = self
            .kind(kind)
            .ok_or_else(|| Outcome::Unrunnable(Unrunnable::UnknownKind(kind.into())))?;
        (info.run_alone)(c, payload).await
    }

    /// Whether a kind runs in the queue's transaction (unknown kinds run alone:
    /// they only fail).
    pub fn runs_in_queue_tx(&self, kind: &str) -> bool {
        self.kind(kind).is_some_and(|k| k.mode == Mode::InQueueTx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Ping;
    #[derive(Serialize, serde::Deserialize, Debug, PartialEq)]
    struct PingPayload {
        id: i64,
        note: String,
    }
    impl JobKind for Ping {
        const NAME: &'static str = "ping";
        const VERSION: u32 = 2;
        const MODE: Mode = Mode::InQueueTx;
        type Payload = PingPayload;
    }

    #[test]
    fn a_payload_round_trips_with_its_version() {
        let p = PingPayload {
            id: 7,
            note: "é \"x\"".into(),
        };
        let raw = encode::<Ping>(&p).unwrap();
        assert!(raw.contains("\"v\":2"), "{raw}");
        assert_eq!(decode::<Ping>(&raw).unwrap(), p);
    }

    #[test]
    fn another_version_or_shape_is_refused_with_its_reason() {
        let e = decode::<Ping>(r#"{"v": 1, "id": 7, "note": ""}"#).unwrap_err();
        assert!(e.to_string().contains("version 1"), "{e}");
        // No version: version 1, also refused here.
        assert!(decode::<Ping>(r#"{"id": 7, "note": ""}"#).is_err());
        let e = decode::<Ping>(r#"{"v": 2, "id": "seven", "note": ""}"#).unwrap_err();
        assert!(matches!(e, Unrunnable::BadPayload(_)), "{e}");
        assert!(decode::<Ping>("not json").is_err());
    }

    #[test]
    fn retry_delays_double_up_to_the_cap() {
        let r = Retry::DEFAULT;
        let d: Vec<i64> = (1..=12).map(|n| r.delay(n)).collect();
        assert_eq!(&d[..5], &[5, 10, 20, 40, 80]);
        assert_eq!(d[11], 3600);
        assert_eq!(r.delay(i64::MAX), 3600);
    }

    #[test]
    #[should_panic(expected = "registered twice")]
    fn a_kind_registered_twice_is_refused_at_start() {
        let _ = Registry::default().job::<Ping>().job::<Ping>();
    }
}
