//! Pure work spread over the machine's cores, results in input order: diffing, planning
//! and rendering are per enterprise and independent, and a fleet has a thousand of them.
//! Scoped threads only (no I/O, no async, no shared state), so the modules that use it
//! stay pure and their output does not depend on the number of cores. ([`map_produced`]
//! lets its caller's thread read what the others work on, the threads themselves stay
//! pure.)

use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

/// Below this many items, one thread does it all.
const MIN_PARALLEL: usize = 64;

/// How many threads pure work may use: the machine's cores, at most 8.
pub(crate) fn cores() -> usize {
    std::thread::available_parallelism()
        .map(NonZeroUsize::get)
        .unwrap_or(1)
        .clamp(1, 8)
}

fn threads(items: usize) -> usize {
    if items < MIN_PARALLEL { 1 } else { cores() }
}

/// `items.into_iter().map(f).collect()`, over contiguous chunks on scoped threads.
pub(crate) fn map<T: Send, U: Send>(items: Vec<T>, f: impl Fn(T) -> U + Sync) -> Vec<U> {
    let n = threads(items.len());
    if n == 1 {
        return items.into_iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(n);
    let mut chunks: Vec<Vec<T>> = Vec::with_capacity(n);
    let mut rest = items.into_iter();
    loop {
        let c: Vec<T> = rest.by_ref().take(chunk).collect();
        if c.is_empty() {
            break;
        }
        chunks.push(c);
    }
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|c| scope.spawn(move || c.into_iter().map(f).collect::<Vec<U>>()))
            .collect();
        joined(handles)
    })
}

/// `(a(), b())`, with `a` on a thread of its own: for two independent pieces of work
/// when one of them would otherwise leave a core idle.
pub(crate) fn join<A: Send, B>(a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B) -> (A, B) {
    std::thread::scope(|scope| {
        let first = scope.spawn(a);
        let second = b();
        match first.join() {
            Ok(first) => (first, second),
            // A panic in pure code is a bug: surface it where it happened.
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Every thread's results, in the threads' order.
fn joined<U>(handles: Vec<std::thread::ScopedJoinHandle<'_, Vec<U>>>) -> Vec<U> {
    handles
        .into_iter()
        .flat_map(|h| match h.join() {
            Ok(v) => v,
            // A panic in pure code is a bug: surface it where it happened.
            Err(panic) => std::panic::resume_unwind(panic),
        })
        .collect()
}

/// `items.iter().map(f).collect()` for a few large items of uneven cost (the parts of a
/// checkpoint): each thread takes the next item not yet taken, so no thread waits while
/// another has a queue.
pub(crate) fn map_each<T: Sync, U: Send>(items: &[T], f: impl Fn(&T) -> U + Sync) -> Vec<U> {
    // `f` always answers, so every item has its result.
    try_map_each(items, |item| Some(f(item))).unwrap_or_default()
}

/// [`map_each`] for work that may give up (the pieces of a file parsed apart): the first
/// `None` stops every thread from taking another item, and the answer is `None`.
pub(crate) fn try_map_each<T: Sync, U: Send>(
    items: &[T],
    f: impl Fn(&T) -> Option<U> + Sync,
) -> Option<Vec<U>> {
    let n = cores().min(items.len());
    if n <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let work = || {
        let mut done = Vec::new();
        while !failed.load(Ordering::Relaxed) {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else {
                break;
            };
            match f(item) {
                Some(u) => done.push((i, u)),
                None => failed.store(true, Ordering::Relaxed),
            }
        }
        done
    };
    let mut results: Vec<(usize, U)> =
        std::thread::scope(|scope| joined((0..n).map(|_| scope.spawn(work)).collect()));
    if failed.into_inner() || results.len() != items.len() {
        return None;
    }
    results.sort_unstable_by_key(|(i, _)| *i);
    Some(results.into_iter().map(|(_, u)| u).collect())
}

/// `f` applied to each item `produce` hands over, on every core while `produce` is still
/// running on the caller's thread (reading the next piece of a checkpoint while the
/// pieces read are decoded): the results in the order handed over, and what `produce`
/// returned.
pub(crate) fn map_produced<T: Send, U: Send, R>(
    produce: impl FnOnce(&mut dyn FnMut(T)) -> R,
    f: impl Fn(T) -> U + Sync,
) -> (R, Vec<U>) {
    let (sender, receiver) = mpsc::channel::<(usize, T)>();
    let receiver = Mutex::new(receiver);
    let work = || {
        let mut done = Vec::new();
        // One thread waits for the next item at a time; the others wait for the lock.
        while let Ok(Ok((i, item))) = receiver.lock().map(|r| r.recv()) {
            done.push((i, f(item)));
        }
        done
    };
    std::thread::scope(|scope| {
        let workers = (0..cores()).map(|_| scope.spawn(work)).collect();
        let mut handed = 0;
        let produced = produce(&mut |item| {
            // The workers stop only when this sender is gone: the send cannot fail.
            let _ = sender.send((handed, item));
            handed += 1;
        });
        drop(sender);
        let mut results = joined(workers);
        results.sort_unstable_by_key(|(i, _)| *i);
        (produced, results.into_iter().map(|(_, u)| u).collect())
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn order_is_kept_whatever_the_split() {
        for n in [0, 1, 63, 64, 65, 1000] {
            let v: Vec<usize> = (0..n).collect();
            assert_eq!(
                super::map(v.clone(), |x| x * 2),
                v.iter().map(|x| x * 2).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn each_item_once_and_in_order() {
        for n in [0, 1, 2, 3, 17] {
            let v: Vec<usize> = (0..n).collect();
            assert_eq!(
                super::map_each(&v, |x| x * 3),
                v.iter().map(|x| x * 3).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn join_answers_each_side_and_runs_the_first_elsewhere() {
        let here = std::thread::current().id();
        let ((a, a_thread), (b, b_thread)) = super::join(
            || (2 + 3, std::thread::current().id()),
            || ("b", std::thread::current().id()),
        );
        assert_eq!((a, b), (5, "b"));
        assert_ne!(a_thread, here);
        assert_eq!(b_thread, here);
    }

    #[test]
    #[should_panic(expected = "the first side failed")]
    fn a_panic_on_the_other_thread_is_surfaced() {
        super::join(|| panic!("the first side failed"), || 1);
    }

    #[test]
    fn each_item_produced_once_and_in_order() {
        for n in [0, 1, 2, 3, 17] {
            let (produced, results) = super::map_produced(
                |hand: &mut dyn FnMut(usize)| {
                    (0..n).for_each(&mut *hand);
                    n
                },
                |x| x * 3,
            );
            assert_eq!(produced, n);
            assert_eq!(results, (0..n).map(|x| x * 3).collect::<Vec<_>>());
        }
    }

    #[test]
    fn one_refusal_refuses_the_whole() {
        let v: Vec<usize> = (0..40).collect();
        assert_eq!(super::try_map_each(&v, |x| (*x != 17).then_some(*x)), None);
        assert_eq!(
            super::try_map_each(&v, |x| Some(*x + 1)),
            Some((1..41).collect())
        );
    }
}
