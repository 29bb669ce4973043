//! A synthetic Compact: organizations, users of every role, groups, and items with text,
//! tags, TLP markings and recipients in realistic proportions. Everything derives from one
//! seed, so two runs generate the same data.

use std::collections::BTreeSet;

use chrono::{Duration, NaiveDateTime};
use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde_json::json;

use compact_registry::audience::{self, Grant, Recipients, Tlp};
use compact_registry::items::{DocType, ItemRow, UPDATE_TYPE};
use compact_registry::search::text::Language;

use crate::words::{self, CHINESE_VOCABULARY, LANGUAGE_MIX, TAGS, VOCABULARY};
use crate::zipf::Zipf;

/// Marker words by the share of items that contain them: the term classes of the search
/// benchmark. Latin words, so every language's configuration indexes them alike.
pub const TERM_CLASSES: [(&str, &str, f64); 4] = [
    ("0.1%", "delta", 0.001),
    ("1%", "gamma", 0.01),
    ("15%", "beta", 0.15),
    ("97%", "alpha", 0.97),
];

/// TLP shares (percent): most sharing is GREEN or AMBER.
const TLP_MIX: [(Tlp, u32); 5] = [
    (Tlp::Clear, 10),
    (Tlp::Green, 40),
    (Tlp::Amber, 30),
    (Tlp::AmberStrict, 10),
    (Tlp::Red, 10),
];

pub struct Org {
    pub id: String,
    pub name: String,
    pub acronym: String,
    pub kind: &'static str,
    pub un_system: bool,
}

pub struct User {
    pub id: String,
    pub org: usize,
    pub email: String,
    pub name: String,
    pub role: &'static str,
}

pub struct Group {
    pub id: String,
    pub name: String,
    pub kind: &'static str,
    pub members: Vec<usize>,
}

pub struct World {
    pub orgs: Vec<Org>,
    pub users: Vec<User>,
    pub groups: Vec<Group>,
}

/// One generated item and what the registry would write with it.
pub struct GeneratedItem {
    pub row: ItemRow,
    pub tags: Vec<String>,
    pub grants: BTreeSet<Grant>,
}

pub fn uuid(rng: &mut StdRng) -> String {
    uuid::Builder::from_random_bytes(rng.r#gen())
        .into_uuid()
        .to_string()
}

fn pick<T: Copy>(rng: &mut StdRng, mix: &[(T, u32)]) -> T {
    let total: u32 = mix.iter().map(|(_, w)| w).sum();
    let mut r = rng.gen_range(0..total);
    for (value, weight) in mix {
        if r < *weight {
            return *value;
        }
        r -= weight;
    }
    mix[mix.len() - 1].0
}

impl World {
    /// 1 secretariat, 44 other Compact entities, 12 regional organizations, 60 member
    /// states; `users` users (one coordinator per organization, then focal points and
    /// members, a few admins and secretariat staff); 12 groups of 4 to 20 organizations.
    pub fn generate(rng: &mut StdRng, users: usize) -> World {
        let mut orgs = Vec::new();
        let mut add_org = |rng: &mut StdRng, name: String, acronym: String, kind, un| {
            orgs.push(Org {
                id: uuid(rng),
                name,
                acronym,
                kind,
                un_system: un,
            });
        };
        add_org(
            rng,
            "Office of Counter-Terrorism".into(),
            "UNOCT".into(),
            "secretariat",
            true,
        );
        for i in 1..=44 {
            add_org(
                rng,
                format!("Compact Entity {i}"),
                format!("CE{i}"),
                "compact_entity",
                i <= 40,
            );
        }
        for i in 1..=12 {
            add_org(
                rng,
                format!("Regional Organization {i}"),
                format!("RO{i}"),
                "regional_organization",
                false,
            );
        }
        for i in 1..=60 {
            add_org(
                rng,
                format!("Member State {i}"),
                format!("MS{i}"),
                "member_state",
                false,
            );
        }
        let mut people = Vec::new();
        for n in 0..users {
            let (org, role) = match n {
                0..5 => (0, "admin"),
                5..25 => (0, "secretariat"),
                _ if n - 25 < orgs.len() => (n - 25, "coordinator"),
                _ => {
                    let org = rng.gen_range(0..orgs.len());
                    let role = if rng.gen_bool(0.3) {
                        "focal_point"
                    } else {
                        "member"
                    };
                    (org, role)
                }
            };
            people.push(User {
                id: uuid(rng),
                org,
                email: format!("user{n}@{}.bench.example", orgs[org].acronym.to_lowercase()),
                name: format!("Bench User {n}"),
                role,
            });
        }
        let groups = (0..12)
            .map(|g| {
                let mut members: Vec<usize> = (0..orgs.len()).collect();
                members.shuffle(rng);
                members.truncate(rng.gen_range(4..=20));
                members.sort_unstable();
                Group {
                    id: uuid(rng),
                    name: format!("Working Group {g}"),
                    kind: if g < 8 {
                        "working_group"
                    } else {
                        "regional_plan"
                    },
                    members,
                }
            })
            .collect();
        World {
            orgs,
            users: people,
            groups,
        }
    }

    /// Users who may post (every role but member).
    pub fn writers(&self) -> Vec<usize> {
        (0..self.users.len())
            .filter(|&u| self.users[u].role != "member")
            .collect()
    }
}

/// Generates items one at a time; the `n`-th is created `n` steps after the first, so ids
/// (UUIDv7, as the registry makes them) and dates grow together.
pub struct ItemGenerator<'w> {
    world: &'w World,
    writers: Vec<usize>,
    words: Zipf,
    chinese: Zipf,
    tags: Zipf,
    start: NaiveDateTime,
    step_micros: i64,
}

impl<'w> ItemGenerator<'w> {
    /// `count` items spread over the three years before `end`.
    pub fn new(world: &'w World, count: usize, end: NaiveDateTime) -> Self {
        let span = Duration::days(3 * 365);
        Self {
            world,
            writers: world.writers(),
            words: Zipf::new(VOCABULARY, 1.0),
            chinese: Zipf::new(CHINESE_VOCABULARY, 1.0),
            tags: Zipf::new(TAGS.len(), 1.0),
            start: end - span,
            step_micros: span.num_microseconds().unwrap_or(1) / count.max(1) as i64,
        }
    }

    fn text(&self, rng: &mut StdRng, language: Language, words: usize) -> String {
        let zh = language == Language::Zh;
        let mut out = String::new();
        for i in 0..words {
            let word = if zh {
                words::word(language, self.chinese.sample(rng))
            } else {
                words::word(language, self.words.sample(rng))
            };
            if i > 0 && (!zh || i % 12 == 0) {
                out.push(if zh { '，' } else { ' ' });
            }
            out.push_str(&word);
        }
        out
    }

    fn recipients(&self, rng: &mut StdRng, tlp: Tlp) -> Recipients {
        let w = self.world;
        let mut r = Recipients::default();
        let org = |rng: &mut StdRng| w.orgs[rng.gen_range(0..w.orgs.len())].id.clone();
        let group = |rng: &mut StdRng| w.groups[rng.gen_range(0..w.groups.len())].id.clone();
        match tlp {
            Tlp::Clear => {}
            Tlp::Green => {
                if rng.gen_bool(0.25) {
                    for _ in 0..rng.gen_range(1..=3) {
                        r.organizations.insert(org(rng));
                    }
                    if rng.gen_bool(0.5) {
                        r.groups.insert(group(rng));
                    }
                }
            }
            Tlp::Amber => {
                for _ in 0..rng.gen_range(1..=4) {
                    r.organizations.insert(org(rng));
                }
                if rng.gen_bool(0.5) {
                    r.groups.insert(group(rng));
                }
            }
            Tlp::AmberStrict => {
                for _ in 0..rng.gen_range(1..=2) {
                    r.organizations.insert(org(rng));
                }
            }
            Tlp::Red => {
                for _ in 0..rng.gen_range(1..=3) {
                    r.users
                        .insert(w.users[rng.gen_range(0..w.users.len())].id.clone());
                }
            }
        }
        r
    }

    pub fn item(&self, rng: &mut StdRng, n: usize) -> GeneratedItem {
        let w = self.world;
        let author = &w.users[self.writers[rng.gen_range(0..self.writers.len())]];
        let owner = &w.orgs[author.org];
        let is_update = rng.gen_bool(0.25);
        let language = pick(rng, &LANGUAGE_MIX);
        let tlp = pick(rng, &TLP_MIX);
        let recipients = self.recipients(rng, tlp);
        // The registry's own rules; the generator only makes combinations they accept.
        let grants = audience::grants(tlp, &owner.id, &author.id, &recipients)
            .unwrap_or_else(|e| panic!("generated an audience the registry refuses: {e}"));
        let mut tags: Vec<String> = Vec::new();
        for _ in 0..rng.gen_range(0..=4) {
            let tag = TAGS[self.tags.sample(rng)].to_owned();
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        let title_words = rng.gen_range(5..=12);
        let title = self.text(rng, language, title_words);
        let (summary, body_words, doc_type) = if is_update {
            (
                String::new(),
                rng.gen_range(20..=60),
                UPDATE_TYPE.to_owned(),
            )
        } else {
            let doc_type = DocType::ALL[rng.gen_range(0..DocType::ALL.len())];
            let summary_words = rng.gen_range(15..=35);
            let summary = self.text(rng, language, summary_words);
            (
                summary,
                rng.gen_range(40..=160),
                doc_type.as_str().to_owned(),
            )
        };
        let mut body = self.text(rng, language, body_words);
        for (_, marker, share) in TERM_CLASSES {
            if rng.gen_bool(share) {
                body.push(' ');
                body.push_str(marker);
            }
        }
        let created_at = compact_db::truncate_to_micros(
            self.start
                + Duration::microseconds(
                    self.step_micros * n as i64 + rng.gen_range(0..self.step_micros.max(1)),
                ),
        );
        let millis = created_at.and_utc().timestamp_millis().max(0) as u64;
        let id = uuid::Builder::from_unix_timestamp_millis(millis, &rng.r#gen())
            .into_uuid()
            .to_string();
        let row = ItemRow {
            id,
            kind: if is_update { "update" } else { "document" }.into(),
            owner_org_id: owner.id.clone(),
            author_id: author.id.clone(),
            title,
            summary,
            body,
            language: language.as_str().into(),
            doc_type,
            tags: json!(tags).to_string(),
            tlp: tlp.as_str().into(),
            recipients: json!(recipients).to_string(),
            version: 1,
            created_at,
            updated_at: created_at,
            updated_by: author.id.clone(),
            deleted_at: None,
        };
        GeneratedItem { row, tags, grants }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn items_carry_the_grants_the_registry_gives_their_marking() {
        let mut rng = StdRng::seed_from_u64(3);
        let world = World::generate(&mut rng, 300);
        let generator = ItemGenerator::new(&world, 2_000, chrono::Utc::now().naive_utc());
        let mut tlps = BTreeSet::new();
        for n in 0..2_000 {
            let item = generator.item(&mut rng, n);
            let tlp: Tlp = item.row.tlp.parse().expect("a TLP");
            tlps.insert(item.row.tlp.clone());
            let author_org = world
                .users
                .iter()
                .find(|u| u.id == item.row.author_id)
                .map(|u| world.orgs[u.org].id.clone());
            assert_eq!(author_org.as_deref(), Some(item.row.owner_org_id.as_str()));
            match tlp {
                Tlp::Clear => assert_eq!(item.grants, BTreeSet::from([Grant::Public])),
                Tlp::Red => {
                    assert!(
                        item.grants
                            .contains(&Grant::User(item.row.author_id.clone()))
                    );
                    assert!(item.grants.iter().all(|g| matches!(g, Grant::User(_))));
                }
                Tlp::Amber | Tlp::AmberStrict => assert!(
                    item.grants
                        .contains(&Grant::Organization(item.row.owner_org_id.clone()))
                ),
                Tlp::Green => assert!(
                    item.grants.contains(&Grant::Platform)
                        || item
                            .grants
                            .contains(&Grant::Organization(item.row.owner_org_id.clone()))
                ),
            }
        }
        assert_eq!(tlps.len(), 5);
    }

    #[test]
    fn marker_words_come_in_their_shares() {
        let mut rng = StdRng::seed_from_u64(5);
        let world = World::generate(&mut rng, 100);
        let generator = ItemGenerator::new(&world, 20_000, chrono::Utc::now().naive_utc());
        let bodies: Vec<String> = (0..20_000)
            .map(|n| generator.item(&mut rng, n).row.body)
            .collect();
        for (_, marker, share) in TERM_CLASSES {
            let found = bodies
                .iter()
                .filter(|b| b.split(' ').any(|w| w == marker))
                .count() as f64
                / 20_000.0;
            assert!(
                (found - share).abs() < share * 0.35 + 0.001,
                "{marker}: {found}"
            );
        }
    }
}
