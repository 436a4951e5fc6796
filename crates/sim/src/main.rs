//! `causeway-sim`: runs seeds of the deterministic simulation.
//!
//!     causeway-sim [--seeds N] [--first S] [--jobs J] [--ops N]
//!     causeway-sim --seed S [--verbose]      replay one seed
//!     causeway-sim --check-replay N           run seeds 1..=N twice; the
//!                                             histories must be identical
//!
//! Exits non-zero if any seed breaks an invariant, printing each failing
//! seed (replay it with `--seed`).

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use causeway_sim::{run, Options};

fn main() -> ExitCode {
    // CAUSEWAY_SIM_LOG=debug (a tracing filter) shows what the members do;
    // without timestamps, so that two runs of a seed can be compared.
    if let Ok(filter) = std::env::var("CAUSEWAY_SIM_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .without_time()
            .with_writer(std::io::stderr)
            .init();
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map(|v| {
                v.parse::<u64>()
                    .unwrap_or_else(|_| panic!("{name} takes a number"))
            })
    };
    let verbose = args.iter().any(|a| a == "--verbose");
    #[cfg(not(tokio_unstable))]
    eprintln!(
        "causeway-sim: built without --cfg tokio_unstable (.cargo/config.toml sets it); tokio's own random \
         choices are then unseeded and a seed may not replay exactly"
    );
    let ops = value("--ops").map(|n| n as usize);
    let tick = value("--tick-ms").map(std::time::Duration::from_millis);
    let workload = value("--seconds").map(std::time::Duration::from_secs);
    let configure = move |o: &mut Options| {
        if let Some(n) = ops {
            o.ops = n;
        }
        if let Some(t) = tick {
            o.tick = Some(t);
        }
        if let Some(w) = workload {
            o.workload = w;
        }
    };
    if let Some(n) = value("--check-replay") {
        let mut differ = Vec::new();
        for seed in 1..=n {
            let mut o = Options::new(seed);
            configure(&mut o);
            let (a, b) = (run(&o), run(&o));
            if a.digest != b.digest {
                differ.push(seed);
            }
        }
        println!(
            "replay check: {n} seeds run twice, {} differed {differ:?}",
            differ.len()
        );
        return if differ.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    if let Some(seed) = value("--seed") {
        let mut o = Options::new(seed);
        o.verbose = verbose;
        configure(&mut o);
        let r = run(&o);
        for f in &r.faults {
            println!("{f}");
        }
        if verbose {
            for op in &r.ops {
                println!("{op:?}");
            }
        }
        println!(
            "seed {seed}: {} operations in {:?} simulated, digest {:016x}, {} anomalies",
            r.ops.len(),
            r.elapsed,
            r.digest,
            r.anomalies.len()
        );
        for a in &r.anomalies {
            println!("  {}: {}", a.kind, a.detail);
        }
        return if r.anomalies.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    let seeds = value("--seeds").unwrap_or(100);
    let first = value("--first").unwrap_or(1);
    let jobs = value("--jobs")
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get() as u64));
    let next = Arc::new(AtomicU64::new(first));
    let done = Arc::new(AtomicUsize::new(0));
    let total_ops = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let workers: Vec<_> = (0..jobs)
        .map(|_| {
            let (next, done, total_ops, failures) = (
                next.clone(),
                done.clone(),
                total_ops.clone(),
                failures.clone(),
            );
            std::thread::Builder::new()
                // Deep statements and openraft's futures want a roomy stack.
                .stack_size(64 << 20)
                .spawn(move || loop {
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    if seed >= first + seeds {
                        return;
                    }
                    let mut o = Options::new(seed);
                    configure(&mut o);
                    let r = run(&o);
                    total_ops.fetch_add(r.ops.len(), Ordering::Relaxed);
                    let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                    if !r.anomalies.is_empty() {
                        let kinds: Vec<_> = r.anomalies.iter().map(|a| a.kind).collect();
                        println!("seed {seed}: {} anomalies {kinds:?}", r.anomalies.len());
                        for a in r.anomalies.iter().take(3) {
                            println!("  {}: {}", a.kind, a.detail);
                        }
                        failures.lock().unwrap().push(seed);
                    }
                    if n % 500 == 0 {
                        println!("{n} seeds, {:?}", started.elapsed());
                    }
                })
                .expect("a worker thread")
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    let failures = failures.lock().unwrap().clone();
    println!(
        "simulation: {seeds} seeds ({first}..{}), {} operations, {} failing seeds {failures:?}, in {:?}",
        first + seeds,
        total_ops.load(Ordering::Relaxed),
        failures.len(),
        started.elapsed()
    );
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
