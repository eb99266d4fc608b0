//! The caches of the check path (and of authentication): bounded, and keyed by the revision an
//! answer was read at, which [`super::freshness`] says whether it is still usable.

/// A bounded cache whose answers are usable only at the revision they were read at.
///
/// quick_cache rather than moka: on the check path a moka lookup cost about 125 ns against
/// quick_cache's 30, and moka's housekeeping (read-op recording, clock readings) took about 5%
/// of the server's CPU under load. Its default hasher (ahash) is keyed at random per process,
/// as keys made from callers' names need.
pub struct EpochCache<K, V> {
    entries: quick_cache::sync::Cache<K, (i64, V)>,
}

impl<K, V> EpochCache<K, V>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: quick_cache::sync::Cache::new(capacity),
        }
    }

    /// The cached value of `key` read at `epoch`, else `read()`'s, cached at `epoch` (which the
    /// caller took before reading, so a commit during the read leaves it unusable). Without an
    /// epoch the store is read and nothing is cached. The key is borrowed, so that a hit copies
    /// nothing of it.
    pub async fn get_or_read<Q, F, Fut, E>(
        &self,
        key: &Q,
        epoch: Option<i64>,
        read: F,
    ) -> Result<V, E>
    where
        Q: CacheKey<K> + ?Sized,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        let Some(epoch) = epoch else {
            return read().await;
        };
        if let Some((at, value)) = self.entries.get(key)
            && at == epoch
        {
            return Ok(value);
        }
        let value = read().await?;
        self.entries.insert(key.to_key(), (epoch, value.clone()));
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
    use crate::checks::freshness::{Consistency, Freshness};

    #[tokio::test]
    async fn an_answer_read_before_a_commit_is_not_used_after_it() {
        let freshness = Freshness::new(1, true);
        let cache: EpochCache<&str, i32> = EpochCache::new(10);
        let epoch = freshness.cache_epoch(Consistency::Cached).await;
        let read = cache
            .get_or_read(&"k", epoch, || async { Ok::<_, ()>(1) })
            .await;
        assert_eq!(read, Ok(1));
        let hit = cache
            .get_or_read(&"k", epoch, || async { Ok::<_, ()>(2) })
            .await;
        assert_eq!(hit, Ok(1), "cached at the same revision");
        freshness.advance(2);
        let epoch = freshness.cache_epoch(Consistency::Cached).await;
        let fresh = cache
            .get_or_read(&"k", epoch, || async { Ok::<_, ()>(3) })
            .await;
        assert_eq!(fresh, Ok(3), "read again after a commit");
    }
}
