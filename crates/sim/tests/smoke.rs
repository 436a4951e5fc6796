//! A few seeds as an ordinary test (CI runs ten thousand with the
//! `causeway-sim` binary).

#[test]
fn a_few_seeds_keep_every_invariant() {
    // The whole cluster's futures run on this one thread: give it room.
    let worker = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(|| {
            for seed in 1..=3 {
                let r = causeway_sim::run(&causeway_sim::Options::new(seed));
                assert!(!r.ops.is_empty(), "seed {seed} ran no operations");
                assert!(
                    r.anomalies.is_empty(),
                    "seed {seed}: {:?}",
                    r.anomalies
                        .iter()
                        .map(|a| format!("{}: {}", a.kind, a.detail))
                        .collect::<Vec<_>>()
                );
            }
        })
        .expect("a test thread");
    worker.join().expect("the seeds keep every invariant");
}
