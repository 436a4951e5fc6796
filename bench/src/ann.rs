//! `ann-bench`: the approximate vector index on its own, at sizes the
//! server cannot hold yet (a stored vector is a list of values; see issue
//! 14): build rate, recall@10 against exact search, and search latency.
//!
//! ```text
//! ann-bench --n 1000000 --dim 384 --clusters 1000 --queries 200 --ef 40,100,200
//! ```
//! `--clusters 0` draws uniform vectors, the hardest case for any graph
//! index (no structure at all); embeddings of real text are clustered.

use std::time::Instant;

use causeway_ann::{Hnsw, Metric, Params};

struct Args {
    n: usize,
    dim: usize,
    clusters: usize,
    /// A point's spread around its centre, as a multiple of the centres'.
    spread: f32,
    /// When set, points lie near a random subspace of this dimension, as
    /// embeddings of real text do (their intrinsic dimension is small).
    intrinsic: usize,
    queries: usize,
    k: usize,
    efs: Vec<usize>,
    metric: Metric,
    m: usize,
    ef_construction: usize,
}

fn parse() -> Args {
    let mut a = Args {
        n: 100_000,
        dim: 384,
        clusters: 1000,
        spread: 1.0,
        intrinsic: 0,
        queries: 200,
        k: 10,
        efs: vec![40, 100, 200],
        metric: Metric::Cosine,
        m: 16,
        ef_construction: 100,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().unwrap_or_default();
        let num = || v.parse::<usize>().expect("a number");
        match flag.as_str() {
            "--n" => a.n = num(),
            "--dim" => a.dim = num(),
            "--clusters" => a.clusters = num(),
            "--queries" => a.queries = num(),
            "--intrinsic" => a.intrinsic = num(),
            "--spread" => a.spread = v.parse().expect("a number"),
            "--k" => a.k = num(),
            "--m" => a.m = num(),
            "--ef-construction" => a.ef_construction = num(),
            "--ef" => a.efs = v.split(',').map(|x| x.parse().expect("a number")).collect(),
            "--metric" => {
                a.metric = match v.as_str() {
                    "cosine" => Metric::Cosine,
                    "euclidean" => Metric::Euclidean,
                    other => panic!("unknown metric {other}"),
                }
            }
            other => panic!("unknown flag {other}"),
        }
    }
    a
}

/// xorshift64*, then Box-Muller: normal draws, reproducible for a seed.
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        ((x >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f32 {
        let (u, v) = (self.uniform(), self.uniform());
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    }
}

/// Normal points around `clusters` normal centres, or plain normal vectors
/// when `clusters` is 0; with `intrinsic` > 0 every point is first drawn in
/// that many dimensions and mapped into `dim` by one random linear map,
/// with a little noise (a tenth of the signal) in every dimension.
fn generate(a: &Args, n: usize, rng: &mut Rng) -> Vec<f32> {
    let src = if a.intrinsic > 0 { a.intrinsic } else { a.dim };
    let centres: Vec<f32> = (0..a.clusters * src).map(|_| rng.normal()).collect();
    let scale = 1.0 / (src as f32).sqrt();
    let map: Vec<f32> = (0..a.dim * a.intrinsic)
        .map(|_| rng.normal() * scale)
        .collect();
    let mut z = vec![0f32; src];
    let mut out = Vec::with_capacity(n * a.dim);
    for _ in 0..n {
        let c = (a.clusters > 0).then(|| {
            let i = (rng.uniform() * a.clusters as f64) as usize % a.clusters;
            &centres[i * src..(i + 1) * src]
        });
        for (j, zj) in z.iter_mut().enumerate() {
            *zj = match c {
                Some(c) => c[j] + rng.normal() * a.spread,
                None => rng.normal(),
            };
        }
        if a.intrinsic == 0 {
            out.extend_from_slice(&z);
            continue;
        }
        for row in map.chunks(a.intrinsic) {
            let x: f32 = row.iter().zip(&z).map(|(m, z)| m * z).sum();
            out.push(x + rng.normal() * 0.1 * scale);
        }
    }
    out
}

fn distance(metric: Metric, a: &[f32], b: &[f32]) -> f32 {
    match metric {
        Metric::Euclidean => a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum(),
        Metric::Cosine => {
            let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
            let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
            1.0 - dot / (na * nb)
        }
    }
}

/// The true k nearest of every query, on all cores.
fn ground_truth(a: &Args, data: &[f32], queries: &[f32]) -> Vec<Vec<u64>> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let qs: Vec<&[f32]> = queries.chunks(a.dim).collect();
    let per = qs.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = qs
            .chunks(per.max(1))
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|q| {
                            let mut best: Vec<(f32, u64)> = Vec::with_capacity(a.k + 1);
                            for (i, v) in data.chunks(a.dim).enumerate() {
                                let d = distance(a.metric, q, v);
                                if best.len() < a.k || d < best[best.len() - 1].0 {
                                    let at = best.partition_point(|x| x.0 <= d);
                                    best.insert(at, (d, i as u64));
                                    best.truncate(a.k);
                                }
                            }
                            best.into_iter().map(|x| x.1).collect::<Vec<u64>>()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("ground truth thread"))
            .collect()
    })
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn main() {
    let a = parse();
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    // Queries are drawn with the data, so they share its clusters.
    let all = generate(&a, a.n + a.queries, &mut rng);
    let (data, queries) = all.split_at(a.n * a.dim);
    println!(
        "ann-bench: n={} dim={} intrinsic={} clusters={} spread={} metric={:?} m={} ef_construction={} k={} queries={}",
        a.n, a.dim, a.intrinsic, a.clusters, a.spread, a.metric, a.m, a.ef_construction, a.k, a.queries
    );

    let params = Params {
        m: a.m,
        ef_construction: a.ef_construction,
        ..Params::default()
    };
    let mut index = Hnsw::new(a.dim, a.metric, params);
    let t = Instant::now();
    for (i, v) in data.chunks(a.dim).enumerate() {
        index.insert(i as u64, v, 1);
        if (i + 1) % 100_000 == 0 {
            println!("  built {} in {:.1} s", i + 1, t.elapsed().as_secs_f64());
        }
    }
    let build = t.elapsed().as_secs_f64();
    println!(
        "build: {:.1} s, {:.0} vectors/s (one thread), index {:.0} MiB",
        build,
        a.n as f64 / build,
        index.memory_bytes() as f64 / (1 << 20) as f64
    );

    let t = Instant::now();
    let truth = ground_truth(&a, data, queries);
    println!(
        "exact search (all cores): {:.1} ms per query",
        t.elapsed().as_secs_f64() * 1000.0 / a.queries as f64
    );

    println!("| ef | recall@{} | p50 | p99 |", a.k);
    println!("|---|---|---|---|");
    for &ef in &a.efs {
        let mut hits = 0;
        let mut times = Vec::with_capacity(a.queries);
        for (q, truth) in queries.chunks(a.dim).zip(&truth) {
            let t = Instant::now();
            let got = index.search(q, a.k, ef, u64::MAX);
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            hits += truth
                .iter()
                .filter(|id| got.iter().any(|g| g.0 == **id))
                .count();
        }
        times.sort_by(f64::total_cmp);
        println!(
            "| {} | {:.3} | {:.2} ms | {:.2} ms |",
            ef,
            hits as f64 / (a.k * a.queries) as f64,
            percentile(&times, 0.5),
            percentile(&times, 0.99)
        );
    }
}
