//! The `q` parameter in web-search syntax — words, `"quoted phrases"`, `-excluded` words or
//! phrases, and `or` between alternatives — parsed once and rendered for each backend:
//! PostgreSQL's `websearch_to_tsquery` and an FTS5 MATCH expression. Only analysed words
//! (letters and digits) reach either, so no input can inject the backends' own syntax.

use std::collections::BTreeSet;

use crate::RegistryError;
use crate::search::text::{Language, stem, tokens};

pub const MAX_QUERY_CHARS: usize = 500;
pub const MAX_ATOMS: usize = 32;

/// One thing to look for: a word, or words that must follow each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Atom {
    Word(String),
    Phrase(Vec<String>),
}

impl Atom {
    fn from_text(text: &str) -> Option<Atom> {
        let mut words: Vec<String> = tokens(text).map(|t| t.word).collect();
        match words.len() {
            0 => None,
            1 => words.pop().map(Atom::Word),
            _ => Some(Atom::Phrase(words)),
        }
    }

    pub fn words(&self) -> &[String] {
        match self {
            Atom::Word(w) => std::slice::from_ref(w),
            Atom::Phrase(ws) => ws,
        }
    }
}

/// Every clause must match (any one of its atoms), and no excluded atom may.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextQuery {
    pub all: Vec<Vec<Atom>>,
    pub none: Vec<Atom>,
}

fn invalid(message: impl Into<String>) -> RegistryError {
    RegistryError::invalid("q", message)
}

impl TextQuery {
    pub fn parse(q: &str) -> Result<TextQuery, RegistryError> {
        if q.chars().count() > MAX_QUERY_CHARS {
            return Err(invalid(format!("at most {MAX_QUERY_CHARS} characters")));
        }
        let mut all: Vec<Vec<Atom>> = Vec::new();
        let mut none = Vec::new();
        let mut pending_or = false;
        let mut rest = q;
        loop {
            rest = rest.trim_start();
            if rest.is_empty() {
                break;
            }
            let negated = rest.starts_with('-');
            if negated {
                rest = &rest[1..];
            }
            let (text, quoted);
            if let Some(inner) = rest.strip_prefix('"') {
                let end = inner.find('"').unwrap_or(inner.len());
                text = &inner[..end];
                rest = inner.get(end + 1..).unwrap_or("");
                quoted = true;
            } else {
                let end = rest
                    .find(|c: char| c.is_whitespace() || c == '"')
                    .unwrap_or(rest.len());
                text = &rest[..end];
                rest = &rest[end..];
                quoted = false;
            }
            if !negated && !quoted && text.eq_ignore_ascii_case("or") {
                pending_or = !all.is_empty();
                continue;
            }
            let Some(atom) = Atom::from_text(text) else {
                continue;
            };
            if negated {
                none.push(atom);
            } else if pending_or && let Some(last) = all.last_mut() {
                last.push(atom);
            } else {
                all.push(vec![atom]);
            }
            pending_or = false;
            if all.iter().map(Vec::len).sum::<usize>() + none.len() > MAX_ATOMS {
                return Err(invalid(format!("at most {MAX_ATOMS} words and phrases")));
            }
        }
        if all.is_empty() {
            return Err(invalid("give at least one word to look for"));
        }
        Ok(TextQuery { all, none })
    }

    /// For PostgreSQL's `websearch_to_tsquery`: every atom quoted, so a word such as `or`
    /// stays a word.
    pub fn to_websearch(&self) -> String {
        let quoted = |a: &Atom| format!("\"{}\"", a.words().join(" "));
        let mut parts: Vec<String> = self
            .all
            .iter()
            .map(|clause| clause.iter().map(quoted).collect::<Vec<_>>().join(" or "))
            .collect();
        parts.extend(self.none.iter().map(|a| format!("-{}", quoted(a))));
        parts.join(" ")
    }

    /// For SQLite FTS5 over analysed text: each word may match its stem in any language
    /// (the index holds stems in the item's own language) or itself.
    pub fn to_fts5(&self) -> String {
        let clauses: Vec<String> = self
            .all
            .iter()
            .map(|clause| {
                let alternatives: Vec<String> = clause.iter().map(fts5_atom).collect();
                format!("({})", alternatives.join(" OR "))
            })
            .collect();
        let mut expr = clauses.join(" AND ");
        if !self.none.is_empty() {
            let excluded: Vec<String> = self.none.iter().map(fts5_atom).collect();
            expr = format!("({expr}) NOT ({})", excluded.join(" OR "));
        }
        expr
    }

    /// The stems (in `language`) and words of what is looked for, for highlighting.
    pub fn highlight_terms(&self, language: Language) -> BTreeSet<String> {
        self.all
            .iter()
            .flatten()
            .flat_map(|a| a.words().iter())
            .flat_map(|w| [w.clone(), stem(w, language)])
            .collect()
    }
}

/// An atom as FTS5 alternatives: the phrase of its words as typed, and stemmed in each
/// language with a stemmer.
fn fts5_atom(atom: &Atom) -> String {
    let mut forms = BTreeSet::new();
    forms.insert(atom.words().join(" "));
    for language in Language::STEMMED {
        let stems: Vec<String> = atom.words().iter().map(|w| stem(w, language)).collect();
        forms.insert(stems.join(" "));
    }
    let forms: Vec<String> = forms.into_iter().map(|f| format!("\"{f}\"")).collect();
    format!("({})", forms.join(" OR "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(w: &str) -> Atom {
        Atom::Word(w.into())
    }

    #[test]
    fn words_phrases_exclusions_and_or() {
        let q = TextQuery::parse(r#"Financing "money laundering" -crypto sanctions OR embargo"#)
            .expect("test value");
        assert_eq!(
            q.all,
            vec![
                vec![word("financing")],
                vec![Atom::Phrase(vec!["money".into(), "laundering".into()])],
                vec![word("sanctions"), word("embargo")],
            ]
        );
        assert_eq!(q.none, vec![word("crypto")]);
        assert_eq!(
            q.to_websearch(),
            r#""financing" "money laundering" "sanctions" or "embargo" -"crypto""#
        );
    }

    #[test]
    fn a_cjk_run_is_a_phrase_of_characters() {
        let q = TextQuery::parse("恐怖主义").expect("test value");
        assert_eq!(
            q.all,
            vec![vec![Atom::Phrase(
                ["恐", "怖", "主", "义"].map(String::from).to_vec()
            )]]
        );
    }

    #[test]
    fn syntax_characters_never_reach_the_backend() {
        let q = TextQuery::parse(r#"a" OR NEAR(b* ^c) -"d:e""#).expect("test value");
        for rendered in [q.to_fts5(), q.to_websearch()] {
            // What the user typed is only ever inside quotes, as letters, digits and spaces.
            let quoted_parts_are_plain = rendered.split('"').enumerate().all(|(i, part)| {
                i % 2 == 0 || part.chars().all(|c| c.is_alphanumeric() || c == ' ')
            });
            assert!(quoted_parts_are_plain, "{rendered}");
            assert!(!rendered.contains("NEAR"), "{rendered}");
        }
    }

    #[test]
    fn nothing_to_look_for_is_refused() {
        for q in ["", "   ", "-alone", "or", "!!!"] {
            assert!(TextQuery::parse(q).is_err(), "{q:?}");
        }
    }

    #[test]
    fn fts5_expands_a_word_to_its_stems() {
        let q = TextQuery::parse("terroristes").expect("test value");
        let fts = q.to_fts5();
        assert!(fts.contains("\"terroristes\""), "{fts}");
        assert!(fts.contains("\"terror\""), "{fts}");
    }
}
