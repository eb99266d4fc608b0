//! The caches of the check path (and of authentication): bounded, each answer kept with the
//! revision it was read at and what it was read from, which [`super::freshness`] checks
//! against what has been written since.

use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;

use super::{freshness::Epoch, invalidation::Deps};

/// A bounded cache whose answers are usable only at the revision they were read at.
///
/// quick_cache rather than moka: on the check path a moka lookup cost about 125 ns against
/// quick_cache's 30, and moka's housekeeping (read-op recording, clock readings) took about 5%
/// of the server's CPU under load. Its default hasher (ahash) is keyed at random per process,
/// as keys made from callers' names need.
pub struct EpochCache<K, V> {
    /// Shared, so that a hit copies a pointer, not the topics it was read from.
    entries: quick_cache::sync::Cache<K, Arc<Entry<V>>>,
    lookups: Lookups,
}

/// How many lookups a cache answered and how many it read from the store, shown on `/metrics`
/// as `personae_cache_lookups_total` (`Metrics::cache_lookups`): a hit rate that falls while
/// writes run says the writes touch what the checks depend on. A call that bypasses the caches
/// (`fully_consistent`, or while another process's commits cannot be heard) is no lookup.
#[derive(Clone, Default)]
pub struct Lookups {
    pub hits: Counter,
    pub misses: Counter,
}

/// A cached answer, the revision it was read at, and what it was read from.
struct Entry<V> {
    read_at: i64,
    deps: Deps,
    value: V,
}

impl<K, V> EpochCache<K, V>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub fn new(capacity: usize, lookups: Lookups) -> Self {
        Self {
            entries: quick_cache::sync::Cache::new(capacity),
            lookups,
        }
    }

    /// The cached value of `key` if it still holds at `epoch`, else `read()`'s, cached with
    /// what it was read from at `epoch` (which the caller took before reading, so a commit
    /// during the read leaves it unusable). Without an epoch the store is read and nothing is
    /// cached. The key is borrowed, so that a hit copies nothing of it.
    pub async fn get_or_read<Q, F, Fut, E>(
        &self,
        key: &Q,
        epoch: Option<Epoch<'_>>,
        read: F,
    ) -> Result<V, E>
    where
        Q: CacheKey<K> + ?Sized,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(V, Deps), E>>,
    {
        let Some(epoch) = epoch else {
            return read().await.map(|(value, _)| value);
        };
        if let Some(entry) = self.entries.get(key)
            && epoch.still_holds(entry.read_at, &entry.deps)
        {
            self.lookups.hits.inc();
            return Ok(entry.value.clone());
        }
        self.lookups.misses.inc();
        let (value, deps) = read().await?;
        let entry = Entry {
            read_at: epoch.at,
            deps,
            value: value.clone(),
        };
        self.entries.insert(key.to_key(), Arc::new(entry));
        Ok(value)
    }
}

/// A borrowed form of a cache key `K`, hashing and comparing as `K` does, that makes the owned
/// key only when an entry is stored.
pub trait CacheKey<K>: equivalent::Equivalent<K> + std::hash::Hash {
    fn to_key(&self) -> K;
}

impl<K: Clone + Eq + std::hash::Hash> CacheKey<K> for K {
    fn to_key(&self) -> K {
        self.clone()
    }
}

impl CacheKey<String> for str {
    fn to_key(&self) -> String {
        self.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::{
        freshness::{Consistency, Freshness},
        invalidation::{Topic, Touched},
    };
    use crate::domain::Id;

    #[tokio::test]
    async fn an_answer_is_used_until_a_commit_touches_what_it_was_read_from() {
        let freshness = Freshness::new(1, true);
        let lookups = Lookups::default();
        let cache: EpochCache<&str, i32> = EpochCache::new(10, lookups.clone());
        let (ada, bob) = (Id::new(), Id::new());
        let deps = || Deps::from_iter([Topic::User(ada), Topic::name("ada@example.com")]);
        let read = async |value: i32| {
            let epoch = freshness.cache_epoch(Consistency::Cached).await;
            cache
                .get_or_read(&"k", epoch, || async { Ok::<_, ()>((value, deps())) })
                .await
        };
        assert_eq!(read(1).await, Ok(1));
        assert_eq!(read(2).await, Ok(1), "cached at the same revision");
        freshness.advance(
            2,
            &Touched::of([Topic::User(bob), Topic::name("bob@example.com")]),
        );
        assert_eq!(read(3).await, Ok(1), "a commit touching something else");
        freshness.advance(3, &Touched::nothing());
        assert_eq!(read(3).await, Ok(1), "a commit touching nothing");
        freshness.advance(4, &Touched::of([Topic::name("ADA@example.com")]));
        assert_eq!(
            read(4).await,
            Ok(4),
            "a commit touching its name, in any case"
        );
        freshness.advance(5, &Touched::of([Topic::User(ada)]));
        assert_eq!(read(5).await, Ok(5), "a commit touching its user");
        freshness.advance(6, &Touched::everything());
        assert_eq!(read(6).await, Ok(6), "a commit touching everything");
        assert_eq!(read(7).await, Ok(6));
        assert_eq!((lookups.hits.get(), lookups.misses.get()), (4, 4));
    }
}
