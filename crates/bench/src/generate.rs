//! `compact-bench generate`: migrates a database, loads a synthetic Compact and writes the
//! manifest the load generator and the SQL capture read (users, passwords, term classes,
//! item ids the benchmark user may see).

use std::path::Path;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use compact_auth::password::{PasswordCost, hash_with};
use compact_db::{Database, DatabaseUrl, PoolOptions};
use compact_registry::audience::Grant;

use crate::dataset::{ItemGenerator, TERM_CLASSES, World};
use crate::load;

/// The password of every generated user (one argon2 hash, computed once).
pub const PASSWORD: &str = "a sturdy lantern over quiet meadows";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchUser {
    pub id: String,
    pub org_id: String,
    pub email: String,
    pub role: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TermClass {
    pub class: String,
    pub term: String,
    /// The share of items that contain it, as generated.
    pub share: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub items: usize,
    pub password: String,
    /// Searches, reads, posts: a coordinator of a Compact entity that is in a group.
    pub reader: BenchUser,
    /// Sign-ins rotate over these (roles without a required second factor).
    pub logins: Vec<BenchUser>,
    pub terms: Vec<TermClass>,
    /// Documents the reader may see, for GET by id.
    pub visible_documents: Vec<String>,
    /// The share of items the reader may see.
    pub visible_share: f64,
}

pub fn run(
    url: &str,
    count: usize,
    users: usize,
    seed: u64,
    manifest_path: &Path,
) -> anyhow::Result<()> {
    let url = DatabaseUrl::parse(url)?;
    let db = Database::connect_and_migrate(&url, &PoolOptions::default())
        .context("migrating the benchmark database")?;
    let mut conn = db.get()?;
    load::prepare(&mut conn)?;
    let mut rng = StdRng::seed_from_u64(seed);
    let world = World::generate(&mut rng, users);
    let hash = hash_with(PasswordCost::default(), PASSWORD)?;
    let now = compact_db::now();
    load::world(&mut conn, &world, &hash, now)?;

    // The reader: the coordinator of the first Compact entity that belongs to a group.
    let reader_org = (1..world.orgs.len())
        .find(|&o| world.groups.iter().any(|g| g.members.contains(&o)))
        .unwrap_or(1);
    let reader_user = world
        .users
        .iter()
        .find(|u| u.org == reader_org && u.role == "coordinator")
        .context("every organization has a coordinator")?;
    let bench_user = |u: &crate::dataset::User| BenchUser {
        id: u.id.clone(),
        org_id: world.orgs[u.org].id.clone(),
        email: u.email.clone(),
        role: u.role.to_owned(),
    };
    let reader_groups: Vec<&String> = world
        .groups
        .iter()
        .filter(|g| g.members.contains(&reader_org))
        .map(|g| &g.id)
        .collect();
    let sees = |grants: &std::collections::BTreeSet<Grant>| {
        grants.iter().any(|g| match g {
            Grant::Public | Grant::Platform => true,
            Grant::Organization(o) => *o == world.orgs[reader_org].id,
            Grant::Group(g) => reader_groups.contains(&g),
            Grant::User(u) => *u == reader_user.id,
        })
    };

    let generator = ItemGenerator::new(&world, count, now);
    let recent_from = load::recent_from(&mut conn, count)?;
    let bar = ProgressBar::new(count as u64).with_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} items, {per_sec}, {eta} left")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message("loading");
    let mut marker_counts = [0usize; TERM_CLASSES.len()];
    let mut visible = 0usize;
    let mut visible_documents = Vec::new();
    // Sampled ids spread over the whole range, not only the oldest items.
    let stride = (count / 2_000).max(1);
    let mut visible_docs_seen = 0usize;
    let mut n = 0;
    while n < count {
        let size = load::CHUNK.min(count - n);
        let chunk: Vec<_> = (n..n + size).map(|i| generator.item(&mut rng, i)).collect();
        for item in &chunk {
            for (k, (_, marker, _)) in TERM_CLASSES.iter().enumerate() {
                if item.row.body.ends_with(marker) || item.row.body.contains(&format!(" {marker} "))
                {
                    marker_counts[k] += 1;
                }
            }
            if sees(&item.grants) {
                visible += 1;
                if item.row.kind == "document" {
                    visible_docs_seen += 1;
                    if visible_documents.len() < 1_000 && visible_docs_seen.is_multiple_of(stride) {
                        visible_documents.push(item.row.id.clone());
                    }
                }
            }
        }
        load::items(&mut conn, &chunk, n as i64 + 1, recent_from)?;
        n += size;
        bar.set_position(n as u64);
    }
    bar.finish_with_message("loaded");
    eprintln!("analysing…");
    load::finish(&mut conn)?;

    let logins = world
        .users
        .iter()
        .filter(|u| matches!(u.role, "coordinator" | "focal_point" | "member"))
        .take(50)
        .map(bench_user)
        .collect();
    let manifest = Manifest {
        items: count,
        password: PASSWORD.into(),
        reader: bench_user(reader_user),
        logins,
        terms: TERM_CLASSES
            .iter()
            .zip(marker_counts)
            .map(|((class, term, _), found)| TermClass {
                class: (*class).into(),
                term: (*term).into(),
                share: found as f64 / count.max(1) as f64,
            })
            .collect(),
        visible_documents,
        visible_share: visible as f64 / count.max(1) as f64,
    };
    std::fs::write(manifest_path, serde_json::to_string_pretty(&manifest)?)?;
    eprintln!(
        "{count} items; the reader sees {:.0} %; manifest in {}",
        manifest.visible_share * 100.0,
        manifest_path.display()
    );
    Ok(())
}

pub fn read_manifest(path: &Path) -> anyhow::Result<Manifest> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(serde_json::from_str(&text)?)
}
