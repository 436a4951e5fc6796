//! `tck [DIR] [--filter S] [--verbose] [--update-expected] [--list-only]`:
//! runs the openCypher TCK scenarios under DIR in-process and checks the
//! failures against `expected-failures.txt`, so that CI catches both
//! regressions and fixes that should shrink the list.

mod compare;
mod gherkin;
mod runner;
mod tckvalue;

use runner::Outcome;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

/// Directory outside the project's conformance target; still run and listed.
const OUT_OF_TARGET: &str = "expressions/temporal";

struct Options {
    dir: Option<PathBuf>,
    filter: Option<String>,
    verbose: bool,
    update_expected: bool,
    list_only: bool,
    jobs: usize,
    timeout: Duration,
    expected_file: PathBuf,
}

const USAGE: &str = "usage: tck [DIR] [--filter SUBSTRING] [--verbose] [--list-only] \
[--update-expected] [--expected FILE] [--jobs 1|2] [--timeout SECS]";

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        dir: None,
        filter: None,
        verbose: false,
        update_expected: false,
        list_only: false,
        jobs: 2,
        timeout: Duration::from_secs(20),
        expected_file: Path::new(env!("CARGO_MANIFEST_DIR")).join("expected-failures.txt"),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "--filter" => o.filter = Some(value("--filter")?),
            "--verbose" | "-v" => o.verbose = true,
            "--update-expected" => o.update_expected = true,
            "--list-only" => o.list_only = true,
            "--expected" => o.expected_file = PathBuf::from(value("--expected")?),
            "--jobs" => {
                let j: usize = value("--jobs")?.parse().map_err(|_| "bad --jobs")?;
                // The build machine is shared: never more than two workers.
                o.jobs = j.clamp(1, 2);
            }
            "--timeout" => {
                let s: u64 = value("--timeout")?.parse().map_err(|_| "bad --timeout")?;
                o.timeout = Duration::from_secs(s.max(1));
            }
            "--help" | "-h" => return Err(USAGE.to_owned()),
            s if s.starts_with('-') => return Err(format!("unknown option {s}\n{USAGE}")),
            s => {
                if o.dir.is_some() {
                    return Err(format!("more than one DIR\n{USAGE}"));
                }
                o.dir = Some(PathBuf::from(s));
            }
        }
    }
    Ok(o)
}

/// `../shared/tck/features` beside the workspace: found from the crate's
/// manifest dir first, then from the current directory and its ancestors.
fn default_dir() -> PathBuf {
    let rel = Path::new("shared").join("tck").join("features");
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut starts = vec![manifest.to_path_buf()];
    if let Ok(cwd) = std::env::current_dir() {
        starts.push(cwd);
    }
    for start in &starts {
        for anc in start.ancestors() {
            let cand = anc.join("..").join(&rel);
            if cand.is_dir() && anc.join("Cargo.toml").is_file() {
                return cand;
            }
        }
    }
    manifest.join("../../../shared/tck/features")
}

/// Scenario ids are relative to the TCK's `features` root (not to DIR), so
/// that running a subdirectory yields the same ids as the full run.
fn features_root(dir: &Path) -> PathBuf {
    for anc in dir.ancestors() {
        if anc.file_name().is_some_and(|n| n == "features") {
            return anc.to_path_buf();
        }
    }
    dir.to_path_buf()
}

fn graphs_dir(root: &Path) -> PathBuf {
    for anc in root.ancestors() {
        let g = anc.join("graphs");
        if g.is_dir() {
            return g;
        }
    }
    root.join("../graphs")
}

fn collect_features(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            collect_features(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "feature") {
            out.push(p);
        }
    }
    Ok(())
}

struct Job {
    id: String,
    /// Directory of the feature file relative to the features root.
    group: String,
    scenario: gherkin::Scenario,
}

fn rel_str(p: &Path, root: &Path) -> String {
    let r = p.strip_prefix(root).unwrap_or(p);
    r.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

fn scenario_id(feature_rel: &str, s: &gherkin::Scenario) -> String {
    match s.example {
        Some(i) => format!("{feature_rel}: {} #{i}", s.name),
        None => format!("{feature_rel}: {}", s.name),
    }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic".to_owned()
    }
}

/// Runs one scenario on its own thread, so that a panic is contained and a
/// hang becomes a failure after `timeout`. A hung thread cannot be killed;
/// it is left behind and the run goes on.
fn run_guarded(job: &Job, graphs: &Path, timeout: Duration) -> Outcome {
    let scenario = job.scenario.clone();
    let graphs = graphs.to_path_buf();
    guarded(move || runner::run_scenario(&scenario, &graphs), timeout)
}

fn failure(reason: String, details: String) -> Outcome {
    Outcome {
        passed: false,
        reason,
        details,
        lenient: false,
    }
}

fn guarded(f: impl FnOnce() -> Outcome + Send + 'static, timeout: Duration) -> Outcome {
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("tck-scenario".into())
        // Deeply nested expressions recurse deeply in the engine.
        .stack_size(256 << 20)
        .spawn(move || {
            let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
        });
    if let Err(e) = spawned {
        return failure(format!("cannot spawn thread: {e}"), String::new());
    }
    match rx.recv_timeout(timeout) {
        Ok(Ok(o)) => o,
        Ok(Err(p)) => {
            let msg = panic_message(&*p);
            let first = msg.lines().next().unwrap_or("").to_owned();
            failure(format!("panic: {first}"), format!("  panic: {msg}\n"))
        }
        Err(_) => failure(
            format!("timeout after {}s", timeout.as_secs_f64()),
            String::new(),
        ),
    }
}

struct ExpectedFile {
    ids: Vec<String>,
}

fn read_expected(path: &Path) -> ExpectedFile {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let ids = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    ExpectedFile { ids }
}

fn write_expected(path: &Path, ids: &[String]) -> std::io::Result<()> {
    let mut s = String::from(
        "# TCK scenarios that are known to fail, one id per line:\n\
         # `<feature path>: <scenario name>[ #<example>]`.\n\
         # The tck runner fails if a scenario not listed here fails, or if a listed\n\
         # one passes, so this list can only shrink. Regenerate with\n\
         # `cargo run --release -p causeway-tck --bin tck -- --update-expected`.\n",
    );
    for id in ids {
        s.push_str(id);
        s.push('\n');
    }
    std::fs::write(path, s)
}

fn main() {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    std::process::exit(run(opts));
}

fn run(opts: Options) -> i32 {
    // A DIR that is not a path from here may name a part of the TCK, such as
    // `clauses/match`.
    let dir = match opts.dir.clone() {
        None => default_dir(),
        Some(d) if d.exists() => d,
        Some(d) => {
            let alt = default_dir().join(&d);
            if alt.exists() {
                alt
            } else {
                d
            }
        }
    };
    let dir = match dir.canonicalize() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("cannot open {}: {e}", dir.display());
            return 2;
        }
    };
    let root = features_root(&dir);
    let graphs = graphs_dir(&root);

    let mut files = Vec::new();
    if dir.is_file() {
        files.push(dir.clone());
    } else if let Err(e) = collect_features(&dir, &mut files) {
        eprintln!("cannot read {}: {e}", dir.display());
        return 2;
    }

    let mut jobs = Vec::new();
    let mut parse_failures = 0;
    for f in &files {
        let rel = rel_str(f, &root);
        let group = rel.rsplit_once('/').map_or(".", |(d, _)| d).to_owned();
        let text = match std::fs::read_to_string(f) {
            Ok(t) => t,
            Err(e) => {
                println!("FAIL {rel}: cannot read: {e}");
                parse_failures += 1;
                continue;
            }
        };
        match gherkin::parse(&text) {
            Ok(feature) => {
                for s in feature.scenarios {
                    let id = scenario_id(&rel, &s);
                    if opts
                        .filter
                        .as_ref()
                        .is_some_and(|flt| !id.contains(flt.as_str()))
                    {
                        continue;
                    }
                    jobs.push(Job {
                        id,
                        group: group.clone(),
                        scenario: s,
                    });
                }
            }
            Err(e) => {
                println!("FAIL {rel}: cannot parse feature: {e}");
                parse_failures += 1;
            }
        }
    }

    if opts.list_only {
        for j in &jobs {
            println!("{}", j.id);
        }
        println!("{} scenarios", jobs.len());
        return 0;
    }

    // Engine panics are caught and reported per scenario; the default hook
    // would print every one of them in the middle of the report.
    std::panic::set_hook(Box::new(|_| {}));

    let jobs = Arc::new(jobs);
    let next = Arc::new(AtomicUsize::new(0));
    let results: Arc<Vec<std::sync::OnceLock<Outcome>>> = Arc::new(
        (0..jobs.len())
            .map(|_| std::sync::OnceLock::new())
            .collect(),
    );
    let workers: Vec<_> = (0..opts.jobs)
        .map(|_| {
            let (jobs, next, results, graphs) =
                (jobs.clone(), next.clone(), results.clone(), graphs.clone());
            let timeout = opts.timeout;
            std::thread::spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= jobs.len() {
                    break;
                }
                let r = run_guarded(&jobs[i], &graphs, timeout);
                let _ = results[i].set(r);
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }

    let expected = read_expected(&opts.expected_file);
    let expected_set: HashSet<&str> = expected.ids.iter().map(String::as_str).collect();
    let full_run = opts.filter.is_none() && dir == root;

    let mut per_group: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut passed = 0;
    let mut failed = 0;
    let mut lenient = 0;
    let mut unexpected_failures = 0;
    let mut unexpected_passes = Vec::new();
    let mut failing_ids = Vec::new();
    for (j, r) in jobs.iter().zip(results.iter()) {
        let r = r.get().expect("every job has a result");
        let g = per_group.entry(&j.group).or_default();
        if r.passed {
            passed += 1;
            g.0 += 1;
            if r.lenient {
                lenient += 1;
            }
            if expected_set.contains(j.id.as_str()) {
                unexpected_passes.push(j.id.clone());
            }
        } else {
            failed += 1;
            g.1 += 1;
            failing_ids.push(j.id.clone());
            let listed = expected_set.contains(j.id.as_str());
            if !listed {
                unexpected_failures += 1;
            }
            println!("FAIL {}: {}", j.id, r.reason);
            if opts.verbose {
                print!("{}", r.details);
            }
        }
    }

    println!();
    let width = per_group.keys().map(|k| k.len()).max().unwrap_or(5).max(5);
    println!(
        "{:<width$}  {:>6}  {:>6}  {:>6}",
        "dir", "passed", "failed", "total"
    );
    let (mut tp, mut tt) = (0, 0);
    for (g, (p, f)) in &per_group {
        println!("{g:<width$}  {p:>6}  {f:>6}  {:>6}", p + f);
        if !g.starts_with(OUT_OF_TARGET) {
            tp += p;
            tt += p + f;
        }
    }
    println!(
        "{:<width$}  {passed:>6}  {failed:>6}  {:>6}",
        "TOTAL",
        passed + failed
    );
    if tt > 0 {
        println!(
            "excluding {OUT_OF_TARGET}: {tp}/{tt} passed ({:.1}%)",
            100.0 * tp as f64 / tt as f64
        );
    }
    println!(
        "{lenient} passing scenarios accepted an error on code and phase only (engine gave no detail)"
    );

    let mut ok = parse_failures == 0;
    if opts.update_expected {
        // Keep entries for scenarios this run did not cover (a filtered run
        // must not drop them), then list this run's failures.
        let ran: HashSet<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
        let mut ids: Vec<String> = expected
            .ids
            .iter()
            .filter(|id| !ran.contains(id.as_str()) && !full_run)
            .cloned()
            .collect();
        ids.extend(failing_ids);
        match write_expected(&opts.expected_file, &ids) {
            Ok(()) => println!(
                "wrote {} ids to {}",
                ids.len(),
                opts.expected_file.display()
            ),
            Err(e) => {
                println!("cannot write {}: {e}", opts.expected_file.display());
                ok = false;
            }
        }
    } else {
        for id in &unexpected_passes {
            println!("UNEXPECTED PASS {id}");
        }
        if full_run {
            let all: HashSet<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
            for id in &expected.ids {
                if !all.contains(id.as_str()) {
                    println!("UNKNOWN EXPECTED FAILURE {id}");
                    ok = false;
                }
            }
        }
        if unexpected_failures > 0 {
            println!(
                "{unexpected_failures} failures not listed in {}",
                opts.expected_file.display()
            );
            ok = false;
        }
        if !unexpected_passes.is_empty() {
            println!(
                "{} listed scenarios now pass: remove them from {}",
                unexpected_passes.len(),
                opts.expected_file.display()
            );
            ok = false;
        }
    }
    println!("{passed} passed, {failed} failed");
    if ok {
        0
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> Outcome {
        Outcome {
            passed: true,
            reason: String::new(),
            details: String::new(),
            lenient: false,
        }
    }

    #[test]
    fn guard_contains_panics_and_hangs() {
        let t = Duration::from_millis(300);
        assert!(guarded(ok, t).passed);
        let p = guarded(|| panic!("boom\nmore"), t);
        assert!(!p.passed);
        assert_eq!(p.reason, "panic: boom");
        let h = guarded(
            || {
                std::thread::sleep(Duration::from_secs(5));
                ok()
            },
            t,
        );
        assert!(!h.passed);
        assert!(h.reason.starts_with("timeout"), "{}", h.reason);
    }

    #[test]
    fn ids_and_paths() {
        let root = Path::new("/x/features");
        assert_eq!(rel_str(&root.join("a/b/C.feature"), root), "a/b/C.feature");
        assert_eq!(features_root(Path::new("/x/features/a/b")), root);
        let s = gherkin::Scenario {
            name: "[1] n".into(),
            tags: vec![],
            line: 1,
            example: Some(3),
            steps: vec![],
        };
        assert_eq!(scenario_id("a/C.feature", &s), "a/C.feature: [1] n #3");
    }
}
