//! Text analysis shared by the SQLite index, query expansion and snippets: split text into
//! lower-case words (each Chinese or Japanese character a word of its own, Arabic vowel
//! marks dropped) and stem them with the Snowball stemmer of a language.

use std::str::FromStr;
use std::sync::OnceLock;

use rust_stemmers::{Algorithm, Stemmer};
use serde::{Deserialize, Serialize};

/// The language of an item: the six UN languages, or `other`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    Ar,
    Zh,
    En,
    Fr,
    Ru,
    Es,
    Other,
}

impl Language {
    pub const ALL: [Language; 7] = [
        Language::Ar,
        Language::Zh,
        Language::En,
        Language::Fr,
        Language::Ru,
        Language::Es,
        Language::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Language::Ar => "ar",
            Language::Zh => "zh",
            Language::En => "en",
            Language::Fr => "fr",
            Language::Ru => "ru",
            Language::Es => "es",
            Language::Other => "other",
        }
    }

    /// The Snowball algorithm for the language; Chinese and `other` are not stemmed.
    fn algorithm(self) -> Option<Algorithm> {
        match self {
            Language::Ar => Some(Algorithm::Arabic),
            Language::En => Some(Algorithm::English),
            Language::Fr => Some(Algorithm::French),
            Language::Ru => Some(Algorithm::Russian),
            Language::Es => Some(Algorithm::Spanish),
            Language::Zh | Language::Other => None,
        }
    }

    /// The languages with a stemmer, in a fixed order.
    pub const STEMMED: [Language; 5] = [
        Language::Ar,
        Language::En,
        Language::Fr,
        Language::Ru,
        Language::Es,
    ];
}

impl FromStr for Language {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Language::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| format!("unknown language {s:?}"))
    }
}

fn stemmer(language: Language) -> Option<&'static Stemmer> {
    static STEMMERS: OnceLock<Vec<(Language, Stemmer)>> = OnceLock::new();
    let all = STEMMERS.get_or_init(|| {
        Language::STEMMED
            .into_iter()
            .filter_map(|l| Some((l, Stemmer::create(l.algorithm()?))))
            .collect()
    });
    all.iter().find(|(l, _)| *l == language).map(|(_, s)| s)
}

/// The stem of one lower-case word in `language` (the word itself where there is no stemmer).
pub fn stem(word: &str, language: Language) -> String {
    match stemmer(language) {
        Some(s) => s.stem(word).into_owned(),
        None => word.to_owned(),
    }
}

/// Han ideographs and kana: written without spaces, so each character is a word.
pub fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3040}'..='\u{30ff}'
        | '\u{3400}'..='\u{4dbf}'
        | '\u{4e00}'..='\u{9fff}'
        | '\u{f900}'..='\u{faff}')
}

/// Arabic vowel marks and the tatweel: dropped, so vocalised and plain spellings match.
fn is_ignorable(c: char) -> bool {
    matches!(c, '\u{064b}'..='\u{065f}' | '\u{0670}' | '\u{0640}')
}

/// One word of a text: lower-cased, and where it sits (byte range) in the original.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub word: String,
    pub start: usize,
    pub end: usize,
}

/// Splits `text` into words: runs of letters and digits; each CJK character alone. Lazily:
/// a snippet stops reading at its end, and a long body's tail is never split.
pub fn tokens(text: &str) -> Tokens<'_> {
    Tokens {
        chars: text.char_indices(),
        current: None,
        next_cjk: None,
    }
}

/// The words of a text, in order; see [`tokens`].
pub struct Tokens<'a> {
    chars: std::str::CharIndices<'a>,
    /// The word being read.
    current: Option<Token>,
    /// A CJK character read just after a word ended, due next.
    next_cjk: Option<Token>,
}

impl Iterator for Tokens<'_> {
    type Item = Token;

    fn next(&mut self) -> Option<Token> {
        if let Some(cjk) = self.next_cjk.take() {
            return Some(cjk);
        }
        for (i, c) in self.chars.by_ref() {
            let end = i + c.len_utf8();
            if is_ignorable(c) {
                if let Some(t) = self.current.as_mut() {
                    t.end = end;
                }
                continue;
            }
            if is_cjk(c) && c.is_alphabetic() {
                let cjk = Token {
                    word: c.to_string(),
                    start: i,
                    end,
                };
                return match self.current.take() {
                    Some(word) => {
                        self.next_cjk = Some(cjk);
                        Some(word)
                    }
                    None => Some(cjk),
                };
            } else if c.is_alphanumeric() {
                let t = self.current.get_or_insert_with(|| Token {
                    word: String::new(),
                    start: i,
                    end,
                });
                // Only letters and digits: `İ` lower-cases to `i` and a combining dot.
                t.word
                    .extend(c.to_lowercase().filter(|l| l.is_alphanumeric()));
                t.end = end;
            } else if let Some(word) = self.current.take() {
                return Some(word);
            }
        }
        self.current.take()
    }
}

/// The indexed form of a text (SQLite): its words stemmed in `language`, space-separated.
pub fn analyze(text: &str, language: Language) -> String {
    let mut out = String::with_capacity(text.len());
    for token in tokens(text) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&stem(&token.word, language));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_inflections_share_a_stem() {
        assert_eq!(
            stem("terroristes", Language::Fr),
            stem("terrorisme", Language::Fr)
        );
    }

    #[test]
    fn words_are_lower_cased_and_split_on_punctuation() {
        let words: Vec<String> = tokens("L'Économie, e-mail 2026!").map(|t| t.word).collect();
        assert_eq!(words, ["l", "économie", "e", "mail", "2026"]);
    }

    #[test]
    fn each_cjk_character_is_a_word() {
        let words: Vec<String> = tokens("反恐怖主义abc").map(|t| t.word).collect();
        assert_eq!(words, ["反", "恐", "怖", "主", "义", "abc"]);
    }

    #[test]
    fn arabic_vowel_marks_are_ignored() {
        let plain = analyze("الإرهاب", Language::Ar);
        let voweled = analyze("الإِرْهَاب", Language::Ar);
        assert_eq!(plain, voweled);
    }

    #[test]
    fn lower_casing_adds_no_marks() {
        let words: Vec<String> = tokens("İstanbul").map(|t| t.word).collect();
        assert_eq!(words, ["istanbul"]);
    }

    #[test]
    fn token_ranges_point_into_the_original() {
        let text = "Ça va, 世界";
        for t in tokens(text) {
            assert_eq!(text[t.start..t.end].to_lowercase(), t.word);
        }
    }

    #[test]
    fn a_cjk_character_right_after_a_word_ends_it() {
        let text = "ab反c 世";
        let found: Vec<(String, usize, usize)> =
            tokens(text).map(|t| (t.word, t.start, t.end)).collect();
        assert_eq!(
            found,
            [
                ("ab".to_owned(), 0, 2),
                ("反".to_owned(), 2, 5),
                ("c".to_owned(), 5, 6),
                ("世".to_owned(), 7, 10),
            ]
        );
    }
}
