//! Rate limits every node shares: hit counters per key in fixed windows, read as a sliding window
//! (this window's hits plus the previous window's, weighted by how much of it still overlaps).

use super::*;

/// The counters of one key around now.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateWindow {
    pub current: i64,
    pub previous: i64,
    /// How far into the current window now is, 0..1.
    pub elapsed: f64,
    pub window_secs: i64,
}

impl RateWindow {
    /// Hits in the last `window_secs`, estimated.
    pub fn estimate(&self) -> f64 {
        self.current as f64 + self.previous as f64 * (1.0 - self.elapsed)
    }

    /// Seconds until the estimate is below `limit` again (at least 1).
    pub fn retry_after(&self, limit: u32) -> u64 {
        let w = self.window_secs as f64;
        let room = limit as f64 - self.current as f64;
        let wait = if room <= 0.0 || self.previous == 0 {
            // Only the next window clears it.
            w * (1.0 - self.elapsed)
        } else {
            // previous · (1 − t/w) < room  ⇔  t > w · (1 − room / previous)
            (w * (1.0 - room / self.previous as f64) - w * self.elapsed).max(0.0)
        };
        wait.ceil().max(1.0) as u64
    }
}

fn window_of(now: DateTime<Utc>, window_secs: i64) -> (i64, f64) {
    let secs = now.timestamp();
    let start = secs - secs.rem_euclid(window_secs);
    let elapsed = ((now.timestamp_millis() - start * 1000) as f64 / (window_secs * 1000) as f64).clamp(0.0, 1.0);
    (start, elapsed)
}

fn start_ts(start: i64) -> String {
    ts(DateTime::from_timestamp(start, 0).unwrap_or_default())
}

impl Store {
    /// Count one hit on `key` and answer its window.
    pub async fn rate_hit(&self, key: &str, window_secs: i64) -> StoreResult<RateWindow> {
        let (start, elapsed) = window_of(Utc::now(), window_secs);
        // The hit and the previous window's count in one round trip (the subquery sees the table
        // as it was before the statement; this statement does not write the previous window).
        let row = sqlx::query(
            "insert into rate_counters (key, window_start, hits) values ($1, $2, 1) \
             on conflict (key, window_start) do update set hits = rate_counters.hits + 1 \
             returning hits, (select p.hits from rate_counters p where p.key = $1 and p.window_start = $3)",
        )
        .bind(key)
        .bind(start_ts(start))
        .bind(start_ts(start - window_secs))
        .fetch_one(&self.pool)
        .await?;
        let current: i64 = row.try_get(0)?;
        let previous: Option<i64> = row.try_get(1)?;
        Ok(RateWindow { current, previous: previous.unwrap_or(0), elapsed, window_secs })
    }

    /// The window of `key` without counting a hit.
    pub async fn rate_peek(&self, key: &str, window_secs: i64) -> StoreResult<RateWindow> {
        let (start, elapsed) = window_of(Utc::now(), window_secs);
        let current = self.rate_hits(key, start).await?;
        let previous = self.rate_hits(key, start - window_secs).await?;
        Ok(RateWindow { current, previous, elapsed, window_secs })
    }

    async fn rate_hits(&self, key: &str, start: i64) -> StoreResult<i64> {
        let row = sqlx::query("select hits from rate_counters where key = $1 and window_start = $2")
            .bind(key)
            .bind(start_ts(start))
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?.unwrap_or(0))
    }

    /// Forget every window of `key` (a successful login clears its failures).
    pub async fn rate_clear(&self, key: &str) -> StoreResult<()> {
        sqlx::query("delete from rate_counters where key = $1").bind(key).execute(&self.pool).await?;
        Ok(())
    }

    /// Drop counters whose window started more than a day ago.
    pub async fn purge_rate_counters(&self) -> StoreResult<u64> {
        self.purge_older("rate_counters", "window_start", chrono::Duration::days(1)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_previous_window_fades_out() {
        let w = RateWindow { current: 2, previous: 10, elapsed: 0.5, window_secs: 900 };
        assert_eq!(w.estimate(), 7.0);
        // Below 10 already; with limit 5 it takes until previous·(1 − t) < 3, t > 0.7 → 0.2 more.
        assert_eq!(w.retry_after(5), 180);
        let full = RateWindow { current: 10, previous: 0, elapsed: 0.25, window_secs: 60 };
        assert_eq!(full.retry_after(10), 45);
    }
}
