//! Synthetic vocabularies of the six UN languages: word number k is spelled from the
//! language's syllables (or, for Chinese, is one ideograph), so frequent words are short,
//! every language has its own script, and the same seed always gives the same text.

use compact_registry::search::text::Language;

/// The languages of generated items and their shares of the items (percent).
pub const LANGUAGE_MIX: [(Language, u32); 6] = [
    (Language::En, 40),
    (Language::Fr, 20),
    (Language::Es, 12),
    (Language::Ar, 10),
    (Language::Ru, 10),
    (Language::Zh, 8),
];

/// Words per language vocabulary (Chinese: ideographs).
pub const VOCABULARY: usize = 50_000;
pub const CHINESE_VOCABULARY: usize = 6_000;

const EN: &[&str] = &[
    "the", "con", "ter", "ri", "sm", "ex", "pro", "tion", "al", "ing", "re", "de", "fi", "nan",
    "ce", "sec", "ur", "it", "co", "or", "di", "na", "ate", "mi", "port", "ment", "le", "ga", "cy",
    "bor", "der", "ra", "ly",
];
const FR: &[&str] = &[
    "le", "de", "con", "tre", "ment", "ter", "ro", "ris", "me", "é", "tion", "pro", "cé", "du",
    "re", "sé", "cu", "ri", "té", "na", "ré", "gi", "on", "au", "pa", "ys", "fi", "nan", "ces",
    "lo", "ir",
];
const ES: &[&str] = &[
    "el", "la", "de", "con", "tra", "ter", "ro", "ris", "mo", "ción", "pro", "se", "gu", "ri",
    "dad", "na", "re", "gio", "nal", "pa", "ís", "fi", "nan", "cia", "ley", "jus", "ti",
];
const RU: &[&str] = &[
    "про",
    "тив",
    "де",
    "тер",
    "ро",
    "ри",
    "зм",
    "бе",
    "зо",
    "пас",
    "ность",
    "на",
    "ци",
    "о",
    "раз",
    "ви",
    "ти",
    "е",
    "ре",
    "ги",
    "он",
    "стра",
    "ны",
    "ми",
    "ра",
    "за",
    "кон",
    "фи",
];
const AR: &[&str] = &[
    "ال", "إر", "ها", "ب", "مك", "ا", "فح", "ة", "تم", "وي", "ل", "أم", "ن", "دو", "لي", "تع",
    "ون", "قا", "نو", "ح", "كو", "م", "س", "ي", "ر", "ع", "د",
];

fn syllables(language: Language) -> &'static [&'static str] {
    match language {
        Language::Fr => FR,
        Language::Es => ES,
        Language::Ru => RU,
        Language::Ar => AR,
        _ => EN,
    }
}

/// Word number `rank` (0 = most frequent) of `language`.
pub fn word(language: Language, rank: usize) -> String {
    if language == Language::Zh {
        // Spread over the common block, frequent ranks first.
        let code = 0x4e00 + (rank * 7_919) % 20_000;
        return char::from_u32(code as u32).unwrap_or('中').to_string();
    }
    let syl = syllables(language);
    let mut n = rank + 1;
    let mut out = String::new();
    while n > 0 {
        out.push_str(syl[n % syl.len()]);
        n /= syl.len();
    }
    out
}

/// Topic tags (lower case, as the registry checks them).
pub const TAGS: [&str; 40] = [
    "financing",
    "border-security",
    "aviation",
    "cyber",
    "prevention",
    "radicalisation",
    "foreign-fighters",
    "sanctions",
    "victims",
    "human-rights",
    "maritime",
    "chemical",
    "biological",
    "nuclear",
    "legal-assistance",
    "capacity-building",
    "youth",
    "gender",
    "online",
    "weapons",
    "prisons",
    "rehabilitation",
    "critical-infrastructure",
    "soft-targets",
    "drones",
    "crypto-assets",
    "hate-speech",
    "kidnapping",
    "explosives",
    "watchlists",
    "biometrics",
    "api-pnr",
    "cultural-property",
    "small-arms",
    "organised-crime",
    "migration",
    "education",
    "media",
    "research",
    "evaluation",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_distinct_enough_and_in_their_script() {
        let en: std::collections::HashSet<String> =
            (0..5_000).map(|k| word(Language::En, k)).collect();
        assert!(en.len() > 4_500, "{}", en.len());
        assert!(
            word(Language::Ru, 3)
                .chars()
                .all(|c| ('а'..='я').contains(&c))
        );
        assert!(word(Language::Zh, 0).chars().count() == 1);
    }
}
