//! `causeway-sim`: runs seeds of the deterministic simulation.
//!
//!     causeway-sim [--seeds N] [--first S] [--jobs J] [--ops N]
//!     causeway-sim --seed S [--verbose]      replay one seed
//!     causeway-sim --check-replay N [--first S]
//!                                             run seeds S..S+N (S = 1) twice;
//!                                             the histories must be identical
//!
//! Exits non-zero if any seed breaks an invariant, printing each failing
//! seed (replay it with `--seed`).

use std::process::ExitCode;
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
        let first = value("--first").unwrap_or(1);
        let mut differ = Vec::new();
        for seed in first..first + n {
            let mut o = Options::new(seed);
            configure(&mut o);
            let (a, b) = (run(&o), run(&o));
            if a.digest != b.digest {
                println!(
                    "seed {seed}: digests {:016x} then {:016x}",
                    a.digest, b.digest
                );
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
    let started = Instant::now();
    let (total_ops, mut failures) = if jobs <= 1 {
        // Deep statements and openraft's futures want a roomy stack.
        std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn(move || run_range(first, seeds, &configure, started))
            .expect("a worker thread")
            .join()
            .expect("the worker thread")
    } else {
        run_children(&args, first, seeds, jobs)
    };
    failures.sort_unstable();
    println!(
        "simulation: {seeds} seeds ({first}..{}), {total_ops} operations, {} failing seeds {failures:?}, in {:?}",
        first + seeds,
        failures.len(),
        started.elapsed()
    );
    if args.iter().any(|a| a == CHILD) {
        let list: Vec<String> = failures.iter().map(u64::to_string).collect();
        println!("{TOTALS} {total_ops} {}", list.join(","));
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Marks a process started by `run_children`, and the line it ends with.
const CHILD: &str = "--child";
const TOTALS: &str = "child-totals";

/// Runs seeds `first..first + seeds` one after another on this thread;
/// returns the operations run and the failing seeds.
fn run_range(
    first: u64,
    seeds: u64,
    configure: &dyn Fn(&mut Options),
    started: Instant,
) -> (usize, Vec<u64>) {
    let (mut ops, mut failures) = (0, Vec::new());
    for (n, seed) in (first..first + seeds).enumerate() {
        let mut o = Options::new(seed);
        configure(&mut o);
        let r = run(&o);
        ops += r.ops.len();
        if !r.anomalies.is_empty() {
            let kinds: Vec<_> = r.anomalies.iter().map(|a| a.kind).collect();
            println!("seed {seed}: {} anomalies {kinds:?}", r.anomalies.len());
            for a in r.anomalies.iter().take(3) {
                println!("  {}: {}", a.kind, a.detail);
            }
            failures.push(seed);
        }
        if (n + 1) % 500 == 0 {
            println!("{} seeds from {first}, {:?}", n + 1, started.elapsed());
        }
    }
    (ops, failures)
}

/// Splits the seeds over `jobs` processes of this program. Processes, not
/// threads: tokio numbers tasks process-wide, so runs on two threads of one
/// process would shift each other's numbers, and with them the order in
/// which a crashed host's tasks are dropped; a failing seed must replay
/// alone exactly as it ran here.
fn run_children(args: &[String], first: u64, seeds: u64, jobs: u64) -> (usize, Vec<u64>) {
    let mut passed = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if ["--seeds", "--first", "--jobs"].contains(&a.as_str()) {
            it.next();
        } else {
            passed.push(a.clone());
        }
    }
    let exe = std::env::current_exe().expect("this program's path");
    let per = seeds.div_ceil(jobs);
    let children: Vec<_> = (0..jobs)
        .map(|k| (first + k * per, per.min(seeds.saturating_sub(k * per))))
        .filter(|&(_, n)| n > 0)
        .map(|(start, n)| {
            let mut child = std::process::Command::new(&exe)
                .args(&passed)
                .args(["--seeds", &n.to_string(), "--first", &start.to_string()])
                .args(["--jobs", "1", CHILD])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .expect("a simulation process");
            let out = child.stdout.take().expect("its output");
            std::thread::spawn(move || {
                use std::io::BufRead;
                let mut totals = None;
                for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                    match line.strip_prefix(TOTALS) {
                        Some(rest) => totals = Some(rest.trim().to_owned()),
                        None if line.starts_with("simulation:") => {}
                        None => println!("{line}"),
                    }
                }
                let ok = child
                    .wait()
                    .is_ok_and(|s| s.success() || s.code() == Some(1));
                (totals.filter(|_| ok), start, n)
            })
        })
        .collect();
    let (mut ops, mut failures) = (0, Vec::new());
    for c in children {
        let (totals, start, n) = c.join().expect("a reader thread");
        let Some(totals) = totals else {
            // A process that died (a panic, a signal) is a failure of all
            // its seeds until one is replayed to find which.
            println!(
                "seeds {start}..{}: the simulation process failed",
                start + n
            );
            failures.extend(start..start + n);
            continue;
        };
        let mut parts = totals.splitn(2, ' ');
        ops += parts
            .next()
            .and_then(|o| o.parse::<usize>().ok())
            .unwrap_or(0);
        failures.extend(
            parts
                .next()
                .unwrap_or("")
                .split(',')
                .filter_map(|s| s.parse::<u64>().ok()),
        );
    }
    (ops, failures)
}
