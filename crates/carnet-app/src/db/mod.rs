//! One query code path over SQLite and PostgreSQL (STYLE lesson 4).
//!
//! Every query is written once, with `$1` placeholders (both databases accept
//! them), and values bound through [`Value`], whose variants carry their SQL type
//! even when null (PostgreSQL needs typed nulls). Rows decode into structs that
//! derive `sqlx::FromRow`, which works for both row types. Dialect differences —
//! schema details, bulk loading — live in [`dialect`] and nowhere else.
//!
//! On SQLite, writes go through a one-connection pool: SQLite has one writer, and
//! queueing writers in-process avoids "database is locked" under concurrency.

pub mod dialect;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions, PgRow};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous};
use sqlx::{FromRow, PgPool, Postgres, Sqlite, SqlitePool};
use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::platform::registry::Registry;
pub use carnet_domain::time::Clock;

pub use dialect::Dialect;

/// The database, and what every writer shares with it: the application's
/// clock and the registry of event subscribers and job kinds (installed at
/// start by [`crate::Carnet::open`]).
#[derive(Clone)]
pub struct Db {
    pools: Pools,
    shared: Arc<Shared>,
}

#[derive(Clone)]
enum Pools {
    Sqlite { read: SqlitePool, write: SqlitePool },
    Postgres(PgPool),
}

/// What a database handle carries besides its connections.
#[derive(Default)]
pub struct Shared {
    pub clock: Clock,
    registry: OnceLock<Arc<Registry>>,
    /// The settings catalogue and the version it was read at (see `settings::catalog`).
    pub catalog: std::sync::Mutex<Option<(i64, Arc<carnet_domain::records::Catalog>)>>,
    /// Where people reach this installation and the key it signs links with
    /// (set at start, see `platform::signing`).
    pub site: OnceLock<Arc<crate::platform::signing::Site>>,
}

impl Shared {
    /// The registry installed at start, or an empty one (a database opened
    /// without the application, e.g. to create a test database).
    pub fn registry(&self) -> Arc<Registry> {
        static EMPTY: OnceLock<Arc<Registry>> = OnceLock::new();
        self.registry.get().unwrap_or_else(|| EMPTY.get_or_init(Default::default)).clone()
    }
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Db({:?})", self.dialect())
    }
}

impl Db {
    /// Opens a database by URL: `postgres://…`, `sqlite:path[?options]`, or a plain file path.
    pub async fn connect(url: &str) -> Result<Db, sqlx::Error> {
        let shared = Arc::new(Shared::default());
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(opts)
                .await?;
            return Ok(Db {
                pools: Pools::Postgres(pool),
                shared,
            });
        }
        // A `sqlite:` URL keeps its query string as options (`?mode=ro`), not as
        // part of the file name; a plain path is a file name.
        let opts = if url.starts_with("sqlite:") {
            let o = SqliteConnectOptions::from_str(url)?;
            if url.contains("mode=") {
                o
            } else {
                o.create_if_missing(true)
            }
        } else {
            SqliteConnectOptions::new().filename(url).create_if_missing(true)
        };
        let opts = opts
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("cache_size", "-65536")
            .pragma("temp_store", "memory");
        let write = SqlitePoolOptions::new().max_connections(1).connect_with(opts.clone()).await?;
        let read = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(opts.read_only(false))
            .await?;
        Ok(Db {
            pools: Pools::Sqlite { read, write },
            shared,
        })
    }

    pub fn dialect(&self) -> Dialect {
        match self.pools {
            Pools::Sqlite { .. } => Dialect::Sqlite,
            Pools::Postgres(_) => Dialect::Postgres,
        }
    }

    /// The application's clock.
    pub fn clock(&self) -> &Clock {
        &self.shared.clock
    }

    /// Now, in seconds, by the application's clock.
    pub fn now(&self) -> i64 {
        self.shared.clock.now()
    }

    pub fn registry(&self) -> Arc<Registry> {
        self.shared.registry()
    }

    /// What this database handle shares with its connections and transactions.
    pub fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Installs the event subscribers and job kinds (once; later calls keep the first).
    pub fn install(&self, registry: Arc<Registry>) {
        let _ = self.shared.registry.set(registry);
    }

    /// A pooled connection for reads.
    pub async fn conn(&self) -> Result<Conn, sqlx::Error> {
        let raw = match &self.pools {
            Pools::Sqlite { read, .. } => ConnInner::Sqlite(read.acquire().await?),
            Pools::Postgres(p) => ConnInner::Postgres(p.acquire().await?),
        };
        Ok(Conn {
            raw,
            shared: self.shared.clone(),
        })
    }

    /// A write transaction. Commit it, or it rolls back when dropped.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        let raw = match &self.pools {
            Pools::Sqlite { write, .. } => TxInner::Sqlite(write.begin().await?),
            Pools::Postgres(p) => TxInner::Postgres(p.begin().await?),
        };
        Ok(Tx {
            raw,
            shared: self.shared.clone(),
        })
    }

    pub async fn close(&self) {
        match &self.pools {
            Pools::Sqlite { read, write } => {
                read.close().await;
                write.close().await;
            }
            Pools::Postgres(p) => p.close().await,
        }
    }
}

pub struct Conn {
    raw: ConnInner,
    shared: Arc<Shared>,
}

impl Conn {
    /// Now, in seconds, by the application's clock.
    pub fn now(&self) -> i64 {
        self.shared.clock.now()
    }
}

enum ConnInner {
    Sqlite(PoolConnection<Sqlite>),
    Postgres(PoolConnection<Postgres>),
}

pub struct Tx {
    raw: TxInner,
    shared: Arc<Shared>,
}

enum TxInner {
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    Postgres(sqlx::Transaction<'static, Postgres>),
}

impl Tx {
    /// Now, in seconds, by the application's clock.
    pub fn now(&self) -> i64 {
        self.shared.clock.now()
    }

    pub fn shared(&self) -> &Shared {
        &self.shared
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self.raw {
            TxInner::Sqlite(t) => t.commit().await,
            TxInner::Postgres(t) => t.commit().await,
        }
    }
}

/// A borrowed connection of either kind: what queries run on.
pub enum Raw<'c> {
    Sqlite(&'c mut SqliteConnection),
    Postgres(&'c mut PgConnection),
}

/// Anything a query can run on: a pooled connection or a transaction.
pub trait Handle: Send {
    fn raw(&mut self) -> Raw<'_>;
    /// The clock and registry of the database this handle belongs to.
    fn shared(&self) -> &Shared;
    /// Now, in seconds, by the application's clock.
    fn now(&self) -> i64 {
        self.shared().clock.now()
    }
    fn dialect(&mut self) -> Dialect {
        match self.raw() {
            Raw::Sqlite(_) => Dialect::Sqlite,
            Raw::Postgres(_) => Dialect::Postgres,
        }
    }
}

impl Handle for Conn {
    fn raw(&mut self) -> Raw<'_> {
        match &mut self.raw {
            ConnInner::Sqlite(c) => Raw::Sqlite(&mut *c),
            ConnInner::Postgres(c) => Raw::Postgres(&mut *c),
        }
    }
    fn shared(&self) -> &Shared {
        &self.shared
    }
}

impl Handle for Tx {
    fn raw(&mut self) -> Raw<'_> {
        match &mut self.raw {
            TxInner::Sqlite(t) => Raw::Sqlite(&mut *t),
            TxInner::Postgres(t) => Raw::Postgres(&mut *t),
        }
    }
    fn shared(&self) -> &Shared {
        &self.shared
    }
}

/// A bound value. Nulls keep their type.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(Option<i64>),
    Float(Option<f64>),
    Text(Option<String>),
    Bool(Option<bool>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(Some(v))
    }
}
impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Self {
        Value::Int(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(Some(v))
    }
}
impl From<Option<f64>> for Value {
    fn from(v: Option<f64>) -> Self {
        Value::Float(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(Some(v))
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(Some(v))
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(Some(v.clone()))
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(Some(v.to_string()))
    }
}
impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        Value::Text(v)
    }
}
impl From<Option<&str>> for Value {
    fn from(v: Option<&str>) -> Self {
        Value::Text(v.map(str::to_string))
    }
}

/// A row type readable from both databases.
pub trait Rec: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}
impl<T> Rec for T where T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}

/// A query and its arguments.
#[derive(Debug, Clone, Default)]
pub struct Q {
    pub sql: String,
    pub args: Vec<Value>,
}

pub fn q(sql: impl Into<String>) -> Q {
    Q {
        sql: sql.into(),
        args: Vec::new(),
    }
}

macro_rules! bind_all {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for a in $args {
            query = match a {
                Value::Int(v) => query.bind(v),
                Value::Float(v) => query.bind(v),
                Value::Text(v) => query.bind(v),
                Value::Bool(v) => query.bind(v),
            };
        }
        query
    }};
}

/// Statements with more arguments than this are sent to SQLite with
/// anonymous `?` placeholders when they allow it (see [`sqlite_sql`]).
const MANY_ARGS: usize = 64;

/// The statement as SQLite gets it. SQLite looks each named `$n` up by a
/// linear scan (when parsing, and again when binding), which makes a
/// statement with thousands of them quadratic; a large statement whose
/// placeholders are `$1`, `$2`, … once each and in order (an `IN` list, a
/// multi-row `VALUES`) is sent with `?` instead, which binds the same.
fn sqlite_sql(sql: &str, args: usize) -> std::borrow::Cow<'_, str> {
    if args <= MANY_ARGS {
        return std::borrow::Cow::Borrowed(sql);
    }
    anonymous(sql, args).map_or(std::borrow::Cow::Borrowed(sql), std::borrow::Cow::Owned)
}

impl Q {
    pub fn bind(mut self, v: impl Into<Value>) -> Self {
        self.args.push(v.into());
        self
    }

    /// Appends SQL text.
    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends the next placeholder (`$n`) and binds its value.
    pub fn push_bind(&mut self, v: impl Into<Value>) -> &mut Self {
        self.args.push(v.into());
        let n = self.args.len();
        self.sql.push('$');
        self.sql.push_str(&n.to_string());
        self
    }

    pub async fn execute(self, h: &mut impl Handle) -> Result<u64, sqlx::Error> {
        Ok(match h.raw() {
            Raw::Sqlite(c) => {
                let sql = sqlite_sql(&self.sql, self.args.len());
                bind_all!(sqlx::query(&sql), self.args).execute(c).await?.rows_affected()
            }
            Raw::Postgres(c) => bind_all!(sqlx::query(&self.sql), self.args).execute(c).await?.rows_affected(),
        })
    }

    pub async fn fetch_all<T: Rec>(self, h: &mut impl Handle) -> Result<Vec<T>, sqlx::Error> {
        match h.raw() {
            Raw::Sqlite(c) => {
                let sql = sqlite_sql(&self.sql, self.args.len());
                bind_all!(sqlx::query_as::<_, T>(&sql), self.args).fetch_all(c).await
            }
            Raw::Postgres(c) => bind_all!(sqlx::query_as::<_, T>(&self.sql), self.args).fetch_all(c).await,
        }
    }

    pub async fn fetch_optional<T: Rec>(self, h: &mut impl Handle) -> Result<Option<T>, sqlx::Error> {
        match h.raw() {
            Raw::Sqlite(c) => {
                let sql = sqlite_sql(&self.sql, self.args.len());
                bind_all!(sqlx::query_as::<_, T>(&sql), self.args).fetch_optional(c).await
            }
            Raw::Postgres(c) => bind_all!(sqlx::query_as::<_, T>(&self.sql), self.args).fetch_optional(c).await,
        }
    }

    pub async fn fetch_one<T: Rec>(self, h: &mut impl Handle) -> Result<T, sqlx::Error> {
        self.fetch_optional(h).await?.ok_or(sqlx::Error::RowNotFound)
    }

    /// The first column of the first row.
    pub async fn scalar<T>(self, h: &mut impl Handle) -> Result<T, sqlx::Error>
    where
        (T,): Rec,
    {
        Ok(self.fetch_one::<(T,)>(h).await?.0)
    }

    pub async fn scalar_opt<T>(self, h: &mut impl Handle) -> Result<Option<T>, sqlx::Error>
    where
        (T,): Rec,
    {
        Ok(self.fetch_optional::<(T,)>(h).await?.map(|r| r.0))
    }

    /// Runs an `INSERT … RETURNING id`.
    pub async fn insert_id(self, h: &mut impl Handle) -> Result<i64, sqlx::Error> {
        self.scalar::<i64>(h).await
    }
}

/// `sql` with `$1` … `$n` replaced by `?`, if they appear once each and in
/// order (and no other `$` followed by a digit does); `None` otherwise.
fn anonymous(sql: &str, n: usize) -> Option<String> {
    let mut out = String::with_capacity(sql.len());
    let mut next = 1usize;
    let mut rest = sql;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            out.push('$');
            rest = after;
            continue;
        }
        if after[..digits].parse::<usize>().ok()? != next {
            return None;
        }
        out.push('?');
        next += 1;
        rest = &after[digits..];
    }
    out.push_str(rest);
    (next == n + 1).then_some(out)
}

#[cfg(test)]
mod placeholder_tests {
    #[test]
    fn placeholders_become_anonymous_only_when_in_order() {
        assert_eq!(super::anonymous("a IN ($1, $2, $3)", 3).as_deref(), Some("a IN (?, ?, ?)"));
        assert_eq!(super::anonymous("x = $1 AND y = $1", 1), None, "used twice");
        assert_eq!(super::anonymous("x = $2 AND y = $1", 2), None, "out of order");
        assert_eq!(
            super::anonymous("json_extract(d, '$.a') = $1", 1).as_deref(),
            Some("json_extract(d, '$.a') = ?")
        );
        assert_eq!(super::anonymous("x = $1", 2), None, "an argument without its placeholder");
    }
}

/// Builds `IN ($a, $b, …)` for a list of values.
pub fn push_in_list<V: Into<Value> + Clone>(q: &mut Q, values: &[V]) {
    q.push("(");
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.push_bind(v.clone());
    }
    if values.is_empty() {
        q.push("NULL");
    }
    q.push(")");
}

/// Deletes one row by id in its own transaction; `NotFound` if there was none.
pub async fn delete_by_id(db: &Db, table: &'static str, id: i64) -> Result<(), crate::AppError> {
    let mut tx = db.begin().await?;
    if q(format!("DELETE FROM {table} WHERE id = $1")).bind(id).execute(&mut tx).await? == 0 {
        return Err(crate::AppError::NotFound);
    }
    tx.commit().await?;
    Ok(())
}

/// Whether an error is a unique-constraint violation (both databases).
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// Whether an error is a foreign-key violation (both databases).
pub fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_foreign_key_violation())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_sqlite_url_keeps_its_query_string_as_options() {
        let dir = std::env::temp_dir().join(format!("carnet-url-{}", crate::access::random_token()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = Db::connect(&format!("sqlite://{}/x.db?mode=rwc", dir.display())).await.unwrap();
        q("CREATE TABLE t (id INTEGER)")
            .execute(&mut db.begin().await.unwrap())
            .await
            .unwrap();
        db.close().await;
        assert!(dir.join("x.db").exists(), "the file is x.db");
        assert!(!dir.join("x.db?mode=rwc").exists());
        // Read-only: opens the existing file, refuses writes.
        let ro = Db::connect(&format!("sqlite://{}/x.db?mode=ro", dir.display())).await.unwrap();
        let mut tx = ro.begin().await.unwrap();
        assert!(q("CREATE TABLE u (id INTEGER)").execute(&mut tx).await.is_err());
        drop(tx);
        ro.close().await;
        // A plain path is a file name.
        let plain = Db::connect(&dir.join("plain.db").display().to_string()).await.unwrap();
        plain.close().await;
        assert!(dir.join("plain.db").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
