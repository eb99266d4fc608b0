//! Test harness: a fresh store per test on either backend, and a real server on port 0.

#[macro_use]
pub(crate) mod grpc;
pub(crate) mod logs;
pub(crate) mod process;
pub(crate) mod slow_link;
pub(crate) mod store;
pub(crate) mod values;

pub(crate) use personae_testkit::{certs, user_info_server};

use std::{net::SocketAddr, sync::Arc, time::Duration};

use personae::{
    bootstrap,
    domain::{address::AddressPolicy, api_key},
    proto::{
        audit_client::AuditClient, groups_client::GroupsClient, iam_config_client::IamConfigClient,
        impersonation_client::ImpersonationClient, permissions_client::PermissionsClient,
        users_client::UsersClient,
    },
    secrets::{KeySource, new_key_hex},
    server::{self, ServeOptions},
    store::{Pool, SqlStore, Store},
};
use sqlx::Connection;
use tempfile::TempDir;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tonic::{
    Request, Status,
    service::Interceptor,
    service::interceptor::InterceptedService,
    transport::{Certificate, Channel, ClientTlsConfig, Endpoint},
};

/// How often test servers write impersonation decisions to the audit log: short, so tests see
/// them soon.
pub(crate) const DECISION_AUDIT_INTERVAL: Duration = Duration::from_millis(200);

/// A fresh, migrated store, with its database (through `Deref`: `t.url`, `t.execute_raw(..)`).
pub(crate) struct TestStore {
    pub store: Arc<dyn Store>,
    database: TestDatabase,
}

/// A test's database, with raw access for tests that must reach under the API.
pub(crate) struct TestDatabase {
    pub raw: Raw,
    /// The database URL, to open the store again as a restarted server would.
    pub url: String,
    /// The secret key the store was opened with, as a server would be given it.
    pub secret_key: KeySource,
    _dir: Option<TempDir>,
}

impl std::ops::Deref for TestStore {
    type Target = TestDatabase;

    fn deref(&self) -> &TestDatabase {
        &self.database
    }
}

/// Held write lock; released (rolled back) on drop. The transaction is only held, never read.
pub(crate) enum WriteLock {
    Sqlite {
        _held: sqlx::Transaction<'static, sqlx::Sqlite>,
    },
    Postgres {
        _held: sqlx::Transaction<'static, sqlx::Postgres>,
    },
}

pub(crate) enum Raw {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Raw {
    fn of(store: &SqlStore) -> Self {
        match store.pool() {
            Pool::Sqlite(pool) => Self::Sqlite(pool.clone()),
            Pool::Postgres(pool) => Self::Postgres(pool.clone()),
        }
    }
}

impl TestDatabase {
    /// Runs a statement directly on the database, bypassing the service.
    pub(crate) async fn execute_raw(&self, sql: &str) {
        match &self.raw {
            Raw::Sqlite(s) => {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(s)
                    .await
                    .expect("raw SQL on SQLite");
            }
            Raw::Postgres(s) => {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(s)
                    .await
                    .expect("raw SQL on PostgreSQL");
            }
        }
    }

    /// Rows of a text and a BIGINT, read directly from the database.
    pub(crate) async fn text_and_number_rows(&self, sql: &str) -> Vec<(String, i64)> {
        let sql = sqlx::AssertSqlSafe(sql);
        match &self.raw {
            Raw::Sqlite(s) => sqlx::query_as(sql).fetch_all(s).await,
            Raw::Postgres(s) => sqlx::query_as(sql).fetch_all(s).await,
        }
        .expect("raw query")
    }

    /// Takes the store's write lock (the audit head) until the guard is dropped, so that a
    /// mutation sent meanwhile waits inside the server.
    pub(crate) async fn hold_write_lock(&self) -> WriteLock {
        match &self.raw {
            Raw::Sqlite(s) => WriteLock::Sqlite {
                _held: s
                    .begin_with("BEGIN IMMEDIATE")
                    .await
                    .expect("SQLite write lock"),
            },
            Raw::Postgres(s) => {
                let mut tx = s.begin().await.expect("begin");
                sqlx::query("SELECT sequence FROM audit_head FOR UPDATE")
                    .execute(&mut *tx)
                    .await
                    .expect("lock the audit head");
                WriteLock::Postgres { _held: tx }
            }
        }
    }

    /// PostgreSQL only: takes an ACCESS EXCLUSIVE lock on `table` until the guard is dropped,
    /// so that a reader reaching a statement on it waits there, between its statements.
    pub(crate) async fn lock_table(&self, table: &str) -> WriteLock {
        let Raw::Postgres(pool) = &self.raw else {
            panic!("lock_table is for PostgreSQL, whose readers wait for locks");
        };
        let mut tx = pool.begin().await.expect("begin");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"
        )))
        .execute(&mut *tx)
        .await
        .expect("lock the table");
        WriteLock::Postgres { _held: tx }
    }

    pub(crate) fn is_postgres(&self) -> bool {
        matches!(self.raw, Raw::Postgres(_))
    }
}

impl TestStore {
    /// A store opened by the test itself (on a database it manages).
    pub(crate) fn of(store: Arc<SqlStore>, url: String) -> Self {
        Self::new(store, url, KeySource::None, None)
    }

    fn new(store: Arc<SqlStore>, url: String, secret_key: KeySource, dir: Option<TempDir>) -> Self {
        Self {
            database: TestDatabase {
                raw: Raw::of(&store),
                url,
                secret_key,
                _dir: dir,
            },
            store,
        }
    }

    /// Closes the store and keeps its database, for a test that opens it again itself: a
    /// SQLite database is open in one store at a time.
    pub(crate) fn close(self) -> TestDatabase {
        self.database
    }
}

pub(crate) async fn sqlite_store() -> TestStore {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("personae.db").display());
    // As the server has it on SQLite: a key file beside the database, made when first needed.
    let secret_key = KeySource::File {
        path: dir.path().join("personae.db.key"),
        create: true,
    };
    let store = Arc::new(
        SqlStore::open_with(&url, &secret_key)
            .await
            .expect("open SQLite store"),
    );
    TestStore::new(store, url, secret_key, Some(dir))
}

/// A new database on the PostgreSQL that PERSONAE_TEST_DATABASE_URL names (a role with
/// CREATEDB). Fails loudly without one: these tests are never skipped.
pub(crate) async fn postgres_store() -> TestStore {
    let admin_url = std::env::var("PERSONAE_TEST_DATABASE_URL").expect(
        "PERSONAE_TEST_DATABASE_URL is not set: run the tests with scripts/test, which starts PostgreSQL, \
         or point it at a role with CREATEDB (postgres://user:pass@host:5432/postgres)",
    );
    let name = format!("personae_test_{}", uuid::Uuid::now_v7().simple());
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to PERSONAE_TEST_DATABASE_URL: {e}"));
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create test database");
    let (base, _) = admin_url.rsplit_once('/').expect("database URL has a path");
    let url = format!("{base}/{name}");
    let secret_key = KeySource::Hex(new_key_hex());
    let store = Arc::new(
        SqlStore::open_with(&url, &secret_key)
            .await
            .expect("open PostgreSQL store"),
    );
    TestStore::new(store, url, secret_key, None)
}

/// Opens the database at `url` with `secret_key`, as a restarted server would, once the store
/// that had it open is gone.
///
/// A SQLite database's lock may outlive that store by a moment: a process that another test of
/// this binary spawns meanwhile holds a copy of the lock's descriptor between its fork and its
/// exec, which closes it. So while the database is refused as in use, the open is tried again,
/// for up to 5 s; any other answer is returned as it is.
pub(crate) async fn reopen(url: &str, secret_key: &KeySource) -> personae::error::Result<SqlStore> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match SqlStore::open_with(url, secret_key).await {
            Err(personae::error::Error::FailedPrecondition(message))
                if message.contains("SQLite allows one personae process per database")
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            opened => return opened,
        }
    }
}

/// Runs each named `async fn(TestStore)` as a test on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::sqlite_store().await).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::postgres_store().await).await
                }
            )*
        }
    };
}

/// Adds `authorization: <value>` to every call, or nothing.
#[derive(Clone)]
pub(crate) struct Authorization(Option<String>);

impl Authorization {
    pub(crate) fn bearer(token: &str) -> Self {
        Self(Some(format!("Bearer {token}")))
    }
    pub(crate) fn raw(value: &str) -> Self {
        Self(Some(value.to_owned()))
    }
    pub(crate) fn none() -> Self {
        Self(None)
    }
}

impl Interceptor for Authorization {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.0 {
            request.metadata_mut().insert(
                "authorization",
                value
                    .parse()
                    .map_err(|_| Status::internal("bad test header"))?,
            );
        }
        Ok(request)
    }
}

pub(crate) type Authed = InterceptedService<Channel, Authorization>;

/// A real server on an ephemeral port over `store`, with a bootstrap admin.
pub(crate) struct TestServer {
    pub addr: SocketAddr,
    pub metrics_addr: SocketAddr,
    pub admin_token: String,
    pub store: TestStore,
    channel: Channel,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

/// The options test servers run with unless a test changes them. User-info endpoints may be at
/// loopback addresses, since the tests' endpoint listens on 127.0.0.1: the one place the tests
/// allow private addresses.
pub(crate) fn serve_options() -> ServeOptions {
    ServeOptions {
        request_timeout: Duration::from_secs(30),
        max_concurrent_requests: 1024,
        decision_audit_interval: DECISION_AUDIT_INTERVAL,
        cache_entries: 10_000,
        user_info_addresses: AddressPolicy {
            allow_private: true,
        },
        max_api_keys_per_user: 100,
        self_service_writes_per_minute: 30,
        tls: None,
    }
}

impl TestServer {
    pub(crate) async fn start(store: TestStore) -> Self {
        Self::start_with(store, serve_options()).await
    }

    pub(crate) async fn start_with(store: TestStore, options: ServeOptions) -> Self {
        Self::start_reached(store, options, |addr| {
            Endpoint::from_shared(format!("http://{addr}")).unwrap()
        })
        .await
    }

    /// A server whose `options.tls` serves a certificate issued by `ca` (PEM) for `localhost`,
    /// reached over TLS.
    pub(crate) async fn start_tls(store: TestStore, options: ServeOptions, ca: &str) -> Self {
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(ca))
            .domain_name("localhost");
        Self::start_reached(store, options, move |addr| {
            Endpoint::from_shared(format!("https://{addr}"))
                .unwrap()
                .tls_config(tls)
                .expect("TLS settings")
        })
        .await
    }

    async fn start_reached(
        store: TestStore,
        options: ServeOptions,
        endpoint: impl FnOnce(SocketAddr) -> Endpoint,
    ) -> Self {
        let admin_token = api_key::generate().token;
        bootstrap::bootstrap(store.store.as_ref(), Some(&admin_token))
            .await
            .expect("bootstrap");
        let grpc = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let metrics = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (addr, metrics_addr) = (grpc.local_addr().unwrap(), metrics.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(server::serve(
            store.store.clone(),
            grpc,
            metrics,
            options,
            async {
                let _ = rx.await;
            },
        ));
        let channel = endpoint(addr).connect().await.expect("connect");
        Self {
            addr,
            metrics_addr,
            admin_token,
            store,
            channel,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    pub(crate) fn users(&self, auth: Authorization) -> UsersClient<Authed> {
        UsersClient::with_interceptor(self.channel.clone(), auth)
    }
    pub(crate) fn permissions(&self, auth: Authorization) -> PermissionsClient<Authed> {
        PermissionsClient::with_interceptor(self.channel.clone(), auth)
    }
    pub(crate) fn groups(&self, auth: Authorization) -> GroupsClient<Authed> {
        GroupsClient::with_interceptor(self.channel.clone(), auth)
    }
    pub(crate) fn impersonation(&self, auth: Authorization) -> ImpersonationClient<Authed> {
        ImpersonationClient::with_interceptor(self.channel.clone(), auth)
    }
    pub(crate) fn iam_config(&self, auth: Authorization) -> IamConfigClient<Authed> {
        IamConfigClient::with_interceptor(self.channel.clone(), auth)
    }
    pub(crate) fn audit(&self, auth: Authorization) -> AuditClient<Authed> {
        AuditClient::with_interceptor(self.channel.clone(), auth)
    }
    pub(crate) fn admin(&self) -> Authorization {
        Authorization::bearer(&self.admin_token)
    }
    pub(crate) fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// Stops the server and waits for it to drain.
    pub(crate) async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server result");
        }
    }
}
