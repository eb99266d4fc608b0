//! Validated names and descriptions, and the comparison key under which two names are the same.

use std::collections::BTreeSet;

use unicode_normalization::UnicodeNormalization;

use super::{MAX_TEXT_CHARS, bounded_text};
use crate::error::{Error, Result};

/// The longest description accepted, for groups, roles, tenants and permissions.
const MAX_DESCRIPTION_CHARS: usize = 1024;

/// The form under which two names are the same: Unicode lowercase, NFC-normalised. It is computed
/// here, once, and stored beside the name, because the databases disagree: SQLite's `lower()`
/// folds ASCII only, and PostgreSQL's follows the database's collation.
pub fn comparison_key(text: &str) -> String {
    text.to_lowercase().nfc().collect()
}

/// What a List call's `query` is matched against: the comparison keys of the searchable fields,
/// one per line, so that a match never spans two fields unless the query holds a line break.
pub fn search_key(fields: &[&str]) -> String {
    fields
        .iter()
        .map(|field| comparison_key(field))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The substrings of a search key whose counts steer the user search (see `store/search.rs`):
/// each distinct run of three characters, and the empty string, which every key contains, so
/// that its count is the number of keys.
pub fn search_trigrams(key: &str) -> BTreeSet<String> {
    let chars: Vec<char> = key.chars().collect();
    let mut trigrams: BTreeSet<String> = chars.windows(3).map(String::from_iter).collect();
    trigrams.insert(String::new());
    trigrams
}

/// Whether a character separates the words of a search key: any ASCII character but a letter or
/// digit. It is the split SQLite's FTS5 `ascii` tokenizer makes, and the one PostgreSQL's word
/// index makes with a regular expression (migrations `0007_user_search_words`), so all three
/// agree on what a word is.
fn separates_words(c: char) -> bool {
    c.is_ascii() && !c.is_ascii_alphanumeric()
}

/// The distinct words of a search key, whose counts steer the user search like its trigrams'.
pub fn search_words(key: &str) -> BTreeSet<String> {
    key.split(separates_words)
        .filter(|word| !word.is_empty())
        .map(String::from)
        .collect()
}

/// The words of a query that every text containing it holds whole: those with a separator on
/// both sides within the query. (The first and last may be the ends of longer words.)
pub fn whole_words(query: &str) -> Vec<&str> {
    let parts: Vec<&str> = query.split(separates_words).collect();
    match parts.as_slice() {
        [_, inner @ .., _] => inner.iter().copied().filter(|w| !w.is_empty()).collect(),
        _ => Vec::new(),
    }
}

/// The name of a group, role, tenant or IAM: required, trimmed, bounded, unique ignoring case
/// among its kind.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct Name(String);

impl Name {
    pub fn parse(field: &str, text: &str) -> Result<Self> {
        bounded_text(field, text, MAX_TEXT_CHARS).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn key(&self) -> String {
        comparison_key(&self.0)
    }
}

/// A description: optional (empty when not given), trimmed, bounded.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct Description(String);

impl Description {
    pub fn parse(field: &str, text: &str) -> Result<Self> {
        if text.trim().is_empty() {
            Ok(Self::default())
        } else {
            bounded_text(field, text, MAX_DESCRIPTION_CHARS).map(Self)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An attribute name: bounded, without whitespace.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct AttributeName(String);

impl AttributeName {
    pub fn parse(field: &str, text: &str) -> Result<Self> {
        let name = bounded_text(field, text, MAX_TEXT_CHARS)?;
        if name.chars().any(char::is_whitespace) {
            return Err(Error::invalid(field, "must not contain whitespace"));
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_fold_case_beyond_ascii_and_normalise() {
        assert_eq!(comparison_key("Émile@Example.com"), "émile@example.com");
        assert_eq!(
            comparison_key("E\u{301}mile"),
            comparison_key("\u{c9}mile"),
            "decomposed and precomposed É are the same name"
        );
        assert_eq!(comparison_key("STRASSE"), "strasse");
        assert_ne!(comparison_key("Ada"), comparison_key("Adam"));
        assert_eq!(search_key(&["Ada L", "ADA@X.COM"]), "ada l\nada@x.com");
    }

    #[test]
    fn whole_words_are_those_with_a_separator_on_both_sides() {
        let key = search_key(&["Ada Lovelace", "ada.lovelace.0500000@example.com"]);
        assert_eq!(
            search_words(&key),
            BTreeSet::from(["0500000", "ada", "com", "example", "lovelace"].map(String::from))
        );
        assert_eq!(whole_words("ce.0500000@example.c"), ["0500000", "example"]);
        assert_eq!(whole_words("émile.zoë"), Vec::<&str>::new());
        assert_eq!(whole_words("@émile_"), ["émile"]);
        assert_eq!(whole_words("a..b"), Vec::<&str>::new());
    }

    proptest::proptest! {
        /// A text that contains a query holds every whole word of the query among its words, so
        /// looking a whole word up never misses a match.
        #[test]
        fn texts_holding_a_query_hold_its_whole_words(
            text in "[a-cé0-1.@ _%\n]{0,30}",
            start in 0usize..30,
            len in 0usize..30,
        ) {
            let chars: Vec<char> = text.chars().collect();
            let start = start.min(chars.len());
            let end = (start + len).min(chars.len());
            let query: String = chars[start..end].iter().collect();
            let words = search_words(&text);
            for word in whole_words(&query) {
                proptest::prop_assert!(words.contains(word), "{word:?} of {query:?} in {text:?}");
            }
        }
    }

    #[test]
    fn names_and_descriptions_are_checked() {
        assert_eq!(Name::parse("name", "  Ops ").unwrap().as_str(), "Ops");
        assert!(Name::parse("name", " ").is_err());
        assert!(Name::parse("name", &"x".repeat(MAX_TEXT_CHARS + 1)).is_err());
        assert_eq!(
            Description::parse("description", "  ").unwrap().as_str(),
            ""
        );
        let long = "x".repeat(MAX_DESCRIPTION_CHARS + 1);
        assert!(Description::parse("description", &long).is_err());
        assert!(AttributeName::parse("attribute", "two words").is_err());
        assert_eq!(
            AttributeName::parse("attribute", "dept").unwrap().as_str(),
            "dept"
        );
    }
}
