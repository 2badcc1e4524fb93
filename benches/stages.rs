//! One criterion bench per stage (parse, resolve, graph, check, and each target) on synthetic
//! programs of 1k, 10k, 100k and 1M flows from `portc::synth`.
//!
//! `PORTC_BENCH_MAX` bounds the sizes (default 100000, so `cargo bench` ends in minutes);
//! `PORTC_BENCH_MAX=1000000 cargo bench` adds the million-flow program. docs/performance.md has more.

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BatchSize, BenchmarkGroup, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use portc::lower::{TargetOptions, lowerer};
use portc::resolve::{self, Root};
use portc::{MemoryLoader, Target, check, diag, graph, hir, syntax, synth};

const SIZES: [usize; 4] = [1_000, 10_000, 100_000, 1_000_000];
const PATH: &str = "synth.ports";

fn max_flows() -> usize {
    std::env::var("PORTC_BENCH_MAX").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000)
}

fn stages(c: &mut Criterion) {
    for flows in SIZES.into_iter().filter(|&n| n <= max_flows()) {
        bench_size(c, flows);
    }
}

/// Benches every stage on one size, building each stage's input from the previous stage and
/// dropping what is no longer needed, so that the million-flow program fits in memory.
fn bench_size(c: &mut Criterion, flows: usize) {
    let text = synth::generate(&synth::Options::for_flows(flows, 1));
    let id = BenchmarkId::from_parameter(flows);
    group(c, "parse", flows).bench_function(id.clone(), |b| b.iter(|| syntax::parse(span_file(), black_box(&text))));

    let mut loader = MemoryLoader::default();
    loader.files.insert(PATH.to_string(), text.clone().into_bytes());
    drop(text);
    let root = Root::File(PATH.to_string());
    let mut map = diag::SourceMap::default();
    let parsed = resolve::load(&root, &loader, &mut map).expect("the program loads");
    group(c, "resolve", flows).bench_function(id.clone(), |b| {
        b.iter_batched(
            || (parsed.clone(), map.clone()),
            |(parsed, mut map)| resolve::resolve_parsed(parsed, "", &mut map),
            BatchSize::PerIteration,
        )
    });
    let (program, diagnostics) = resolve::resolve_parsed(parsed, "", &mut map);
    assert!(diagnostics.is_empty(), "a synthetic program resolves without diagnostics");

    group(c, "graph", flows)
        .bench_function(id.clone(), |b| b.iter_batched(|| program.clone(), graph::build, BatchSize::PerIteration));
    let (flow_graph, _) = graph::build(program);
    group(c, "check", flows)
        .bench_function(id.clone(), |b| b.iter_batched(|| flow_graph.clone(), check::check, BatchSize::PerIteration));
    let (checked, _) = check::check(flow_graph);

    let role = hir::NodeId(0);
    for &target in Target::ALL {
        // The programs have ICMP and node-local flows, which the Kubernetes targets leave out.
        let options = TargetOptions { roles: vec![role], allow_lossy: true, ..TargetOptions::default() };
        let lower = lowerer(target);
        group(c, &format!("lower_{}", target.name()), flows).bench_function(id.clone(), |b| {
            b.iter(|| lower.lower(black_box(&checked), &options).expect("a synthetic program builds"))
        });
    }
}

/// A group of ten samples, sized for stages that take up to seconds an iteration.
fn group<'c>(c: &'c mut Criterion, stage: &str, flows: usize) -> BenchmarkGroup<'c, WallTime> {
    let mut group = c.benchmark_group(stage);
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(flows as u64));
    group
}

fn span_file() -> portc::span::FileId {
    portc::span::FileId(0)
}

criterion_group!(benches, stages);
criterion_main!(benches);
