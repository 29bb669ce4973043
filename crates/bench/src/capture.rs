//! `compact-bench capture`: runs each benchmarked operation once through the registry, as
//! the API's handler calls it, on a connection whose diesel instrumentation records every
//! statement; writes them with their values inlined as one script per operation. The
//! baselines (pgbench on PostgreSQL, `compact-bench sql` on SQLite) replay these scripts, so
//! they time the very SQL the product sends, without HTTP, JSON or the pool.
//!
//! Values the database must see fresh on every replay of the POST (the new item's id, the
//! audit event's id and sequence number, on SQLite its FTS5 row number) become placeholders:
//! `{{ITEM_ID}}`, `{{AUDIT_ID}}`, `{{AUDIT_SEQ}}` and `{{SEARCH_SEQ}}`.

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel::prelude::*;

use compact_auth::accounts::MailContext;
use compact_auth::{Principal, Role};
use compact_db::schema::{audit_events, item_search_map};
use compact_db::{DatabaseUrl, DbConnection};
use compact_registry::audience::{Recipients, Tlp, Viewer};
use compact_registry::items::{self, ItemInput, ItemKind, ListQuery};
use compact_registry::search::query::TextQuery;
use compact_registry::search::text::Language;
use compact_registry::search::{self, SearchRequest, Sort};

use crate::generate::Manifest;
use crate::inline::{Dialect, inline};

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<String>>>);

impl Instrumentation for Recorder {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::StartQuery { query, .. } = event
            && let Ok(mut log) = self.0.lock()
        {
            log.push(query.to_string());
        }
    }
}

impl Recorder {
    fn take(&self) -> Vec<String> {
        self.0
            .lock()
            .map(|mut l| std::mem::take(&mut *l))
            .unwrap_or_default()
    }
}

/// The searches of the benchmark: (name, q, sort).
pub fn searches(manifest: &Manifest) -> Vec<(String, String, Sort)> {
    let term = |class: &str| {
        manifest
            .terms
            .iter()
            .find(|t| t.class == class)
            .map(|t| t.term.clone())
            .unwrap_or_default()
    };
    let mut out: Vec<(String, String, Sort)> = manifest
        .terms
        .iter()
        .map(|t| {
            (
                format!("search {}", t.class),
                t.term.clone(),
                Sort::Relevance,
            )
        })
        .collect();
    out.push((
        "search 97%+15% AND".into(),
        format!("{} {}", term("97%"), term("15%")),
        Sort::Relevance,
    ));
    out.push(("search 1% newest".into(), term("1%"), Sort::Newest));
    out
}

/// The body of the benchmark's POST /api/v1/updates, as the registry receives it.
pub fn update_input() -> ItemInput {
    ItemInput {
        title: "Benchmark update".into(),
        summary: String::new(),
        body: "A short update posted by the benchmark harness about border security cooperation."
            .into(),
        language: Language::En,
        doc_type: None,
        tags: vec!["financing".into()],
        tlp: Tlp::Green,
        recipients: Recipients::default(),
    }
}

fn file_name(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .replace("--", "-")
}

pub fn run(url: &str, manifest: &Manifest, out_dir: &Path) -> anyhow::Result<()> {
    let url = DatabaseUrl::parse(url)?;
    let recorder = Recorder::default();
    let (mut conn, dialect) = match url.backend() {
        compact_db::Backend::Postgres => {
            let mut c = diesel::PgConnection::establish(url.expose())?;
            c.set_instrumentation(recorder.clone());
            (DbConnection::Pg(c), Dialect::Postgres)
        }
        compact_db::Backend::Sqlite => {
            let path = url.sqlite_path().unwrap_or_default();
            let mut c = diesel::SqliteConnection::establish(path)?;
            c.set_instrumentation(recorder.clone());
            (DbConnection::Sqlite(c), Dialect::Sqlite)
        }
    };
    std::fs::create_dir_all(out_dir)?;
    let principal = Principal {
        user_id: manifest.reader.id.clone(),
        org_id: manifest.reader.org_id.clone(),
        role: Role::Coordinator,
        api_key: None,
        mfa_satisfied: true,
    };
    let counts = search::counts::CountIndex::default();
    let viewer = Viewer::User {
        user_id: principal.user_id.clone(),
        org_id: principal.org_id.clone(),
    };
    let write = |name: &str, statements: Vec<String>| -> anyhow::Result<()> {
        let mut script = String::new();
        for s in statements {
            script.push_str(&inline(&s, dialect)?);
            script.push_str(";\n");
        }
        std::fs::write(out_dir.join(format!("{}.sql", file_name(name))), script)?;
        Ok(())
    };

    // The figures for bench/run.sh: name, script, and the HTTP path of a plain GET ("-"
    // where run.sh varies the requests: document ids, update bodies).
    let mut index = String::new();
    // Same requests as the HTTP load: limit 20 (the API's default page).
    for (name, q, sort) in searches(manifest) {
        let sort_param = if sort == Sort::Newest {
            "&sort=newest"
        } else {
            ""
        };
        index.push_str(&format!(
            "{name}\t{}.sql\t/api/v1/search?q={}{sort_param}\n",
            file_name(&name),
            q.replace(' ', "%20")
        ));
        let request = SearchRequest {
            text: Some(TextQuery::parse(&q)?),
            sort,
            limit: 20,
            ..Default::default()
        };
        // Twice: the server's count index is warm for every search after the first of a
        // text, so the second run's statements are the ones a search runs.
        search::search(&mut conn, &counts, &principal, &request)?;
        recorder.take();
        search::search(&mut conn, &counts, &principal, &request)?;
        write(&name, recorder.take())?;
    }
    let id = manifest
        .visible_documents
        .first()
        .context("no visible document")?;
    recorder.take();
    items::get(&mut conn, &viewer, ItemKind::Document, id)?;
    write("get document", recorder.take())?;
    index.push_str("get document\tget-document.sql\t-\n");

    recorder.take();
    items::list(
        &mut conn,
        &viewer,
        ItemKind::Update,
        &ListQuery {
            limit: 20,
            ..Default::default()
        },
    )?;
    write("feed page", recorder.take())?;
    index.push_str("feed page\tfeed-page.sql\t/api/v1/updates?limit=20\n");

    let mail = MailContext {
        public_url: "http://localhost:8080".into(),
        message_domain: "localhost".into(),
    };
    let actor = principal.audit_actor(Some("127.0.0.1".into()), Some("bench".into()));
    recorder.take();
    let created = items::create(
        &mut conn,
        &principal,
        ItemKind::Update,
        &update_input(),
        None,
        &mail,
        &actor,
    )?;
    let statements = recorder.take();
    let (seq, audit_id): (i64, String) = audit_events::table
        .select((audit_events::seq, audit_events::id))
        .order(audit_events::seq.desc())
        .first(&mut conn)?;
    // SQLite: the new item's FTS5 row number, looked up again on each replay.
    let search_seq: Option<i64> = match &mut conn {
        DbConnection::Sqlite(c) => item_search_map::table
            .filter(item_search_map::item_id.eq(&created.item.row.id))
            .select(item_search_map::seq)
            .first(c)
            .optional()?,
        DbConnection::Pg(_) => None,
    };
    let mut script = String::new();
    for s in statements {
        let mut s = inline(&s, dialect)?
            .replace(&format!("'{}'", created.item.row.id), "{{ITEM_ID}}")
            .replace(
                &format!("({seq}, '{audit_id}'"),
                "({{AUDIT_SEQ}}, {{AUDIT_ID}}",
            );
        if let Some(n) = search_seq
            && (s.contains("item_search ") || s.contains("item_search_recent "))
        {
            s = s
                .replace(&format!("rowid = {n}"), "rowid = {{SEARCH_SEQ}}")
                .replace(&format!("VALUES ({n}, "), "VALUES ({{SEARCH_SEQ}}, ");
        }
        script.push_str(&s);
        script.push_str(";\n");
    }
    anyhow::ensure!(
        script.contains("{{AUDIT_SEQ}}"),
        "the audit insert was not found in the captured POST"
    );
    std::fs::write(out_dir.join("post-update.sql"), script)?;
    index.push_str("post update\tpost-update.sql\t-\n");
    std::fs::write(out_dir.join("index.tsv"), index)?;
    Ok(())
}
