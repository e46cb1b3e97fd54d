//! Encode throughput on real text: arcade against tiktoken-rs (configured as Arcade100k) and, on
//! cl100k_base (the only encoding bpe-openai has), against bpe-openai and tiktoken-rs.
//!
//! `cargo bench -p arcade-tokenizer --bench encode [-- FILTER]`; results and how to read them are
//! in benches/RESULTS.md (`-- construct`: building a tokenizer). Every subset is checked id-for-id
//! against the peers before timing.
//!
//! Fairness: arcade keeps a per-thread cache of the pieces it had to merge, and criterion repeats
//! each pass over the same documents, so `arcade` is a warm-cache number. `arcade-cold` gives every
//! pass a fresh tokenizer (built outside the timing), whose cache starts empty, as in a new process.
//! The peers have no such cache: their warm and cold numbers are the same. Single-thread groups are
//! timed in thread CPU time, because the machine is shared; the 1-vs-2-thread group in wall time.

mod common;

use std::hint::black_box;
use std::time::Duration;

use arcade_tokenizer::Tokenizer;
use criterion::measurement::Measurement;
use criterion::{
    criterion_group, criterion_main, BatchSize, BenchmarkGroup, Criterion, SamplingMode, Throughput,
};
use rayon::prelude::*;
use rayon::ThreadPoolBuilder;

use common::{assert_same_ids, Subset};

/// Short enough that the whole bench takes a few minutes on 2 cores; passes over a subset take
/// milliseconds to a second, so flat sampling with 10 samples.
fn configure<M: Measurement>(group: &mut BenchmarkGroup<'_, M>, subset: &Subset) {
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(1500))
        .throughput(Throughput::Bytes(subset.bytes()));
}

/// One pass over the documents, one encode call each; returns the token count.
fn pass(docs: &[String], encode: impl Fn(&str) -> Vec<u32>) -> usize {
    docs.iter().map(|d| black_box(encode(d)).len()).sum()
}

/// `arcade-cold`: a pass with a new tokenizer each time (built outside the timing), so an empty
/// piece cache.
fn bench_cold<M: Measurement>(
    g: &mut BenchmarkGroup<'_, M>,
    docs: &[String],
    fresh: impl Fn() -> Tokenizer,
) {
    g.bench_function("arcade-cold", |b| {
        b.iter_batched_ref(
            &fresh,
            |t| pass(docs, |d| t.encode_ordinary(d)),
            BatchSize::PerIteration,
        )
    });
}

/// Timed in thread CPU time (see `common::CpuTime`).
fn single_thread(c: &mut Criterion<common::CpuTime>) {
    let subsets = common::subsets();
    let ranks = common::ranks_file();
    let arcade = Tokenizer::arcade100k();
    let arcade_cl = Tokenizer::cl100k_base();
    let tiktoken = common::tiktoken_arcade();
    let tiktoken_cl = tiktoken_rs::cl100k_base().expect("tiktoken-rs cl100k_base");
    let bpe_openai = bpe_openai::cl100k_base();

    let mixed = subsets.last().expect("mixed is last");
    let check = |what: &str, encode: &dyn Fn(&str) -> Vec<u32>| {
        common::assert_single_threaded(what, || {
            pass(&mixed.docs, encode);
        })
    };
    check("arcade", &|d| arcade.encode_ordinary(d));
    check("tiktoken-rs", &|d| tiktoken.encode_ordinary(d));
    check("bpe-openai", &|d| bpe_openai.encode(d));

    for s in subsets {
        // "mixed" is the other subsets again (or a prefix of each): checked through them.
        if s.name != "mixed" {
            let docs = &s.docs;
            let ours = |d: &str| arcade.encode_ordinary(d);
            assert_same_ids(
                &format!("arcade100k/{} vs tiktoken-rs", s.name),
                docs,
                ours,
                |d| tiktoken.encode_ordinary(d),
            );
            let ours = |d: &str| arcade_cl.encode_ordinary(d);
            assert_same_ids(
                &format!("cl100k_base/{} vs tiktoken-rs", s.name),
                docs,
                ours,
                |d| tiktoken_cl.encode_ordinary(d),
            );
            assert_same_ids(
                &format!("cl100k_base/{} vs bpe-openai", s.name),
                docs,
                ours,
                |d| bpe_openai.encode(d),
            );
        }

        let mut g = c.benchmark_group(format!("arcade100k/{}", s.name));
        configure(&mut g, s);
        g.bench_function("arcade", |b| {
            b.iter(|| pass(&s.docs, |d| arcade.encode_ordinary(d)))
        });
        bench_cold(&mut g, &s.docs, || common::fresh_arcade(&ranks));
        g.bench_function("tiktoken-rs", |b| {
            b.iter(|| pass(&s.docs, |d| tiktoken.encode_ordinary(d)))
        });
        g.finish();

        let mut g = c.benchmark_group(format!("cl100k_base/{}", s.name));
        configure(&mut g, s);
        g.bench_function("arcade", |b| {
            b.iter(|| pass(&s.docs, |d| arcade_cl.encode_ordinary(d)))
        });
        bench_cold(&mut g, &s.docs, || common::fresh_cl100k(&ranks));
        g.bench_function("bpe-openai", |b| {
            b.iter(|| pass(&s.docs, |d| bpe_openai.encode(d)))
        });
        g.bench_function("tiktoken-rs", |b| {
            b.iter(|| pass(&s.docs, |d| tiktoken_cl.encode_ordinary(d)))
        });
        g.finish();
    }
}

/// `encode_batch` over the mixed documents in rayon pools of 1 and 2 threads, in wall time: the
/// speedup is only meaningful while nothing else runs on the machine. tiktoken-rs with the same
/// `par_iter` is the control: if it scales no better, the machine (not arcade) is the limit.
fn multi_thread(c: &mut Criterion) {
    let subsets = common::subsets();
    let mixed = subsets.last().expect("mixed is last");
    let arcade = Tokenizer::arcade100k();
    let tiktoken = common::tiktoken_arcade();
    let serial: Vec<Vec<u32>> = mixed
        .docs
        .iter()
        .map(|d| arcade.encode_ordinary(d))
        .collect();

    let mut g = c.benchmark_group("batch/mixed");
    configure(&mut g, mixed);
    for threads in [1, 2] {
        let pool = ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("rayon pool");
        assert!(pool.install(|| arcade.encode_batch(&mixed.docs)) == serial);
        // Dropping ~27k id vectors happens outside the timing, so it does not serialize the end.
        g.bench_function(format!("arcade/{threads}t"), |b| {
            b.iter_with_large_drop(|| pool.install(|| arcade.encode_batch(&mixed.docs)))
        });
        g.bench_function(format!("tiktoken-rs/{threads}t"), |b| {
            b.iter_with_large_drop(|| {
                pool.install(|| {
                    let docs = mixed.docs.par_iter();
                    docs.map(|d| tiktoken.encode_ordinary(d))
                        .collect::<Vec<_>>()
                })
            })
        });
    }
    g.finish();
}

/// Building a tokenizer: from the embedded ranks (`Tokenizer::from_tiktoken` recognizes them by
/// sha256 and reads the tables build.rs made, as the built-ins do), and from a ranks file it does
/// not know (parsed, and every table built): cl100k's without its last token.
fn construct(c: &mut Criterion<common::CpuTime>) {
    let ranks = common::ranks_file();
    let body = ranks.strip_suffix(b"\n").unwrap_or(&ranks);
    let other = &ranks[..body.iter().rposition(|&b| b == b'\n').expect("lines") + 1];
    let mut g = c.benchmark_group("construct");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(1500));
    g.bench_function("embedded-ranks", |b| {
        b.iter(|| black_box(common::fresh_arcade(&ranks)))
    });
    g.bench_function("other-ranks", |b| {
        b.iter(|| black_box(common::fresh_arcade(other)))
    });
    g.finish();
}

criterion_group! {
    name = single;
    config = common::thread_cpu_criterion();
    targets = single_thread, construct
}
criterion_group!(batch, multi_thread);
criterion_main!(single, batch);
