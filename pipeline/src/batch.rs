//! Ordered parallel processing of a stream, in batches, with bounded memory.
//!
//! [`run_ordered`] (one source) and [`run_ordered_sources`] (several, e.g. one per input file)
//! run three stages at once:
//!
//! ```text
//!  reader thread(s)          coordinator thread               calling thread
//!  source() ──batches──▶  gather a batch, cut it into   ──results──▶  sink(result)
//!  (I/O, parsing)         chunks, rayon: process(&chunk)             (writing, in input order)
//! ```
//!
//! * Reader threads pull items from the sources and group them into batches of about
//!   [`BatchConfig::batch_weight`] (what "weight" means is up to the caller: text bytes, say).
//!   With several sources, up to [`BatchConfig::readers`] of them are read at the same time,
//!   each by its own thread, the next ones in line while the first is being consumed; the
//!   coordinator still takes their batches strictly in source order.
//! * The coordinator gathers batches (several small sources' worth into one if need be), cuts
//!   the batch into chunks and processes the chunks in parallel on a rayon pool. Results are
//!   collected in chunk order, so the output order is the input order whatever the number of
//!   threads or readers.
//! * The sink runs on the calling thread (so it may hold non-`Send` things such as a locked
//!   stdout) and sees every result in order.
//!
//! Every queue is bounded ([`BatchConfig::queue_depth`] batches per reader and for the results;
//! with several readers each one's batches are proportionally smaller), so memory stays bounded
//! for any input size, and a slow sink slows the readers down instead of
//! piling up results. When the sink fails, the queues are closed: the other stages stop at their
//! next hand-over and the sink's error is returned.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::thread;

use rayon::prelude::*;

/// Sizes of the batches and queues of [`run_ordered`].
#[derive(Debug, Clone)]
pub struct BatchConfig {
    /// A batch is handed on once the weights of its items add up to at least this.
    pub batch_weight: usize,
    /// ... or once it holds this many items, whatever their weight.
    pub max_batch_items: usize,
    /// Target weight of one parallel task; `0` picks one from the batch weight and the number
    /// of rayon threads (several chunks per thread, so one slow chunk does not idle the rest).
    pub chunk_weight: usize,
    /// Batches that may wait in each queue (per reader, and between coordinator and sink). One
    /// is enough to keep reading, processing and the sink overlapped (each stage works on its own
    /// batch while the next waits); a second only added memory, and its first-touch page faults:
    /// `arcade pack` took 2.5% less CPU with one, at 1 and 2 threads, and 3% less wall time at 2.
    pub queue_depth: usize,
    /// Sources read at the same time by [`run_ordered_sources`] (at least 1).
    pub readers: usize,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            batch_weight: 4 << 20,
            max_batch_items: 1 << 16,
            chunk_weight: 0,
            queue_depth: 1,
            readers: 1,
        }
    }
}

/// The threads that run work on `pool`, or on rayon's global pool if None.
pub(crate) fn pool_threads(pool: Option<&rayon::ThreadPool>) -> usize {
    pool.map_or_else(rayon::current_num_threads, |p| p.current_num_threads())
}

/// Smallest automatic chunk weight: below this, task overhead starts to show.
const MIN_AUTO_CHUNK_WEIGHT: usize = 16 << 10;

/// Items and their weights.
type Batch<T> = (Vec<T>, Vec<usize>);

/// Runs `process` over the items of `source` in parallel and feeds the results to `sink` in
/// input order (see the module docs).
///
/// * `source` is called once, on a reader thread, so the iterator it returns need not be
///   `Send` (only the closure that makes it must be).
/// * `weigh` gives an item's weight for batching and chunking.
/// * `process` turns one chunk (a run of consecutive items) into one result. It runs on `pool`,
///   or on rayon's global pool when that is `None`.
/// * `sink` gets each chunk's result, in order. Returning an error stops the run.
///
/// Returns the sink's first error, if any. A panic in `process` or in the source is resumed on
/// the calling thread.
pub fn run_ordered<T, I, R, E>(
    config: &BatchConfig,
    pool: Option<&rayon::ThreadPool>,
    source: impl FnOnce() -> I + Send,
    weigh: impl Fn(&T) -> usize + Sync,
    process: impl Fn(&[T]) -> R + Sync,
    sink: impl FnMut(R) -> Result<(), E>,
) -> Result<(), E>
where
    I: IntoIterator<Item = T>,
    T: Send + Sync,
    R: Send,
{
    run_ordered_sources(config, pool, vec![source], weigh, process, sink)
}

/// [`run_ordered`] over several sources taken one after the other, as if chained, with up to
/// [`BatchConfig::readers`] of them read concurrently (each source by one thread, from start to
/// end). Items of one source never interleave with another's, and results come in source
/// order.
pub fn run_ordered_sources<S, T, I, R, E>(
    config: &BatchConfig,
    pool: Option<&rayon::ThreadPool>,
    sources: Vec<S>,
    weigh: impl Fn(&T) -> usize + Sync,
    process: impl Fn(&[T]) -> R + Sync,
    mut sink: impl FnMut(R) -> Result<(), E>,
) -> Result<(), E>
where
    S: FnOnce() -> I + Send,
    I: IntoIterator<Item = T>,
    T: Send + Sync,
    R: Send,
{
    let depth = config.queue_depth.max(1);
    let batch_weight = config.batch_weight.max(1);
    let max_items = config.max_batch_items.max(1);
    let readers = config.readers.clamp(1, sources.len().max(1));
    let fixed_chunk = config.chunk_weight;
    let threads = pool_threads(pool);
    let shared = Shared {
        state: Mutex::new(State {
            total: sources.len(),
            sources: sources.into_iter().enumerate(),
            open: HashMap::new(),
            stopped: false,
        }),
        ready: Condvar::new(),
        panicked: AtomicBool::new(false),
    };
    let (result_tx, result_rx) = sync_channel::<Vec<R>>(depth);

    thread::scope(|scope| {
        let shared = &shared;
        let weigh = &weigh;
        // Each reader hands on smaller batches, so the memory in flight does not grow with the
        // number of readers; the coordinator gathers them into full ones.
        let read_weight = (batch_weight / readers).max(1);
        for i in 0..readers {
            thread::Builder::new()
                .name(format!("batch-reader-{i}"))
                .spawn_scoped(scope, move || {
                    read_sources(shared, depth, read_weight, max_items, weigh)
                })
                .expect("cannot start a reader thread");
        }

        let process = &process;
        let run_batch = move |batch: Vec<T>, weights: Vec<usize>| -> bool {
            let total: usize = weights.iter().sum();
            let target = if fixed_chunk > 0 {
                fixed_chunk
            } else {
                (total / (threads * 4).max(1)).max(MIN_AUTO_CHUNK_WEIGHT)
            };
            let ranges = chunk_ranges(&weights, target);
            let work = || -> Vec<R> {
                ranges
                    .into_par_iter()
                    .map(|(start, end)| process(&batch[start..end]))
                    .collect()
            };
            let results = match pool {
                Some(pool) => pool.install(work),
                None => work(),
            };
            // Free the batch here, not on the sink's thread.
            drop(batch);
            result_tx.send(results).is_ok()
        };
        let coordinator = thread::Builder::new()
            .name("batch-coordinator".into())
            .spawn_scoped(scope, move || {
                coordinate(shared, batch_weight, max_items, run_batch)
            })
            .expect("cannot start the coordinator thread");

        let mut outcome = Ok(());
        'results: for results in result_rx.iter() {
            for result in results {
                if let Err(err) = sink(result) {
                    outcome = Err(err);
                    break 'results;
                }
            }
        }
        // Closing the result queue stops the coordinator, whose exit closes the readers'
        // queues and so stops them too.
        drop(result_rx);
        if let Err(panic) = coordinator.join() {
            std::panic::resume_unwind(panic);
        }
        // A reader that panicked is resumed by the scope.
        outcome
    })
}

struct Shared<S, T> {
    state: Mutex<State<S, T>>,
    /// Signalled when a reader opens a source's queue.
    ready: Condvar,
    /// Set by a reader that panics, so the coordinator does not take its early end for the
    /// end of the source.
    panicked: AtomicBool,
}

struct State<S, T> {
    sources: std::iter::Enumerate<std::vec::IntoIter<S>>,
    total: usize,
    /// Queues of the sources being read, by source index, until the coordinator takes them.
    open: HashMap<usize, Receiver<Batch<T>>>,
    /// The coordinator has finished (or given up): readers start no new source.
    stopped: bool,
}

impl<S, T> Shared<S, T> {
    fn lock(&self) -> MutexGuard<'_, State<S, T>> {
        // A panic while holding the lock is resumed elsewhere; the state itself stays valid.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Sets the flag when dropped during a panic.
struct PanicFlag<'a>(&'a AtomicBool);

impl Drop for PanicFlag<'_> {
    fn drop(&mut self) {
        if thread::panicking() {
            self.0.store(true, Ordering::SeqCst);
        }
    }
}

/// A reader thread: takes the next unread source, reads it to the end into its own queue, and
/// repeats until no source is left or the run stopped.
fn read_sources<S, T, I>(
    shared: &Shared<S, T>,
    depth: usize,
    batch_weight: usize,
    max_items: usize,
    weigh: &(impl Fn(&T) -> usize + Sync),
) where
    S: FnOnce() -> I,
    I: IntoIterator<Item = T>,
{
    loop {
        let (source, tx): (S, SyncSender<Batch<T>>) = {
            let mut state = shared.lock();
            if state.stopped {
                return;
            }
            let Some((index, source)) = state.sources.next() else {
                return;
            };
            let (tx, rx) = sync_channel(depth);
            state.open.insert(index, rx);
            shared.ready.notify_all();
            (source, tx)
        };
        // Declared after `tx`, so it is dropped (and the flag set) before the queue closes.
        let _flag = PanicFlag(&shared.panicked);
        let mut batch = Vec::new();
        let mut weights = Vec::new();
        let mut total = 0usize;
        for item in source() {
            let w = weigh(&item);
            total = total.saturating_add(w);
            batch.push(item);
            weights.push(w);
            if total >= batch_weight || batch.len() >= max_items {
                let full = (std::mem::take(&mut batch), std::mem::take(&mut weights));
                if tx.send(full).is_err() {
                    return; // the run was stopped
                }
                total = 0;
            }
        }
        if !batch.is_empty() && tx.send((batch, weights)).is_err() {
            return;
        }
    }
}

/// Marks the run stopped and drops the queues not taken yet (unblocking their readers), however
/// the coordinator ends.
struct StopReaders<'a, S, T>(&'a Shared<S, T>);

impl<S, T> Drop for StopReaders<'_, S, T> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.stopped = true;
        state.open.clear();
    }
}

/// Takes the sources' batches in source order, gathers them into batches of at least
/// `batch_weight` and hands each to `run_batch` (which returns false to stop).
fn coordinate<S, T>(
    shared: &Shared<S, T>,
    batch_weight: usize,
    max_items: usize,
    mut run_batch: impl FnMut(Vec<T>, Vec<usize>) -> bool,
) {
    let _stop = StopReaders(shared);
    let mut items = Vec::new();
    let mut weights = Vec::new();
    let mut total = 0usize;
    for index in 0.. {
        let rx = {
            let mut state = shared.lock();
            loop {
                if let Some(rx) = state.open.remove(&index) {
                    break rx;
                }
                if index >= state.total {
                    if !items.is_empty() {
                        drop(state);
                        run_batch(items, weights);
                    }
                    return;
                }
                state = shared.ready.wait(state).unwrap_or_else(|p| p.into_inner());
            }
        };
        for (batch, batch_weights) in rx.iter() {
            total = batch_weights
                .iter()
                .fold(total, |acc, w| acc.saturating_add(*w));
            if items.is_empty() {
                items = batch;
                weights = batch_weights;
            } else {
                items.extend(batch);
                weights.extend(batch_weights);
            }
            if total >= batch_weight || items.len() >= max_items {
                let full = (std::mem::take(&mut items), std::mem::take(&mut weights));
                total = 0;
                if !run_batch(full.0, full.1) {
                    return;
                }
            }
        }
        if shared.panicked.load(Ordering::SeqCst) {
            return; // the scope resumes the reader's panic
        }
    }
}

/// Cuts `0..weights.len()` into consecutive ranges of at least `target` weight each (the last
/// may be lighter). Every range holds at least one item.
pub fn chunk_ranges(weights: &[usize], target: usize) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    let mut start = 0;
    let mut acc = 0usize;
    for (i, &w) in weights.iter().enumerate() {
        acc = acc.saturating_add(w);
        if acc >= target {
            ranges.push((start, i + 1));
            start = i + 1;
            acc = 0;
        }
    }
    if start < weights.len() {
        ranges.push((start, weights.len()));
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::{Duration, Instant};

    fn small() -> BatchConfig {
        BatchConfig {
            batch_weight: 100,
            max_batch_items: 1000,
            chunk_weight: 7,
            queue_depth: 1,
            readers: 1,
        }
    }

    fn collect_ok(out: &mut Vec<u64>) -> impl FnMut(Vec<u64>) -> Result<(), ()> + '_ {
        |chunk| {
            out.extend(chunk);
            Ok(())
        }
    }

    #[test]
    fn chunk_ranges_cover_everything_in_order() {
        assert_eq!(chunk_ranges(&[], 10), vec![]);
        assert_eq!(chunk_ranges(&[3, 3, 3, 3], 6), vec![(0, 2), (2, 4)]);
        assert_eq!(chunk_ranges(&[3, 3, 3], 6), vec![(0, 2), (2, 3)]);
        assert_eq!(chunk_ranges(&[100, 0, 0], 6), vec![(0, 1), (1, 3)]);
        assert_eq!(chunk_ranges(&[0, 0], 0), vec![(0, 1), (1, 2)]);
    }

    #[test]
    fn results_arrive_in_input_order() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(4)
            .build()
            .unwrap();
        let mut seen = Vec::new();
        run_ordered(
            &small(),
            Some(&pool),
            || 0..10_000u64,
            |&n| (n % 13) as usize,
            |chunk: &[u64]| {
                // Uneven work so chunks finish out of order.
                if chunk[0] % 3 == 1 {
                    std::thread::sleep(Duration::from_micros(50));
                }
                chunk.iter().map(|n| n * 2).collect::<Vec<_>>()
            },
            collect_ok(&mut seen),
        )
        .unwrap();
        assert_eq!(seen, (0..10_000u64).map(|n| n * 2).collect::<Vec<_>>());
    }

    #[test]
    fn many_sources_with_several_readers_keep_source_order() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        // Sources of very different sizes, some empty, some slow to read.
        let sizes: Vec<u64> = (0..60u64).map(|i| (i * 37) % 23 * (i % 4)).collect();
        let mut expected = Vec::new();
        let mut start = 0u64;
        let mut sources = Vec::new();
        for &size in &sizes {
            let range = start..start + size;
            expected.extend(range.clone());
            start += size;
            sources.push(move || {
                range.inspect(|n| {
                    if n % 17 == 5 {
                        std::thread::sleep(Duration::from_micros(200));
                    }
                })
            });
        }
        for readers in [1, 2, 5] {
            for batch_weight in [1, 10, 1000] {
                let config = BatchConfig {
                    batch_weight,
                    readers,
                    chunk_weight: 3,
                    ..small()
                };
                let mut seen = Vec::new();
                run_ordered_sources(
                    &config,
                    Some(&pool),
                    sources.clone(),
                    |_| 1,
                    |chunk: &[u64]| chunk.to_vec(),
                    collect_ok(&mut seen),
                )
                .unwrap();
                assert_eq!(seen, expected, "readers {readers}, batch {batch_weight}");
            }
        }
    }

    #[test]
    fn small_sources_are_gathered_into_full_batches() {
        let config = BatchConfig {
            batch_weight: 50,
            chunk_weight: usize::MAX,
            readers: 3,
            ..small()
        };
        let sources: Vec<_> = (0..20u64).map(|i| move || i * 10..i * 10 + 10).collect();
        let mut chunk_sizes = Vec::new();
        run_ordered_sources(
            &config,
            None,
            sources,
            |_| 1,
            |chunk: &[u64]| chunk.len(),
            |n| {
                chunk_sizes.push(n);
                Ok::<(), ()>(())
            },
        )
        .unwrap();
        // With one chunk per batch, each batch gathered 5 sources of 10 items.
        assert_eq!(chunk_sizes, vec![50; 4]);
    }

    #[test]
    fn a_sink_error_stops_an_endless_source() {
        let produced = AtomicUsize::new(0);
        let result = run_ordered(
            &small(),
            None,
            || {
                (0u64..).inspect(|_| {
                    produced.fetch_add(1, Ordering::Relaxed);
                })
            },
            |_| 1,
            |chunk: &[u64]| chunk.len(),
            {
                let mut calls = 0;
                move |_| {
                    calls += 1;
                    if calls == 5 {
                        Err("stop")
                    } else {
                        Ok(())
                    }
                }
            },
        );
        assert_eq!(result, Err("stop"));
        // Bounded queues: only a few batches were read ahead of the sink.
        assert!(produced.load(Ordering::Relaxed) < 100 * 10, "{produced:?}");
    }

    #[test]
    fn a_sink_error_stops_several_endless_sources() {
        let started = Instant::now();
        let sources: Vec<_> = (0..10).map(|_| || 0u64..).collect();
        let config = BatchConfig {
            readers: 4,
            ..small()
        };
        let mut calls = 0;
        let result = run_ordered_sources(
            &config,
            None,
            sources,
            |_| 1,
            |chunk: &[u64]| chunk.len(),
            |_| {
                calls += 1;
                if calls == 50 {
                    Err("stop")
                } else {
                    Ok(())
                }
            },
        );
        assert_eq!(result, Err("stop"));
        assert!(started.elapsed() < Duration::from_secs(30));
    }

    #[test]
    fn a_panicking_source_panics_the_run_instead_of_ending_early() {
        let run = std::panic::catch_unwind(|| {
            type Source = Box<dyn FnOnce() -> Box<dyn Iterator<Item = u64>> + Send>;
            let sources: Vec<Source> = vec![
                Box::new(|| Box::new(0..5u64)),
                Box::new(|| {
                    Box::new((0..10u64).map(|n| if n == 3 { panic!("bad source") } else { n }))
                }),
                Box::new(|| Box::new(100..105u64)),
            ];
            let mut seen = Vec::new();
            let _ = run_ordered_sources(
                &BatchConfig {
                    readers: 2,
                    ..small()
                },
                None,
                sources,
                |_| 1,
                |chunk: &[u64]| chunk.to_vec(),
                collect_ok(&mut seen),
            );
            seen
        });
        assert!(run.is_err(), "the panic must reach the caller: {run:?}");
    }

    #[test]
    fn max_items_closes_batches_of_weightless_items() {
        let config = BatchConfig {
            batch_weight: usize::MAX,
            max_batch_items: 10,
            chunk_weight: 0,
            queue_depth: 1,
            readers: 1,
        };
        let mut sizes = Vec::new();
        run_ordered(
            &config,
            None,
            || 0..35,
            |_| 0,
            |chunk: &[i32]| chunk.len(),
            |n| {
                sizes.push(n);
                Ok::<(), ()>(())
            },
        )
        .unwrap();
        assert_eq!(sizes.iter().sum::<usize>(), 35);
        assert!(sizes.iter().all(|&n| n <= 10), "{sizes:?}");
    }
}
