//! Highlighted snippets, made for the few items of a result page only: the part of a text
//! around its first matching word, HTML-escaped, with matches wrapped in `<mark>`.

use std::collections::{BTreeSet, HashMap};

use crate::search::query::TextQuery;
use crate::search::text::{Language, tokens, with_stem};

/// About this many characters of context are kept around the first match.
const CONTEXT_BEFORE: usize = 60;
const SNIPPET_CHARS: usize = 240;

/// The snippets of one query's result page: per language, the query's terms (its words and
/// their stems). Stems come from the thread's cache ([`with_stem`]): stemming is the dear
/// part of a snippet, and a page's texts share most of their words.
pub struct Highlighter<'q> {
    query: &'q TextQuery,
    languages: HashMap<Language, BTreeSet<String>>,
}

impl<'q> Highlighter<'q> {
    pub fn new(query: &'q TextQuery) -> Self {
        Highlighter {
            query,
            languages: HashMap::new(),
        }
    }

    /// The snippet of `text`, or None when no word of it matches the query in `language`.
    pub fn snippet(&mut self, text: &str, language: Language) -> Option<String> {
        let query = self.query;
        let terms = self
            .languages
            .entry(language)
            .or_insert_with(|| query.highlight_terms(language));
        snippet(text, language, terms)
    }
}

/// The snippet of `text`, or None when no word of it matches `terms`.
fn snippet(text: &str, language: Language, terms: &BTreeSet<String>) -> Option<String> {
    // No word after the snippet's end is read (a long document's body once cost a stem
    // per word).
    let mut hits: Vec<(usize, usize)> = Vec::new();
    let mut window: Option<(usize, usize)> = None;
    // A word shorter than every term cannot match: neither it nor its stem (stemming never
    // lengthens a word, see `text::tests`) is a term. Most words of a text are that short,
    // and each was a stem-cache lookup.
    let shortest = terms.iter().map(String::len).min().unwrap_or(0);
    let mut words = tokens(text);
    let mut word = String::new();
    while let Some((word_start, word_end)) = words.next_into(&mut word) {
        if window.is_some_and(|(_, end)| word_end > end) {
            break;
        }
        let matched = word.len() >= shortest
            && (terms.contains(&word) || with_stem(&word, language, |stem| terms.contains(stem)));
        if matched {
            if window.is_none() {
                let start = char_boundary_back(text, word_start, CONTEXT_BEFORE);
                window = Some((start, char_boundary_forward(text, start, SNIPPET_CHARS)));
            }
            hits.push((word_start, word_end));
        }
    }
    let (start, end) = window?;
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    let mut at = start;
    for &(s, e) in hits.iter().filter(|(s, e)| *s >= start && *e <= end) {
        escape_into(&mut out, &text[at..s]);
        out.push_str("<mark>");
        escape_into(&mut out, &text[s..e]);
        out.push_str("</mark>");
        at = e;
    }
    escape_into(&mut out, &text[at..end]);
    if end < text.len() {
        out.push('…');
    }
    Some(out)
}

/// The opening of a text, escaped, when it has no match to show.
pub fn opening(text: &str) -> String {
    let end = char_boundary_forward(text, 0, SNIPPET_CHARS);
    let mut out = String::new();
    escape_into(&mut out, &text[..end]);
    if end < text.len() {
        out.push('…');
    }
    out
}

fn char_boundary_back(text: &str, from: usize, chars: usize) -> usize {
    text[..from]
        .char_indices()
        .rev()
        .nth(chars.saturating_sub(1))
        .map_or(0, |(i, _)| i)
}

fn char_boundary_forward(text: &str, from: usize, chars: usize) -> usize {
    text[from..]
        .char_indices()
        .nth(chars)
        .map_or(text.len(), |(i, _)| from + i)
}

fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\r' | '\t' => out.push(' '),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snippet_of(query: &str, text: &str, language: Language) -> Option<String> {
        let q = TextQuery::parse(query).expect("test value");
        Highlighter::new(&q).snippet(text, language)
    }

    #[test]
    fn marks_stemmed_matches_and_escapes_the_rest() {
        let s = snippet_of(
            "terroristes",
            "<b>Lutte</b> contre le terrorisme & ses réseaux",
            Language::Fr,
        )
        .expect("test value");
        assert_eq!(
            s,
            "&lt;b&gt;Lutte&lt;/b&gt; contre le <mark>terrorisme</mark> &amp; ses réseaux"
        );
    }

    #[test]
    fn long_texts_are_cut_around_the_first_match() {
        let text = format!("{} needle {}", "word ".repeat(100), "tail ".repeat(100));
        let s = snippet_of("needle", &text, Language::En).expect("test value");
        assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
        assert!(s.contains("<mark>needle</mark>"));
        assert!(s.chars().count() < SNIPPET_CHARS + 40);
    }

    #[test]
    fn every_match_inside_the_cut_is_marked_and_none_after_it() {
        let text = format!("needle hay needle {} needle", "hay ".repeat(100));
        let s = snippet_of("needle", &text, Language::En).expect("test value");
        assert!(
            s.starts_with("<mark>needle</mark> hay <mark>needle</mark> hay"),
            "{s}"
        );
        assert_eq!(s.matches("<mark>").count(), 2, "{s}");
        assert!(s.ends_with('…'));
    }

    #[test]
    fn no_match_no_snippet() {
        assert_eq!(snippet_of("absent", "nothing here", Language::En), None);
    }

    #[test]
    fn one_highlighter_for_many_texts_and_languages_changes_no_snippet() {
        let q = TextQuery::parse("terroristes").expect("test value");
        let texts = [
            ("Lutte contre le terrorisme", Language::Fr),
            ("The terrorism report", Language::En),
            ("Le terrorisme, encore", Language::Fr),
            ("terrorist networks", Language::En),
        ];
        let mut page = Highlighter::new(&q);
        for (text, language) in texts {
            assert_eq!(
                page.snippet(text, language),
                Highlighter::new(&q).snippet(text, language),
                "{text}"
            );
        }
    }
}
