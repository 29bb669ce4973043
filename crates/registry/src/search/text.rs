//! Text analysis shared by the SQLite index, query expansion and snippets: split text into
//! lower-case words (each Chinese or Japanese character a word of its own, Arabic vowel
//! marks dropped) and stem them with the Snowball stemmer of a language.

use std::cell::RefCell;
use std::collections::HashMap;
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

fn stemmer(language: Language) -> Option<(usize, &'static Stemmer)> {
    static STEMMERS: OnceLock<Vec<(Language, Stemmer)>> = OnceLock::new();
    let all = STEMMERS.get_or_init(|| {
        Language::STEMMED
            .into_iter()
            .filter_map(|l| Some((l, Stemmer::create(l.algorithm()?))))
            .collect()
    });
    all.iter()
        .enumerate()
        .find(|(_, (l, _))| *l == language)
        .map(|(slot, (_, s))| (slot, s))
}

/// Words stemmed on this thread lately, per stemmer (as [`stemmer`] numbers them), each map
/// emptied once it holds [`STEM_CACHE_WORDS`]; words longer than [`STEM_CACHE_WORD_BYTES`]
/// (codes, addresses) are not kept. A result page's snippets stem every word of its texts up
/// to their first match, and the same words come back page after page: stemming was a fifth
/// of a search's server time at a million items.
const STEM_CACHE_WORDS: usize = 8_192;
const STEM_CACHE_WORD_BYTES: usize = 48;

thread_local! {
    static STEMS: RefCell<[HashMap<Box<str>, Box<str>>; Language::STEMMED.len()]> =
        RefCell::default();
}

/// The stem of one lower-case word in `language` (the word itself where there is no stemmer).
pub fn stem(word: &str, language: Language) -> String {
    with_stem(word, language, str::to_owned)
}

/// Calls `f` with the stem of one lower-case word in `language`, without copying it. `f` must
/// not stem (the thread's cache is borrowed meanwhile).
pub(crate) fn with_stem<R>(word: &str, language: Language, f: impl FnOnce(&str) -> R) -> R {
    let Some((slot, stemmer)) = stemmer(language) else {
        return f(word);
    };
    if word.len() > STEM_CACHE_WORD_BYTES {
        return f(&stemmer.stem(word));
    }
    STEMS.with_borrow_mut(|maps| {
        let known = &mut maps[slot];
        if let Some(stem) = known.get(word) {
            return f(stem);
        }
        if known.len() >= STEM_CACHE_WORDS {
            known.clear();
        }
        let stem: Box<str> = stemmer.stem(word).into();
        let found = f(&stem);
        known.insert(word.into(), stem);
        found
    })
}

/// Han ideographs and kana: written without spaces, so each character is a word.
pub fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3040}'..='\u{30ff}'
        | '\u{3400}'..='\u{4dbf}'
        | '\u{4e00}'..='\u{9fff}'
        | '\u{f900}'..='\u{faff}')
}

/// A letter or digit. ASCII, Latin-1's letters, the basic Cyrillic block and the Arabic
/// letters are told apart by range first: Unicode's tables (searched for every other
/// character) took a tenth of a search's server time on Arabic and Russian snippets.
fn is_word_char(c: char) -> bool {
    match c {
        'a'..='z' | 'A'..='Z' | '0'..='9' => true,
        '\u{00c0}'..='\u{00ff}' => c != '\u{00d7}' && c != '\u{00f7}',
        '\u{0400}'..='\u{0481}' => true,
        '\u{0621}'..='\u{063a}' | '\u{0641}'..='\u{064a}' => true,
        _ => !c.is_ascii() && c.is_alphanumeric(),
    }
}

/// Appends `c`, a letter or digit ([`is_word_char`]), lower-cased, keeping only letters and
/// digits: `İ` lower-cases to `i` and a combining dot. Common characters that are lower
/// case already, or have no case, take a short way.
fn push_lower(word: &mut String, c: char) {
    match c {
        'a'..='z' | '0'..='9' => word.push(c),
        'A'..='Z' => word.push(c.to_ascii_lowercase()),
        '\u{00df}'..='\u{00ff}' | '\u{0430}'..='\u{045f}' => word.push(c),
        '\u{0621}'..='\u{063a}' | '\u{0641}'..='\u{064a}' => word.push(c),
        _ => word.extend(c.to_lowercase().filter(|l| l.is_alphanumeric())),
    }
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
        next_cjk: None,
    }
}

/// The words of a text, in order; see [`tokens`]. As an iterator each word is a new
/// `String`; [`Tokens::next_into`] fills one buffer instead.
pub struct Tokens<'a> {
    chars: std::str::CharIndices<'a>,
    /// A CJK character read just after a word ended, due next: itself and its byte range.
    next_cjk: Option<(char, usize, usize)>,
}

impl Tokens<'_> {
    /// The next word, lower-cased into `word` (emptied first), and its byte range in the
    /// text; None after the last. Snippets and the SQLite index read every word of long
    /// texts: a `String` per word (and its growing) was a sixth of a search page's work.
    pub fn next_into(&mut self, word: &mut String) -> Option<(usize, usize)> {
        word.clear();
        if let Some((c, start, end)) = self.next_cjk.take() {
            word.push(c);
            return Some((start, end));
        }
        let mut range: Option<(usize, usize)> = None;
        for (i, c) in self.chars.by_ref() {
            let end = i + c.len_utf8();
            if is_ignorable(c) {
                if let Some(range) = range.as_mut() {
                    range.1 = end;
                }
                continue;
            }
            if is_cjk(c) && c.is_alphabetic() {
                if range.is_some() {
                    self.next_cjk = Some((c, i, end));
                    return range;
                }
                word.push(c);
                return Some((i, end));
            } else if is_word_char(c) {
                push_lower(word, c);
                range.get_or_insert((i, end)).1 = end;
            } else if range.is_some() {
                return range;
            }
        }
        range
    }
}

impl Iterator for Tokens<'_> {
    type Item = Token;

    fn next(&mut self) -> Option<Token> {
        let mut word = String::new();
        let (start, end) = self.next_into(&mut word)?;
        Some(Token { word, start, end })
    }
}

/// The indexed form of a text (SQLite): its words stemmed in `language`, space-separated.
pub fn analyze(text: &str, language: Language) -> String {
    let mut out = String::with_capacity(text.len());
    let mut words = tokens(text);
    let mut word = String::new();
    while words.next_into(&mut word).is_some() {
        if !out.is_empty() {
            out.push(' ');
        }
        with_stem(&word, language, |stem| out.push_str(stem));
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

    /// The short ways agree with Unicode's tables on every character.
    #[test]
    fn short_ways_agree_with_the_unicode_tables() {
        for c in (0..=0x10ffff).filter_map(char::from_u32) {
            assert_eq!(is_word_char(c), c.is_alphanumeric(), "{c:?}");
            if c.is_alphanumeric() {
                let mut fast = String::new();
                push_lower(&mut fast, c);
                let slow: String = c.to_lowercase().filter(|l| l.is_alphanumeric()).collect();
                assert_eq!(fast, slow, "{c:?}");
            }
        }
    }

    #[test]
    fn stems_are_the_same_from_the_cache() {
        for _ in 0..2 {
            assert_eq!(stem("terroristes", Language::Fr), "terror");
            assert_eq!(stem("running", Language::En), "run");
            assert_eq!(stem("running", Language::Zh), "running");
        }
        // Past the cache's size, every stem is still the stemmer's.
        let english = Stemmer::create(Algorithm::English);
        for n in 0..STEM_CACHE_WORDS + 10 {
            let word = format!("walk{n}ing");
            assert_eq!(stem(&word, Language::En), english.stem(&word));
        }
        assert_eq!(stem("running", Language::En), "run");
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

    #[test]
    fn one_reused_buffer_reads_every_word_and_its_range() {
        let text = "Économie ab反c 世 الْكِتَاب, İstanbul e-mail 2026! Ça";
        let mut words = tokens(text);
        let mut word = String::from("left over");
        let mut read = Vec::new();
        while let Some((start, end)) = words.next_into(&mut word) {
            read.push((word.clone(), start, end));
        }
        let expected = [
            ("économie", 0, 9),
            ("ab", 10, 12),
            ("反", 12, 15),
            ("c", 15, 16),
            ("世", 17, 20),
            ("الكتاب", 21, 39),
            ("istanbul", 41, 50),
            ("e", 51, 52),
            ("mail", 53, 57),
            ("2026", 58, 62),
            ("ça", 64, 67),
        ]
        .map(|(w, s, e)| (w.to_owned(), s, e));
        assert_eq!(read, expected);
        let fresh: Vec<(String, usize, usize)> =
            tokens(text).map(|t| (t.word, t.start, t.end)).collect();
        assert_eq!(fresh, expected);
    }

    /// Snippets skip words shorter than every query term (`snippet.rs`), which is sound only
    /// if no stemmer makes a word longer, in bytes.
    #[test]
    fn stemming_never_lengthens_a_word() {
        let exceptions = [
            "skies",
            "dying",
            "ugly",
            "news",
            "succeeded",
            "generalizations",
            "happily",
            "valencies",
            "éléphants",
            "nationaux",
            "árboles",
            "canciones",
            "ёлками",
            "مكتبات",
        ];
        for word in exceptions {
            for language in Language::STEMMED {
                assert!(
                    stem(word, language).len() <= word.len(),
                    "{word} in {language:?}"
                );
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn no_stem_is_longer_than_its_word(
            word in "[a-zà-öø-ÿœ]{1,24}|[а-яё]{1,24}|[\u{0621}-\u{063a}\u{0641}-\u{064a}]{1,16}",
        ) {
            for language in Language::STEMMED {
                let stemmed = stem(&word, language);
                proptest::prop_assert!(stemmed.len() <= word.len(), "{word} -> {stemmed} in {language:?}");
            }
        }
    }
}
