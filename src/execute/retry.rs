//! Retries: a backoff iterator (doubling with jitter, capped) and a pure retry policy.
//!
//! Kept apart from the registry types on purpose: a failure is described to the policy
//! by a [`Verdict`] (retryable? asked to wait how long?), so the policy is a pure
//! function of plain values and is tested without any registry. The async loop
//! [`with_retries`] uses tokio's clock, so tests drive it with `tokio::time::pause()`.

use std::future::Future;
use std::time::Duration;

/// Delays between attempts: `base · 2ⁿ`, capped, each drawn uniformly from its upper
/// half ("equal jitter"), so that many clients retrying at once spread out but none
/// retries sooner than half the nominal delay.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
    state: u64,
}

impl Backoff {
    /// A backoff starting at `base`, never above `cap`, with jitter from `seed`.
    pub(crate) fn new(base: Duration, cap: Duration, seed: u64) -> Self {
        Backoff {
            base,
            cap,
            attempt: 0,
            // xorshift needs a non-zero state.
            state: seed | 1,
        }
    }

    /// The nominal (un-jittered) delay before retry number `attempt` (0-based).
    pub(crate) fn nominal(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*: enough for jitter, and reproducible from the seed.
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

impl Iterator for Backoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let nominal = self.nominal(self.attempt);
        self.attempt = self.attempt.saturating_add(1);
        // Whole milliseconds: the resolution of tokio's timer, so waits are exact.
        let half = Duration::from_millis((nominal / 2).as_millis() as u64);
        let spread = (nominal.saturating_sub(half)).as_millis().max(1) as u64;
        let jitter = Duration::from_millis(self.next_random() % spread);
        Some(half + jitter)
    }
}

/// When to give up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Most attempts in all (the first one included).
    pub max_attempts: u32,
    /// Longest time from the first attempt after which no retry starts.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            max_elapsed: Duration::from_secs(120),
        }
    }
}

/// What a failure says about retrying it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// The failure may go away by itself (unavailable, busy, dropped connection).
    pub retryable: bool,
    /// The server asked to wait this long (`Retry-After`).
    pub retry_after: Option<Duration>,
}

/// The policy's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Wait this long, then try again.
    RetryAfter(Duration),
    /// Stop: the failure is permanent or the budget is spent.
    GiveUp,
}

/// Decides, purely, whether attempt number `attempts` (1-based, just failed) is retried:
/// never for a permanent failure, never past the attempt or time budget, and never
/// sooner than the server asked (`Retry-After`) nor than the backoff says.
pub(crate) fn decide(
    policy: &RetryPolicy,
    verdict: Verdict,
    attempts: u32,
    elapsed: Duration,
    backoff: Duration,
) -> Decision {
    if !verdict.retryable || attempts >= policy.max_attempts {
        return Decision::GiveUp;
    }
    let wait = verdict
        .retry_after
        .map_or(backoff, |asked| asked.max(backoff));
    if elapsed.saturating_add(wait) > policy.max_elapsed {
        return Decision::GiveUp;
    }
    Decision::RetryAfter(wait)
}

/// The outcome of an operation that was given up on.
#[derive(Debug)]
pub(crate) struct GaveUp<E> {
    /// The last error.
    pub(crate) error: E,
}

/// Runs `op` until it succeeds or the policy gives up, sleeping on tokio's clock
/// between attempts.
pub(crate) async fn with_retries<T, E, F, Fut>(
    policy: &RetryPolicy,
    mut backoff: Backoff,
    classify: impl Fn(&E) -> Verdict,
    mut op: F,
) -> Result<T, GaveUp<E>>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let start = tokio::time::Instant::now();
    let mut attempts = 0;
    loop {
        attempts += 1;
        match op(attempts).await {
            Ok(value) => return Ok(value),
            Err(error) => {
                let delay = backoff.next().unwrap_or(Duration::ZERO);
                match decide(policy, classify(&error), attempts, start.elapsed(), delay) {
                    Decision::RetryAfter(wait) => tokio::time::sleep(wait).await,
                    Decision::GiveUp => return Err(GaveUp { error }),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRANSIENT: Verdict = Verdict {
        retryable: true,
        retry_after: None,
    };

    #[test]
    fn backoff_doubles_within_jitter_and_is_capped() {
        let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2), 42);
        let delays: Vec<Duration> = backoff.clone().take(8).collect();
        for (n, d) in delays.iter().enumerate() {
            let nominal = backoff.nominal(n as u32);
            assert!(
                *d >= nominal / 2 && *d <= nominal,
                "retry {n}: {d:?} vs {nominal:?}"
            );
        }
        assert_eq!(backoff.nominal(3), Duration::from_millis(800));
        assert_eq!(backoff.nominal(5), Duration::from_secs(2));
        assert_eq!(backoff.nominal(40), Duration::from_secs(2));
    }

    #[test]
    fn jitter_spreads_clients_apart() {
        let a: Vec<_> = Backoff::new(Duration::from_secs(1), Duration::from_secs(60), 1)
            .take(5)
            .collect();
        let b: Vec<_> = Backoff::new(Duration::from_secs(1), Duration::from_secs(60), 2)
            .take(5)
            .collect();
        assert_ne!(a, b);
    }

    #[test]
    fn permanent_failures_are_never_retried() {
        let permanent = Verdict {
            retryable: false,
            retry_after: Some(Duration::from_secs(1)),
        };
        let d = decide(
            &RetryPolicy::default(),
            permanent,
            1,
            Duration::ZERO,
            Duration::from_millis(10),
        );
        assert_eq!(d, Decision::GiveUp);
    }

    #[test]
    fn retry_after_is_honoured_but_never_shortens_the_backoff() {
        let policy = RetryPolicy::default();
        let asked = Verdict {
            retryable: true,
            retry_after: Some(Duration::from_secs(3)),
        };
        assert_eq!(
            decide(
                &policy,
                asked,
                1,
                Duration::ZERO,
                Duration::from_millis(200)
            ),
            Decision::RetryAfter(Duration::from_secs(3))
        );
        assert_eq!(
            decide(&policy, asked, 1, Duration::ZERO, Duration::from_secs(5)),
            Decision::RetryAfter(Duration::from_secs(5))
        );
    }

    #[test]
    fn budgets_end_the_retries() {
        let policy = RetryPolicy {
            max_attempts: 3,
            max_elapsed: Duration::from_secs(10),
        };
        let short = Duration::from_millis(100);
        assert_eq!(
            decide(&policy, TRANSIENT, 2, Duration::ZERO, short),
            Decision::RetryAfter(short)
        );
        assert_eq!(
            decide(&policy, TRANSIENT, 3, Duration::ZERO, short),
            Decision::GiveUp
        );
        assert_eq!(
            decide(&policy, TRANSIENT, 1, Duration::from_secs(10), short),
            Decision::GiveUp
        );
    }

    #[tokio::test(start_paused = true)]
    async fn transient_failures_are_retried_on_the_paused_clock() {
        let start = tokio::time::Instant::now();
        let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30), 7);
        let expected: Duration = backoff.clone().take(3).sum();
        let result = with_retries(
            &RetryPolicy::default(),
            backoff,
            |_: &&str| TRANSIENT,
            |attempt| async move {
                if attempt < 4 {
                    Err("unavailable")
                } else {
                    Ok(attempt)
                }
            },
        )
        .await;
        assert_eq!(result.unwrap(), 4);
        // Three waits, exactly the backoff's first three delays, on the virtual clock.
        assert_eq!(start.elapsed(), expected);
    }

    #[tokio::test(start_paused = true)]
    async fn giving_up_reports_the_last_error_after_the_last_attempt() {
        let policy = RetryPolicy {
            max_attempts: 5,
            max_elapsed: Duration::from_secs(3600),
        };
        let backoff = Backoff::new(Duration::from_millis(10), Duration::from_secs(1), 3);
        let result: Result<(), _> = with_retries(
            &policy,
            backoff,
            |_: &String| TRANSIENT,
            |attempt| async move { Err(format!("failure {attempt}")) },
        )
        .await;
        let gave_up = result.unwrap_err();
        // The error of the fifth attempt: five were made.
        assert_eq!(gave_up.error, "failure 5");
    }
}
