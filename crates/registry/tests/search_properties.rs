//! Properties of the search input handling: whatever a client sends as `q` or `cursor`,
//! parsing never panics, never lets backend syntax through, and cursors round-trip.

use chrono::DateTime;
use proptest::prelude::*;

use compact_registry::search::Cursor;
use compact_registry::search::query::TextQuery;
use compact_registry::search::snippet;
use compact_registry::search::text::{Language, analyze};

/// What may appear in a rendered query besides quoted words: the renderers' own syntax.
fn only_plain_words_inside_quotes(rendered: &str) -> bool {
    rendered
        .split('"')
        .enumerate()
        .all(|(i, part)| i % 2 == 0 || part.chars().all(|c| c.is_alphanumeric() || c == ' '))
}

fn outside_quotes(rendered: &str) -> String {
    rendered
        .split('"')
        .enumerate()
        .filter(|(i, _)| i % 2 == 0)
        .map(|(_, p)| p)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn any_query_parses_or_is_refused_and_renders_safely(q in "\\PC{0,80}|[\"()*:^+\\- a-zA-Zé恐怖]{0,40}") {
        if let Ok(parsed) = TextQuery::parse(&q) {
            let fts = parsed.to_fts5();
            let web = parsed.to_websearch();
            prop_assert!(only_plain_words_inside_quotes(&fts), "{}", fts);
            prop_assert!(only_plain_words_inside_quotes(&web), "{}", web);
            // Outside quotes only the renderers' syntax appears.
            prop_assert!(outside_quotes(&fts).chars().all(|c| "()ANDORNT ".contains(c)), "{}", fts);
            prop_assert!(outside_quotes(&web).chars().all(|c| "-or ".contains(c)), "{}", web);
            prop_assert!(!parsed.all.is_empty());
        }
    }

    #[test]
    fn any_cursor_token_decodes_or_is_refused(token in "\\PC{0,120}") {
        let _ = Cursor::decode(&token);
    }

    #[test]
    fn cursors_round_trip(micros in 0i64..4_000_000_000_000_000, id in "[a-f0-9-]{1,36}", score in -1e6f64..1e6) {
        let newest = Cursor::Newest {
            created_at: DateTime::from_timestamp_micros(micros).expect("instant").naive_utc(),
            id: id.clone(),
        };
        prop_assert_eq!(Cursor::decode(&newest.encode()).expect("decode"), newest);
        let ranked = Cursor::Relevance { score, id };
        prop_assert_eq!(Cursor::decode(&ranked.encode()).expect("decode"), ranked);
    }

    #[test]
    fn analysis_and_snippets_never_panic(text in "\\PC{0,300}", q in "[a-zé恐 ]{1,20}") {
        let parsed = TextQuery::parse(&q).ok();
        let mut highlighter = parsed.as_ref().map(snippet::Highlighter::new);
        for language in Language::ALL {
            let _ = analyze(&text, language);
            if let Some(highlighter) = highlighter.as_mut()
                && let Some(s) = highlighter.snippet(&text, language)
            {
                let without_marks = s.replace("<mark>", "").replace("</mark>", "");
                prop_assert!(!without_marks.contains('<') && !without_marks.contains('>'), "{}", s);
            }
        }
    }
}
