//! Starting the platform: the HTTP server and the mail worker beside it.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{HttpServer, web};
use anyhow::Context;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use compact_auth::Authenticator;
use compact_db::Database;
use compact_mail::{MailTransport, MailerConfig, OutboxWorker};

use crate::app::{AppState, build_app};
use crate::config::Settings;

/// A running platform: the HTTP server and the outbox worker.
pub struct Platform {
    server: Server,
    auth: Arc<Authenticator>,
    stop_mail: watch::Sender<bool>,
    scheduler: JoinHandle<()>,
    index_merger: Option<JoinHandle<()>>,
    mail: JoinHandle<()>,
}

impl Platform {
    /// Starts serving on `listener` (bound by the caller, so tests can use port 0). Must be
    /// called inside a Tokio runtime.
    pub fn launch(
        settings: Arc<Settings>,
        db: Database,
        listener: TcpListener,
    ) -> anyhow::Result<Self> {
        let transport = match settings.smtp() {
            Some(smtp) => MailTransport::smtp(&smtp).context("SMTP settings")?,
            None => {
                tracing::info!(dir = %settings.mail_dir().display(), "no SMTP server configured: mail is written as .eml files");
                MailTransport::files(settings.mail_dir())
            }
        };
        let mut mailer = MailerConfig::new(settings.mail_from.parse().context("mail_from")?);
        mailer.max_attempts = settings.mail_max_attempts;
        mailer.poll_interval = Duration::from_millis(settings.mail_poll_interval_ms.max(10));
        let (stop_mail, stopped) = watch::channel(false);
        let mail =
            tokio::spawn(OutboxWorker::new(db.clone(), transport, mailer).run(stopped.clone()));

        let auth = Arc::new(Authenticator::new(db.clone(), settings.auth()).context("identity")?);
        let state = web::Data::new(AppState::new(db, settings.clone(), auth.clone()));
        let scheduler = tokio::spawn(run_scheduler(state.clone(), stopped.clone()));
        let index_merger = (state.db.backend() == compact_db::Backend::Sqlite)
            .then(|| tokio::spawn(merge_search_index(state.clone(), stopped.clone())));
        tokio::spawn(forget_idle_rate_limits(state.clone(), stopped));
        if settings.search_index_at_start {
            tokio::spawn(warm_search_counts(state.clone()));
        }
        let mut server = HttpServer::new(move || build_app(state.clone()))
            .client_request_timeout(Duration::from_secs(settings.header_timeout_secs))
            .client_disconnect_timeout(Duration::from_secs(5))
            .shutdown_timeout(15);
        if let Some(workers) = settings.workers {
            server = server.workers(workers.max(1));
        }
        let server = server.listen(listener).context("listen")?.run();
        Ok(Self {
            server,
            auth,
            stop_mail,
            scheduler,
            index_merger,
            mail,
        })
    }

    pub fn auth(&self) -> Arc<Authenticator> {
        self.auth.clone()
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until the server stops (SIGINT/SIGTERM or `handle().stop()`), then stops mail.
    pub async fn run(self) -> anyhow::Result<()> {
        let result = self.server.await;
        let _ = self.stop_mail.send(true);
        let _ = self.scheduler.await;
        if let Some(merger) = self.index_merger {
            let _ = merger.await;
        }
        let _ = self.mail.await;
        result.context("HTTP server")
    }
}

/// `compact serve`: migrate, bind, serve.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    let url = settings.database_url()?;
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("create data directory {}", settings.data_dir.display()))?;
    tracing::info!(database = %url.redacted(), data_dir = %settings.data_dir.display(), "starting");
    let options = settings.pool_options();
    let db = tokio::task::spawn_blocking(move || Database::connect_and_migrate(&url, &options))
        .await?
        .context("database")?;
    let listener =
        TcpListener::bind(&settings.bind).with_context(|| format!("bind {}", settings.bind))?;
    tracing::info!(address = %listener.local_addr()?, "listening");
    Platform::launch(Arc::new(settings), db, listener)?
        .run()
        .await
}

/// Loads the search count index in the background, so that the first search after a start
/// does not wait seconds for it (searches that come sooner wait for this load, not for one
/// of their own).
async fn warm_search_counts(state: web::Data<AppState>) {
    let (db, counts) = (state.db.clone(), state.search_counts.clone());
    let started = std::time::Instant::now();
    let outcome = tokio::task::spawn_blocking(move || {
        let mut conn = db.get()?;
        let items = counts.warm(&mut conn)?;
        // The pages and rows read to load it are not needed again. (A load by a first
        // search, with this off, keeps them until the allocator reuses them.)
        if let Err(error) = conn.release_memory() {
            tracing::warn!(%error, "emptying the loading connection's page cache failed");
        }
        crate::memory::give_back_free_heap();
        Ok::<_, compact_registry::RegistryError>(items)
    })
    .await;
    let ms = started.elapsed().as_millis() as u64;
    match outcome {
        Ok(Ok(items)) => tracing::info!(items, ms, "search count index loaded"),
        // The first search tries again (or counts in SQL, if the index cannot hold the data).
        Ok(Err(error)) => tracing::warn!(%error, ms, "loading the search count index failed"),
        Err(error) => tracing::error!(%error, "loading the search count index panicked"),
    }
}

/// Scheduled registry work (term expiry, activating approved focal points) every
/// `scheduler_interval_secs`. Every node runs it; each change is a conditional update, so
/// running it on several nodes at once changes each nomination once.
async fn run_scheduler(state: web::Data<AppState>, mut stop: watch::Receiver<bool>) {
    let every = Duration::from_secs(state.settings.scheduler_interval_secs.max(1));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        let (db, mail) = (state.db.clone(), state.mail.clone());
        let outcome = tokio::task::spawn_blocking(move || {
            let mut conn = db.get()?;
            // Each nomination in a transaction of its own, so a run never holds locks long.
            compact_registry::nominations::run_scheduled(&mut conn, &mail)
        })
        .await;
        match outcome {
            Ok(Ok((0, 0))) => {}
            Ok(Ok((activated, expired))) => {
                tracing::info!(activated, expired, "focal-point terms updated");
                state.auth.forget_all();
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "scheduled registry work failed; retrying later")
            }
            Err(error) => tracing::error!(%error, "scheduled registry work panicked"),
        }
        let (db, mail) = (state.db.clone(), state.mail.clone());
        let outcome = tokio::task::spawn_blocking(move || {
            let mut conn = db.get()?;
            let purged = compact_registry::items::idempotency::purge_expired(&mut conn)?;
            let digests =
                compact_registry::subscriptions::send_digests(&mut conn, &mail, compact_db::now())?;
            // SQLite's planner statistics as the data grows: a moment under the write lock,
            // and an ANALYZE only of what PRAGMA optimize finds stale.
            compact_db::refresh_statistics(&mut conn)?;
            Ok::<_, compact_registry::RegistryError>((purged, digests))
        })
        .await;
        match outcome {
            Ok(Ok((_, 0))) => {}
            Ok(Ok((_, digests))) => tracing::info!(digests, "daily digests queued"),
            Ok(Err(error)) => tracing::warn!(%error, "digests failed; retrying later"),
            Err(error) => tracing::error!(%error, "digest run panicked"),
        }
    }
}

/// SQLite: FTS5 merge work in small steps of its own (`search::index::merge_step`), so no
/// item write pays for a large merge. Every 100 ms, steps follow each other while there is
/// work (at most 64), each taking the writer lock apart, with a pause between them so that
/// queued writers go first (the writer lock is only eventually fair). While no item was
/// written since a round found nothing to merge, a round is one indexed read.
async fn merge_search_index(state: web::Data<AppState>, mut stop: watch::Receiver<bool>) {
    use compact_registry::search::index::{last_item_change, merge_step};
    const PAGES_PER_STEP: i64 = 64;
    const STEPS_PER_ROUND: usize = 64;
    // The last item change when a round found no work: until it moves, rounds only read it
    // and leave the writer lock alone.
    let mut settled_at: Option<i64> = None;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            _ = stop.changed() => return,
        }
        let (db, stopping) = (state.db.clone(), stop.clone());
        let outcome = tokio::task::spawn_blocking(move || {
            let mut conn = db.get()?;
            let change = last_item_change(&mut conn)?;
            if settled_at == Some(change) {
                return Ok(settled_at);
            }
            for _ in 0..STEPS_PER_ROUND {
                if *stopping.borrow() {
                    return Ok(None);
                }
                if !merge_step(&mut conn, PAGES_PER_STEP)? {
                    return Ok(Some(change));
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            Ok::<_, compact_registry::RegistryError>(None)
        })
        .await;
        match outcome {
            Ok(Ok(settled)) => settled_at = settled,
            Ok(Err(error)) => tracing::warn!(%error, "search index merge failed; retrying later"),
            Err(error) => tracing::error!(%error, "search index merge panicked"),
        }
    }
}

/// Rate-limit buckets are kept per caller in memory; those back at full capacity are dropped
/// every minute, so random credentials cannot grow memory without bound.
async fn forget_idle_rate_limits(state: web::Data<AppState>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
            _ = stop.changed() => return,
        }
        let callers = state.caller_limit.limiter();
        callers.retain_recent();
        callers.shrink_to_fit();
        for addresses in [&state.credential_limit, &state.address_limit] {
            let addresses = addresses.limiter();
            addresses.retain_recent();
            addresses.shrink_to_fit();
        }
    }
}
