//! Group commit for hits that must not wait for the database: an email's
//! pixel or redirect, a tracker's page view. A hit is answered as soon as it is
//! queued; one writer per lane takes what is waiting (up to a group) and
//! writes it in one transaction, so the hits that arrive while a transaction
//! commits go together into the next. A crash loses at most the hits queued in
//! the last moments. PostgreSQL takes several writers at once, so there hits go
//! to a few lanes (by a key, so that one key's hits stay in order); SQLite has
//! one writer.

use crate::db::dialect::Dialect;
use crate::db::Db;
use crate::error::{AppError, Result};
use crate::platform::registry::BoxFut;
use tokio::sync::{mpsc, oneshot};

/// Writes one group of hits in one transaction.
pub type Write<T> = for<'a> fn(&'a Db, &'a [T]) -> BoxFut<'a, Result<()>>;

enum Msg<T> {
    Hit(T),
    /// Answered once everything queued before it is committed.
    Barrier(oneshot::Sender<()>),
}

pub struct Group<T> {
    lanes: Vec<mpsc::Sender<Msg<T>>>,
}

impl<T: Send + 'static> Group<T> {
    /// Starts the writers: `group` hits per transaction at most, `4 × group`
    /// waiting per lane at most (a flood then waits, or is refused by [`Group::offer`]).
    pub fn start(db: &Db, what: &'static str, group: usize, write: Write<T>) -> Group<T> {
        let lanes = match db.dialect() {
            Dialect::Sqlite => 1,
            Dialect::Postgres => 4,
        };
        Group {
            lanes: (0..lanes).map(|_| lane(db.clone(), what, group, write)).collect(),
        }
    }

    fn lane(&self, key: i64) -> &mpsc::Sender<Msg<T>> {
        &self.lanes[key.rem_euclid(self.lanes.len() as i64) as usize]
    }

    /// Queues a hit, waiting while its lane is full.
    pub async fn send(&self, key: i64, hit: T) -> Result<()> {
        self.lane(key)
            .send(Msg::Hit(hit))
            .await
            .map_err(|_| AppError::internal("the hit writer stopped"))
    }

    /// Queues a hit unless its lane is full (`false`: dropped).
    pub fn offer(&self, key: i64, hit: T) -> bool {
        self.lane(key).try_send(Msg::Hit(hit)).is_ok()
    }

    /// Waits until every hit queued so far is committed (tests, shutdown).
    pub async fn settled(&self) {
        for lane in &self.lanes {
            let (done, wait) = oneshot::channel();
            if lane.send(Msg::Barrier(done)).await.is_ok() {
                let _ = wait.await;
            }
        }
    }
}

/// One writer: takes what is waiting (up to `size` hits) and commits it together.
fn lane<T: Send + 'static>(db: Db, what: &'static str, size: usize, write: Write<T>) -> mpsc::Sender<Msg<T>> {
    let (queue, mut rx) = mpsc::channel::<Msg<T>>(4 * size);
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let (mut group, mut barriers) = (Vec::new(), Vec::new());
            let mut next = Some(first);
            while let Some(m) = next.take() {
                match m {
                    Msg::Hit(p) => group.push(p),
                    Msg::Barrier(b) => barriers.push(b),
                }
                if group.len() < size {
                    next = rx.try_recv().ok();
                }
            }
            if !group.is_empty() {
                if let Err(e) = write(&db, &group).await {
                    tracing::error!(error = %e, hits = group.len(), "recording {what}");
                }
            }
            for b in barriers {
                let _ = b.send(());
            }
        }
    });
    queue
}
