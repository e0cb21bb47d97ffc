//! Running a function over a slice on every core, results in order.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::thread::ScopedJoinHandle;
use std::time::Duration;

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Cores held by work everything later waits for (a large database opening on its own
/// thread): helpers of [`map`] and [`map_each`] start only on a core nobody holds, so that
/// work is not slowed by what can wait. The first worker always runs.
static HELD: Mutex<usize> = Mutex::new(0);
static RELEASED: Condvar = Condvar::new();

/// Holds one core until dropped.
pub struct HeldCore(());

pub fn hold_core() -> HeldCore {
    if let Ok(mut held) = HELD.lock() {
        *held += 1;
    }
    HeldCore(())
}

impl Drop for HeldCore {
    fn drop(&mut self) {
        if let Ok(mut held) = HELD.lock() {
            *held = held.saturating_sub(1);
        }
        RELEASED.notify_all();
    }
}

/// Wait until worker `k` (0-based) has a core of its own; false if the work ran out first.
fn wait_for_core(k: usize, next: &AtomicUsize, len: usize) -> bool {
    let Ok(mut held) = HELD.lock() else {
        return true;
    };
    while k + *held >= cores() {
        if next.load(Ordering::Relaxed) >= len {
            return false;
        }
        match RELEASED.wait_timeout(held, Duration::from_millis(2)) {
            Ok((h, _)) => held = h,
            Err(_) => return true,
        }
    }
    true
}

/// Every worker's results, in the workers' order; a worker's panic goes on in the caller.
fn join_all<R>(handles: Vec<ScopedJoinHandle<'_, Vec<R>>>) -> Vec<R> {
    handles
        .into_iter()
        .flat_map(|h| {
            h.join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
        .collect()
}

/// `f` over `items` on every core, in blocks of neighbouring items (for many similar
/// items); results in the items' order.
pub fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let workers = cores().min(items.len().max(1));
    if workers <= 1 || items.len() < 64 {
        return items.iter().map(&f).collect();
    }
    // Blocks of neighbours, taken in turn: a helper that starts late takes fewer.
    let blocks: Vec<&[T]> = items.chunks(items.len().div_ceil(workers * 8)).collect();
    let mut done: Vec<(usize, Vec<R>)> = each_index(blocks.len(), workers, |i| {
        blocks[i].iter().map(&f).collect()
    });
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().flat_map(|(_, r)| r).collect()
}

/// `f(i)` for every index below `len` on `workers` threads, each taking the next index as
/// it finishes one; (index, result) pairs in no particular order.
fn each_index<R: Send>(
    len: usize,
    workers: usize,
    f: impl Fn(usize) -> R + Sync,
) -> Vec<(usize, R)> {
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let handles = (0..workers)
            .map(|k| {
                let (next, f) = (&next, &f);
                scope.spawn(move || {
                    let mut out = Vec::new();
                    if k > 0 && !wait_for_core(k, next, len) {
                        return out;
                    }
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= len {
                            break;
                        }
                        out.push((i, f(i)));
                    }
                    out
                })
            })
            .collect();
        join_all(handles)
    })
}

/// `f` over `items` on every core, each worker taking the next item as it finishes one
/// (items may differ in size by orders of magnitude); results in the items' order.
pub fn map_each<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let workers = cores().min(items.len());
    if workers <= 1 {
        return items.iter().map(&f).collect();
    }
    let mut done = each_index(items.len(), workers, |i| f(&items[i]));
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_keep_the_items_order() {
        let items: Vec<u64> = (0..1000).collect();
        let square = |x: &u64| x * x;
        let expected: Vec<u64> = items.iter().map(square).collect();
        assert_eq!(super::map(&items, square), expected);
        assert_eq!(super::map_each(&items, square), expected);
        // Uneven work: the dynamic one still returns in order.
        let sizes = [5_000_000u64, 1, 2, 3];
        let sum = |n: &u64| (0..*n).fold(0u64, |a, b| a.wrapping_add(b));
        let expected: Vec<u64> = sizes.iter().map(sum).collect();
        assert_eq!(super::map_each(&sizes, sum), expected);
    }

    #[test]
    fn a_held_core_is_left_alone_until_released() {
        let items: Vec<u64> = (0..2000).collect();
        let cores = super::cores();
        let threads = |held: bool| {
            let _held = held.then(super::hold_core);
            let ids = std::sync::Mutex::new(std::collections::HashSet::new());
            let seen = || ids.lock().map(|i| i.len()).unwrap_or(0);
            let started = std::time::Instant::now();
            let out = super::map(&items, |x| {
                if let Ok(mut ids) = ids.lock() {
                    ids.insert(std::thread::current().id());
                }
                // Unheld, give a helper (a thread the OS may start late) time to show up.
                while !held && cores > 1 && seen() < 2 && started.elapsed().as_secs() < 10 {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                x + 1
            });
            assert_eq!(out, items.iter().map(|x| x + 1).collect::<Vec<_>>());
            seen()
        };
        assert!(threads(true) <= cores.saturating_sub(1).max(1));
        // Released, the helpers come back (one per core).
        if cores > 1 {
            assert!(threads(false) > 1);
        }
    }
}
