use super::*;

/// Deterministic pseudo-random vectors, clustered like real embeddings
/// when `clusters` > 0 and uniform otherwise.
fn data(n: usize, dim: usize, clusters: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut s = seed;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f32 / (1u64 << 53) as f32 * 2.0 - 1.0
    };
    let centres: Vec<Vec<f32>> = (0..clusters)
        .map(|_| (0..dim).map(|_| next()).collect())
        .collect();
    (0..n)
        .map(|i| {
            (0..dim)
                .map(|j| {
                    let c = if clusters > 0 {
                        centres[i % clusters][j]
                    } else {
                        0.0
                    };
                    c + next() * 0.3
                })
                .collect()
        })
        .collect()
}

fn exact(points: &[(u64, Vec<f32>)], q: &[f32], k: usize, metric: Metric) -> Vec<u64> {
    let mut scored: Vec<(f32, u64)> = points
        .iter()
        .map(|(key, v)| {
            let d = match metric {
                Metric::Euclidean => v.iter().zip(q).map(|(a, b)| (a - b) * (a - b)).sum(),
                Metric::Cosine => {
                    let dot: f32 = v.iter().zip(q).map(|(a, b)| a * b).sum();
                    let na: f32 = v.iter().map(|a| a * a).sum::<f32>().sqrt();
                    let nb: f32 = q.iter().map(|a| a * a).sum::<f32>().sqrt();
                    1.0 - dot / (na * nb)
                }
            };
            (d, *key)
        })
        .collect();
    scored.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    scored.into_iter().take(k).map(|(_, key)| key).collect()
}

fn recall(index: &Hnsw, points: &[(u64, Vec<f32>)], queries: &[Vec<f32>], metric: Metric) -> f64 {
    let k = 10;
    let mut hit = 0;
    for q in queries {
        let truth = exact(points, q, k, metric);
        let got: Vec<u64> = index
            .search(q, k, 64, u64::MAX)
            .into_iter()
            .map(|x| x.0)
            .collect();
        hit += truth.iter().filter(|t| got.contains(t)).count();
    }
    hit as f64 / (k * queries.len()) as f64
}

#[test]
fn finds_nearly_all_true_neighbours_under_both_metrics() {
    for metric in [Metric::Cosine, Metric::Euclidean] {
        for clusters in [0, 20] {
            // Queries come from the same distribution, not the same points.
            let mut all = data(3050, 24, clusters, 7);
            let queries = all.split_off(3000);
            let pts: Vec<(u64, Vec<f32>)> = all
                .into_iter()
                .enumerate()
                .map(|(i, v)| (i as u64 * 3, v))
                .collect();
            let mut h = Hnsw::new(24, metric, Params::default());
            for (k, v) in &pts {
                assert!(h.insert(*k, v, 1));
            }
            let r = recall(&h, &pts, &queries, metric);
            assert!(r >= 0.95, "{metric:?} clusters {clusters}: recall {r}");
        }
    }
}

#[test]
fn replaced_and_removed_keys_are_never_returned_stale() {
    let pts: Vec<(u64, Vec<f32>)> = data(1000, 8, 0, 3)
        .into_iter()
        .enumerate()
        .map(|(i, v)| (i as u64, v))
        .collect();
    let mut h = Hnsw::new(8, Metric::Euclidean, Params::default());
    for (k, v) in &pts {
        h.insert(*k, v, 1);
    }
    // Move key 5 far away and remove key 6 at version 2; search at their
    // old places.
    let far = vec![100.0f32; 8];
    assert!(h.insert(5, &far, 2));
    assert!(h.remove(6, 2));
    assert!(!h.remove(6, 3));
    assert_eq!(h.len(), 999);
    assert_eq!(h.slots(), 1001);
    for key in [5usize, 6] {
        let got = h.search(&pts[key].1, 10, 64, u64::MAX);
        assert_eq!(got.len(), 10);
        assert!(got.iter().all(|(k, _)| *k != 6));
        if key == 5 {
            assert!(got.iter().all(|(k, _)| *k != 5));
        }
        // At version 1 both are where they were.
        assert_eq!(h.search(&pts[key].1, 1, 64, 1)[0], (key as u64, 0.0));
        // Before version 1 nothing was indexed.
        assert!(h.search(&pts[key].1, 1, 64, 0).is_empty());
    }
    let got = h.search(&far, 1, 64, 2);
    assert_eq!(got[0].0, 5);
    assert_eq!(got[0].1, 0.0);
    assert_ne!(h.search(&far, 1, 64, 1)[0].0, 5);
}

#[test]
fn refuses_vectors_the_metric_cannot_use() {
    let mut h = Hnsw::new(3, Metric::Cosine, Params::default());
    assert!(!h.insert(1, &[0.0, 0.0, 0.0], 1));
    assert!(!h.insert(2, &[1.0, 2.0], 1));
    assert!(!h.insert(3, &[1.0, f32::NAN, 0.0], 1));
    assert!(h.is_empty());
    assert!(h.search(&[1.0, 0.0, 0.0], 5, 10, u64::MAX).is_empty());
    assert!(h.insert(4, &[1.0, 0.0, 0.0], 1));
    assert!(h.search(&[0.0, 0.0, 0.0], 5, 10, u64::MAX).is_empty());
    assert_eq!(h.search(&[2.0, 0.0, 0.0], 5, 10, u64::MAX), vec![(4, 0.0)]);
}

#[test]
fn the_same_inserts_build_the_same_graph() {
    let pts = data(500, 16, 5, 11);
    let build = || {
        let mut h = Hnsw::new(16, Metric::Cosine, Params::default());
        for (i, v) in pts.iter().enumerate() {
            h.insert(i as u64, v, 1);
        }
        h
    };
    let (a, b) = (build(), build());
    assert_eq!(a.links0, b.links0);
    assert_eq!(a.upper, b.upper);
    let q = &pts[17];
    assert_eq!(a.search(q, 10, 32, 1), b.search(q, 10, 32, 1));
}
