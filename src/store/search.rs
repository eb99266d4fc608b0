//! How the matches of a ListUsers query are looked up.
//!
//! Both trigram indexes (pg_trgm's GIN, SQLite's FTS5 trigram table) answer `LIKE '%text%'` by
//! reading the posting list of every trigram of the text. A query such as a whole email holds
//! trigrams every user has (`@ex`, `com`): read in full, they made a one-match search at a
//! million users cost 100 ms and more, growing with the table. So the index is given only the
//! query's rarest trigrams, judged on exact counts kept with every write
//! (`user_search_trigrams`), and the exact pattern is checked on the rows it returns. Any
//! substrings of the query, in order, match at least what the query matches, so the choice
//! changes the cost of a search, never its answer.
//!
//! Even the rarest trigrams of a long query span thousands of users at a million (`500` and
//! `000` in `0500000`), while its words are far rarer. A word with a separator on both sides
//! within the query is held whole by every key that contains the query, so when the query has
//! one whose count (`user_search_word_counts`) promises fewer candidates, the word index is
//! asked for it instead: one short posting list, whatever the size of the table.

use std::collections::{BTreeSet, HashMap};

use super::db::{Conn, Sql, query};
use super::queries::{index_pattern, users as sql};
use crate::domain::name::{search_trigrams, search_words, whole_words};
use crate::error::Result;

/// What reading one posting costs, in candidate rows fetched and rechecked. Measured on an
/// FTS5 trigram table of a million users: about 16 ns a posting against 4 µs a candidate (a
/// GIN posting and a heap recheck on PostgreSQL are in the same proportion).
const POSTING_COST: f64 = 1.0 / 256.0;

/// Which index a search reads its candidates from.
pub(super) enum Lookup {
    /// The trigram index, given a `%part%part%` pattern of the query's rarest trigrams.
    Trigrams(String),
    /// The word index, given one of the query's whole words.
    Word(String),
}

/// Keeps the trigram and word counts in step with one user's search key: `old` before the
/// write (None for a new user), `new` after it (None for a deleted one).
pub(super) async fn count(conn: &mut Conn<'_>, old: Option<&str>, new: Option<&str>) -> Result<()> {
    add_counts(conn, sql::COUNT_TRIGRAMS, search_trigrams, old, new).await?;
    add_counts(conn, sql::COUNT_WORDS, search_words, old, new).await
}

async fn add_counts(
    conn: &mut Conn<'_>,
    statement: Sql,
    parts: fn(&str) -> BTreeSet<String>,
    old: Option<&str>,
    new: Option<&str>,
) -> Result<()> {
    let (old, new) = (
        old.map(parts).unwrap_or_default(),
        new.map(parts).unwrap_or_default(),
    );
    let difference = |a: &BTreeSet<String>, b: &BTreeSet<String>| -> Vec<String> {
        a.difference(b).cloned().collect()
    };
    for (changed, delta) in [(difference(&new, &old), 1), (difference(&old, &new), -1)] {
        if !changed.is_empty() {
            conn.execute(query(statement).bind(changed.as_slice()).bind(delta))
                .await?;
        }
    }
    Ok(())
}

/// How the matches of a query (a search key's text) are looked up: by its rarest whole word or
/// its rarest trigrams, whichever promises less work.
pub(super) async fn lookup(conn: &mut Conn<'_>, text: &str) -> Result<Lookup> {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() < 3 {
        return Ok(Lookup::Trigrams(index_pattern(&[text])));
    }
    let trigrams: Vec<String> = search_trigrams(text).into_iter().collect();
    let counts: HashMap<String, i64> = conn
        .fetch_all::<(String, i64)>(query(sql::TRIGRAM_COUNTS).bind(trigrams.as_slice()))
        .await?
        .into_iter()
        .collect();
    let (pattern, trigram_cost) = rarest_parts(&chars, &counts);
    let words: Vec<String> = whole_words(text).into_iter().map(String::from).collect();
    if words.is_empty() {
        return Ok(Lookup::Trigrams(pattern));
    }
    let word_counts: HashMap<String, i64> = conn
        .fetch_all::<(String, i64)>(query(sql::WORD_COUNTS).bind(words.as_slice()))
        .await?
        .into_iter()
        .collect();
    let rarest = words
        .into_iter()
        .map(|word| (word_counts.get(&word).copied().unwrap_or_default(), word))
        .min();
    Ok(match rarest {
        Some((users, word)) if (users.max(0) as f64) * (1.0 + POSTING_COST) < trigram_cost => {
            Lookup::Word(word)
        }
        _ => Lookup::Trigrams(pattern),
    })
}

/// Adds trigrams from the rarest up while the estimated cost (postings read, plus candidates
/// fetched) falls, then joins the chosen ones that overlap in the text into one part each. The
/// rarest trigram is always taken. Returns the pattern and its estimated cost.
fn rarest_parts(chars: &[char], counts: &HashMap<String, i64>) -> (String, f64) {
    let users = counts.get("").copied().unwrap_or_default().max(1) as f64;
    // A trigram holding a LIKE wildcard cannot be looked up: it is worth no more than none.
    let count = |trigram: &str| {
        if trigram.contains(['%', '_', '\\']) {
            users
        } else {
            counts.get(trigram).copied().unwrap_or_default().max(0) as f64
        }
    };
    let mut firsts: Vec<(f64, usize)> = Vec::new();
    let mut seen = BTreeSet::new();
    for (at, window) in chars.windows(3).enumerate() {
        let trigram = String::from_iter(window);
        if seen.insert(trigram.clone()) {
            firsts.push((count(&trigram), at));
        }
    }
    firsts.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));

    let mut chosen = vec![false; chars.len() - 2];
    let (mut postings, mut candidates, mut cost) = (0.0, users, f64::INFINITY);
    for (taken, (count, at)) in firsts.into_iter().enumerate() {
        // The trigrams of one text are correlated (`500` and `000` in `5000`), so each one after
        // the first narrows the candidates by the square root of its share only (the backoff
        // SQL Server's estimator uses for correlated predicates).
        let share = count / users;
        let narrowing = if taken == 0 { share } else { share.sqrt() };
        let (more_postings, fewer_candidates) = (postings + count, candidates * narrowing);
        let next = more_postings * POSTING_COST + fewer_candidates;
        if next >= cost {
            break;
        }
        (postings, candidates, cost) = (more_postings, fewer_candidates, next);
        chosen[at] = true;
    }

    let mut parts: Vec<String> = Vec::new();
    let mut run: Option<(usize, usize)> = None;
    for at in (0..chosen.len()).filter(|&at| chosen[at]) {
        run = match run {
            Some((start, end)) if at < end => Some((start, at + 3)),
            finished => {
                if let Some((start, end)) = finished {
                    parts.push(chars[start..end].iter().collect());
                }
                Some((at, at + 3))
            }
        };
    }
    if let Some((start, end)) = run {
        parts.push(chars[start..end].iter().collect());
    }
    (index_pattern(&parts), cost)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn counts(pairs: &[(&str, i64)]) -> HashMap<String, i64> {
        pairs.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }

    fn trigrams(text: &str) -> impl Iterator<Item = String> + '_ {
        let chars: Vec<char> = text.chars().collect();
        (0..chars.len() - 2).map(move |at| String::from_iter(&chars[at..at + 3]))
    }

    #[test]
    fn common_trigrams_are_left_out() {
        let mut known = counts(&[("", 1_000_000)]);
        for trigram in trigrams("ada@example.com") {
            let rare = trigram.starts_with("ad") || trigram == "a@e";
            known.insert(trigram, if rare { 50 } else { 1_000_000 });
        }
        let text: Vec<char> = "ada@example.com".chars().collect();
        assert_eq!(rarest_parts(&text, &known).0, "%ada@e%");
    }

    #[test]
    fn a_trigram_no_user_holds_is_enough() {
        let text: Vec<char> = "zzzexample".chars().collect();
        let known = counts(&[("", 1000), ("exa", 1000), ("xam", 1000), ("amp", 1000)]);
        assert_eq!(rarest_parts(&text, &known).0, "%zzz%");
    }

    #[test]
    fn parts_that_do_not_overlap_stay_apart_in_order() {
        let text: Vec<char> = "abcxyzdef".chars().collect();
        let known = counts(&[
            ("", 1_000_000),
            ("abc", 1000),
            ("def", 1000),
            ("bcx", 900_000),
            ("cxy", 900_000),
            ("xyz", 900_000),
            ("yzd", 900_000),
            ("zde", 900_000),
        ]);
        assert_eq!(rarest_parts(&text, &known).0, "%abc%def%");
    }

    proptest! {
        /// Whatever the counts, the pattern's parts are substrings of the text in order, so
        /// the index returns every user the query matches.
        #[test]
        fn the_pattern_matches_the_text_it_came_from(
            text in "[a-c@._%]{3,24}",
            seed in proptest::collection::vec(0i64..1000, 30),
        ) {
            let chars: Vec<char> = text.chars().collect();
            let mut known = HashMap::from([(String::new(), 1000)]);
            for (window, n) in chars.windows(3).zip(seed.iter().cycle()) {
                known.insert(String::from_iter(window), *n);
            }
            let (pattern, _) = rarest_parts(&chars, &known);
            let parts: Vec<&str> = pattern.trim_matches('%').split('%').collect();
            prop_assert!(!parts.is_empty());
            let masked: String = text
                .chars()
                .map(|c| if matches!(c, '%' | '_' | '\\') { '_' } else { c })
                .collect();
            let mut rest = masked.as_str();
            for part in parts {
                prop_assert!(part.chars().count() >= 3, "part {part:?} of {pattern:?}");
                let found = rest.find(part);
                prop_assert!(found.is_some(), "{part:?} of {pattern:?} not in order in {masked:?}");
                rest = &rest[found.unwrap_or_default() + part.len()..];
            }
        }
    }
}
