//! A Zipf sampler: rank k (0-based) is drawn with probability proportional to 1 / (k + 1)^s,
//! the shape of word frequencies in natural text.

use rand::Rng;

pub struct Zipf {
    /// Cumulative weights, normalised so the last is 1.
    cumulative: Vec<f64>,
}

impl Zipf {
    pub fn new(size: usize, exponent: f64) -> Zipf {
        assert!(size > 0, "a Zipf distribution needs at least one rank");
        let mut total = 0.0;
        let mut cumulative: Vec<f64> = (0..size)
            .map(|k| {
                total += 1.0 / ((k + 1) as f64).powf(exponent);
                total
            })
            .collect();
        for c in &mut cumulative {
            *c /= total;
        }
        Zipf { cumulative }
    }

    /// The probability of rank `k`.
    #[cfg(test)]
    pub fn probability(&self, k: usize) -> f64 {
        let below = if k == 0 { 0.0 } else { self.cumulative[k - 1] };
        self.cumulative[k] - below
    }

    pub fn sample(&self, rng: &mut impl Rng) -> usize {
        let u: f64 = rng.r#gen();
        self.cumulative
            .partition_point(|&c| c < u)
            .min(self.cumulative.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn frequencies_follow_the_law() {
        let zipf = Zipf::new(50_000, 1.0);
        let mut rng = StdRng::seed_from_u64(7);
        let draws = 400_000;
        let mut counts = vec![0u32; 50_000];
        for _ in 0..draws {
            counts[zipf.sample(&mut rng)] += 1;
        }
        for k in [0, 1, 9, 99] {
            let expected = zipf.probability(k) * draws as f64;
            let seen = f64::from(counts[k]);
            assert!(
                (seen - expected).abs() < 0.05 * expected + 30.0,
                "rank {k}: {seen} vs {expected}"
            );
        }
        // Rank 1 is drawn about twice as often as rank 2 (s = 1).
        let ratio = f64::from(counts[0]) / f64::from(counts[1]);
        assert!((1.8..2.2).contains(&ratio), "{ratio}");
    }

    #[test]
    fn probabilities_sum_to_one_and_every_rank_is_reachable() {
        let zipf = Zipf::new(10, 1.2);
        let sum: f64 = (0..10).map(|k| zipf.probability(k)).sum();
        assert!((sum - 1.0).abs() < 1e-9);
        let mut rng = StdRng::seed_from_u64(1);
        let mut seen = [false; 10];
        for _ in 0..10_000 {
            seen[zipf.sample(&mut rng)] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }
}
