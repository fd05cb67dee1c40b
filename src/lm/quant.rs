//! Quantizing log10 values into at most 256 bins, so that an n-gram's
//! probability or back-off weight is one byte in its table slot (see
//! [`super::format`]).
//!
//! The bins are the centres of an optimal weighted 1-D k-means: sorted
//! values with weights (how many n-grams have each value) are cut into at
//! most [`MAX_BINS`] runs so that the weighted sum of squared errors,
//! Σ w (x − centre)², is as small as it can be, each run's centre being its
//! weighted mean. In one dimension the best clusters are runs of adjacent
//! values, so dynamic programming finds them exactly (Wang & Song 2011,
//! "Ckmeans.1d.dp"), with the divide-and-conquer speed-up that the best cut
//! point only moves right as the run's end does: O(k n log n) for k bins
//! and n distinct values. More than [`MAX_POINTS`] distinct values (a large
//! built model, where every n-gram can have its own) are first merged into
//! that many equal-width cells, each its weighted mean, which moves a value
//! by at most range / 65,536 (about 1e-4 log10), far below the bins'
//! spacing.
//!
//! A value is then coded as its nearest centre ([`Quantizer::bin`]); with at
//! most 256 distinct values every one is kept exactly.

/// The most bins a table may have (bin indices are one byte).
pub const MAX_BINS: usize = 256;

/// The most distinct points the dynamic programme works on.
pub const MAX_POINTS: usize = 1 << 16;

/// A table of at most [`MAX_BINS`] values, sorted, and the rule that codes
/// any value as the index of the nearest one.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantizer {
    /// The bins' values (log10), ascending.
    pub values: Vec<f32>,
}

impl Quantizer {
    /// The optimal (least weighted squared error) table of at most `k`
    /// bins, `1 ≤ k ≤ MAX_BINS`, for `points`: (value, weight) pairs in any
    /// order, repeats allowed. Points of weight 0 (or less, or NaN) and
    /// values that are not finite are ignored; with no point left the table is `[0.0]`.
    pub fn new(points: impl IntoIterator<Item = (f32, f64)>, k: usize) -> Quantizer {
        let k = k.clamp(1, MAX_BINS);
        let mut pts: Vec<(f32, f64)> =
            points.into_iter().filter(|&(x, w)| w > 0.0 && x.is_finite()).collect();
        pts.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        let mut merged: Vec<(f64, f64)> = Vec::with_capacity(pts.len());
        for &(x, w) in &pts {
            match merged.last_mut() {
                Some((y, v)) if *y == x as f64 => *v += w,
                _ => merged.push((x as f64, w)),
            }
        }
        if merged.is_empty() {
            return Quantizer { values: vec![0.0] };
        }
        if merged.len() <= k {
            return Quantizer { values: merged.iter().map(|&(x, _)| x as f32).collect() };
        }
        if merged.len() > MAX_POINTS {
            merged = cells(&merged, MAX_POINTS);
        }
        let mut values: Vec<f32> =
            optimal_runs(&merged, k).iter().map(|r| mean(&merged[r.clone()]) as f32).collect();
        // Two runs' means can round to one f32; keep the table strictly
        // ascending so that every bin is distinct.
        values.dedup();
        Quantizer { values }
    }

    /// The index of the value nearest `x` (ties to the lower one).
    pub fn bin(&self, x: f32) -> u8 {
        let v = &self.values;
        let i = v.partition_point(|&c| c < x);
        let i = if i == v.len() || (i > 0 && x - v[i - 1] <= v[i] - x) { i - 1 } else { i };
        i as u8
    }

    /// The value of `x`'s bin.
    pub fn quantize(&self, x: f32) -> f32 {
        self.values[self.bin(x) as usize]
    }
}

/// The weighted mean of `points`.
fn mean(points: &[(f64, f64)]) -> f64 {
    let (sw, swx) = points.iter().fold((0.0, 0.0), |(sw, swx), &(x, w)| (sw + w, swx + w * x));
    swx / sw
}

/// Merges sorted, distinct `points` into at most `n` equal-width cells of
/// their range, each the weighted mean of its points.
fn cells(points: &[(f64, f64)], n: usize) -> Vec<(f64, f64)> {
    let (lo, hi) = (points[0].0, points[points.len() - 1].0);
    let width = (hi - lo) / n as f64;
    let mut out: Vec<(usize, f64, f64)> = Vec::with_capacity(n);
    for &(x, w) in points {
        let cell = (((x - lo) / width) as usize).min(n - 1);
        match out.last_mut() {
            Some((c, sw, swx)) if *c == cell => {
                *sw += w;
                *swx += w * x;
            }
            _ => out.push((cell, w, w * x)),
        }
    }
    out.into_iter().map(|(_, sw, swx)| (swx / sw, sw)).collect()
}

/// Cuts sorted `points` (at least `k` of them) into exactly `k` runs that
/// minimise the weighted sum of squared distances to each run's mean.
fn optimal_runs(points: &[(f64, f64)], k: usize) -> Vec<std::ops::Range<usize>> {
    let n = points.len();
    // Prefix sums of w, w·x and w·x², on values centred on their mean so
    // that the differences below lose little to cancellation.
    let centre = mean(points);
    let mut sw = vec![0.0f64; n + 1];
    let mut swx = vec![0.0f64; n + 1];
    let mut swxx = vec![0.0f64; n + 1];
    for (i, &(x, w)) in points.iter().enumerate() {
        let x = x - centre;
        sw[i + 1] = sw[i] + w;
        swx[i + 1] = swx[i] + w * x;
        swxx[i + 1] = swxx[i] + w * x * x;
    }
    // The error of one run over points i..j (i < j).
    let cost = |i: usize, j: usize| {
        let (w, wx, wxx) = (sw[j] - sw[i], swx[j] - swx[i], swxx[j] - swxx[i]);
        (wxx - wx * wx / w).max(0.0)
    };
    // best[j]: the least error of the first j points in m runs; cut[m][j]:
    // where the last of those runs starts.
    let mut best: Vec<f64> = (0..=n).map(|j| if j == 0 { 0.0 } else { cost(0, j) }).collect();
    let mut cut = vec![vec![0u32; n + 1]; k];
    for (runs, cut) in cut.iter_mut().enumerate().skip(1) {
        let mut next = vec![f64::INFINITY; n + 1];
        // j ranges over runs + 1..=n (each run holds a point); the last
        // run starts at i in runs..j.
        fill(runs + 1, n, runs, n - 1, &best, &mut next, cut, &cost);
        best = next;
    }
    let mut out = Vec::with_capacity(k);
    let mut end = n;
    for runs in (0..k).rev() {
        let start = cut[runs][end] as usize;
        out.push(start..end);
        end = start;
    }
    out.reverse();
    out
}

/// Divide and conquer: fills `next[j]` for j in `lo..=hi`, knowing that the
/// best start of the last run lies in `from..=to` and only moves right as
/// j does.
#[allow(clippy::too_many_arguments)]
fn fill(
    lo: usize,
    hi: usize,
    from: usize,
    to: usize,
    best: &[f64],
    next: &mut [f64],
    cut: &mut [u32],
    cost: &impl Fn(usize, usize) -> f64,
) {
    if lo > hi {
        return;
    }
    let j = (lo + hi) / 2;
    let (mut arg, mut min) = (from, f64::INFINITY);
    for (i, &b) in best.iter().enumerate().take(to.min(j - 1) + 1).skip(from) {
        let c = b + cost(i, j);
        if c < min {
            (arg, min) = (i, c);
        }
    }
    next[j] = min;
    cut[j] = arg as u32;
    if j > lo {
        fill(lo, j - 1, from, arg, best, next, cut, cost);
    }
    fill(j + 1, hi, arg, to, best, next, cut, cost);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error of coding `points` with `q`.
    fn error(q: &Quantizer, points: &[(f32, f64)]) -> f64 {
        points.iter().map(|&(x, w)| w * (q.quantize(x) - x).powi(2) as f64).sum()
    }

    #[test]
    fn few_values_are_kept_exactly() {
        let q = Quantizer::new([(-1.0, 3.0), (-2.0, 1.0), (-1.0, 2.0), (0.5, 0.0)], 256);
        assert_eq!(q.values, vec![-2.0, -1.0]);
        assert_eq!(q.bin(-1.0), 1);
        assert_eq!(q.bin(-1.6), 0);
        assert_eq!(q.bin(5.0), 1);
        assert_eq!(q.bin(-9.0), 0);
        assert_eq!(Quantizer::new([], 4).values, vec![0.0]);
    }

    /// Against brute force over every way of cutting a few points.
    #[test]
    fn runs_are_optimal() {
        let pts: Vec<(f32, f64)> = [
            (0.0, 5.0),
            (0.1, 1.0),
            (0.15, 1.0),
            (1.0, 2.0),
            (1.1, 7.0),
            (3.0, 1.0),
            (3.3, 4.0),
            (9.0, 1.0),
        ]
        .to_vec();
        for k in 1..=4 {
            let q = Quantizer::new(pts.iter().copied(), k);
            let got = error(&q, &pts);
            // Every choice of k − 1 cut points among the 7 gaps.
            let mut want = f64::INFINITY;
            for mask in 0u32..1 << 7 {
                if mask.count_ones() as usize != k - 1 {
                    continue;
                }
                let mut err = 0.0;
                let mut start = 0;
                for end in 1..=8 {
                    if end == 8 || mask & 1 << (end - 1) != 0 {
                        let run = &pts[start..end];
                        let w: f64 = run.iter().map(|p| p.1).sum();
                        let m = run.iter().map(|p| p.1 * p.0 as f64).sum::<f64>() / w;
                        err += run.iter().map(|p| p.1 * (p.0 as f64 - m).powi(2)).sum::<f64>();
                        start = end;
                    }
                }
                want = want.min(err);
            }
            assert!(got <= want + 1e-6, "k {k}: {got} > {want}");
            assert!(q.values.len() == k && q.values.windows(2).all(|p| p[0] < p[1]));
        }
    }

    /// A heavy value keeps its own bin all but exactly (as a Sphinx model's
    /// back-off 0, shared by most bigrams, should): light neighbours can
    /// share it but hardly move it.
    #[test]
    fn a_heavy_value_is_all_but_exact() {
        let mut pts: Vec<(f32, f64)> = (0..5000).map(|i| (-1.0 + i as f32 / 4000.0, 1.0)).collect();
        pts.push((0.0, 1e6));
        let q = Quantizer::new(pts.iter().copied(), 256);
        assert!(q.quantize(0.0).abs() < 1e-9, "{}", q.quantize(0.0));
        assert_eq!(q.values.len(), 256);
        // Equal weights over an even spread: bins about 1.25 / 255 apart.
        let worst = pts.iter().map(|&(x, _)| (q.quantize(x) - x).abs()).fold(0.0, f32::max);
        assert!(worst < 0.004, "{worst}");
    }

    /// Many distinct values go through the equal-width cells first.
    #[test]
    fn many_values_are_merged_into_cells() {
        let pts: Vec<(f32, f64)> =
            (0..200_000).map(|i| (-(i as f32) / 20_000.0, 1.0 + (i % 3) as f64)).collect();
        let q = Quantizer::new(pts.iter().copied(), 256);
        assert_eq!(q.values.len(), 256);
        let worst = pts.iter().map(|&(x, _)| (q.quantize(x) - x).abs()).fold(0.0, f32::max);
        assert!(worst < 0.03, "{worst}");
    }
}
