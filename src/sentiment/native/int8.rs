//! Integer matrix products for the native encoder's dense layers (`precision = "int8"`).
//!
//! Weights are quantised once at load, symmetrically per output column, to 8 bits (−127..127); each
//! matrix product quantises its input rows on the fly, asymmetrically per row, to 7 bits (0..127), so
//! `x ≈ scale_x · q + min_x` and `w ≈ scale_w · q_w`. Then
//! `Σ x·w ≈ scale_x · scale_w · Σ q·q_w + min_x · scale_w · Σ q_w`, where the first sum is exact integer
//! arithmetic and the second is precomputed per column.
//!
//! The 7-bit inputs are what makes AVX2's `vpmaddubsw` (u8 × i8, pairs summed into i16) safe: two
//! products of at most 127 · 127 (32,258) never saturate 16 bits. (The split was 8-bit inputs and 7-bit weights
//! until hearsay-sentiment-4, a full fine-tune: with it that split cost 0.7 points of val macro-recall, this
//! one 0.3; simulated in PyTorch, confirmed here.) On this kind of CPU that instruction does twice
//! the multiply-adds per cycle of f32 FMA. Other CPUs run the same arithmetic in portable Rust, with
//! identical results (integer sums are exact).
//!
//! Packed weight layout, for the kernel's 16-column panels: panel `p`, group of 4 inputs `g`, then
//! two halves of 8 columns, each column's 4 weights adjacent:
//! `packed[((p · groups + g) · 2 + half) · 32 + col · 4 + t] = q_w[input 4g + t][column 16p + 8·half + col]`.

/// Largest weight magnitude after quantisation (8 bits, see the module docs).
const WEIGHT_MAX: f32 = 127.0;
/// Largest quantised input (7 bits, see the module docs).
const INPUT_MAX: f32 = 127.0;
/// Rows per register tile.
const MR: usize = 5;
/// Columns per panel.
const NR: usize = 16;
/// Rows per cache block (the block's quantised inputs stay in L2 while every panel passes over them).
const MC: usize = MR * 8;

/// A dense layer's weights, quantised and packed.
pub(super) struct QuantDense {
    /// Inputs per row (`k`) and the padded count (a multiple of 4).
    k: usize,
    kp: usize,
    /// Output columns.
    n: usize,
    packed: Vec<i8>,
    /// Per column: the weight scale.
    scale: Vec<f32>,
    /// `scale · Σ q_w` per column: what a row's minimum contributes per unit.
    offset: Vec<f32>,
    bias: Vec<f32>,
}

/// Scratch for one matrix product: the quantised input rows and their scale and offset.
#[derive(Default)]
pub(super) struct QuantScratch {
    q: Vec<u8>,
    scale: Vec<f32>,
    min: Vec<f32>,
}

impl QuantDense {
    /// Quantises a PyTorch `[n, k]` weight matrix (row `j` holds output `j`'s weights).
    pub(super) fn new(w: &[f32], bias: &[f32]) -> QuantDense {
        let n = bias.len();
        let k = w.len() / n;
        let kp = k.div_ceil(4) * 4;
        let panels = n.div_ceil(NR);
        let groups = kp / 4;
        let mut packed = vec![0i8; panels * groups * 64];
        let mut scale = vec![0.0f32; n];
        let mut colsum = vec![0i32; n];
        for j in 0..n {
            let row = &w[j * k..(j + 1) * k];
            let max = row.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let s = if max > 0.0 { max / WEIGHT_MAX } else { 1.0 };
            scale[j] = s;
            let (p, c) = (j / NR, j % NR);
            let (half, col) = (c / 8, c % 8);
            for (i, v) in row.iter().enumerate() {
                let q = (v / s).round().clamp(-WEIGHT_MAX, WEIGHT_MAX) as i8;
                colsum[j] += i32::from(q);
                let (g, t) = (i / 4, i % 4);
                packed[((p * groups + g) * 2 + half) * 32 + col * 4 + t] = q;
            }
        }
        let offset = scale.iter().zip(&colsum).map(|(s, c)| s * *c as f32).collect();
        QuantDense { k, kp, n, packed, scale, offset, bias: bias.to_vec() }
    }

    /// Output columns.
    pub(super) fn outputs(&self) -> usize {
        self.n
    }

    /// `out = x · Wᵀ + b` for the `m` rows of `x` (each `k` wide); `out` is `m × n`.
    pub(super) fn forward(&self, x: &[f32], m: usize, out: &mut [f32], scratch: &mut QuantScratch) {
        debug_assert_eq!(x.len(), m * self.k);
        debug_assert_eq!(out.len(), m * self.n);
        #[cfg(target_arch = "x86_64")]
        if super::ops::simd() {
            #[target_feature(enable = "avx2,fma")]
            unsafe fn fast(d: &QuantDense, x: &[f32], m: usize, out: &mut [f32], scratch: &mut QuantScratch) {
                d.forward_body(x, m, out, scratch, true)
            }
            // SAFETY: `simd()` checked that this CPU has AVX2 and FMA.
            return unsafe { fast(self, x, m, out, scratch) };
        }
        self.forward_body(x, m, out, scratch, false)
    }

    /// The product, inlined into a baseline and an AVX2 copy so that quantising and storing vectorise too.
    #[inline(always)]
    fn forward_body(&self, x: &[f32], m: usize, out: &mut [f32], scratch: &mut QuantScratch, fast: bool) {
        self.quantise_rows(x, m, scratch);
        let groups = self.kp / 4;
        let panels = self.n.div_ceil(NR);
        for block in (0..m).step_by(MC) {
            let block_end = (block + MC).min(m);
            for p in 0..panels {
                let b = &self.packed[p * groups * 64..(p + 1) * groups * 64];
                for r0 in (block..block_end).step_by(MR) {
                    let rows = (block_end - r0).min(MR);
                    // Rows past the end repeat the last real row; their results are not stored.
                    let row_ptr: [&[u8]; MR] =
                        std::array::from_fn(|r| &scratch.q[(r0 + r.min(rows - 1)) * self.kp..][..self.kp]);
                    let acc = tile(row_ptr, b, groups, fast);
                    self.store(&acc, r0, rows, p, scratch, out);
                }
            }
        }
    }

    #[inline(always)]
    fn quantise_rows(&self, x: &[f32], m: usize, s: &mut QuantScratch) {
        s.q.clear();
        s.q.resize(m * self.kp, 0);
        s.scale.clear();
        s.min.clear();
        for (row, q) in x.chunks_exact(self.k).zip(s.q.chunks_exact_mut(self.kp)) {
            let (min, max) = row.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
            let scale = if max > min { (max - min) / INPUT_MAX } else { 1.0 };
            let inv = 1.0 / scale;
            for (d, v) in q.iter_mut().zip(row) {
                // (v - min) · inv is in [0, INPUT_MAX]: adding one half and truncating rounds it.
                *d = ((v - min) * inv + 0.5).min(INPUT_MAX) as u8;
            }
            s.scale.push(scale);
            s.min.push(min);
        }
    }

    #[inline(always)]
    fn store(&self, acc: &[[i32; NR]; MR], r0: usize, rows: usize, panel: usize, s: &QuantScratch, out: &mut [f32]) {
        let c0 = panel * NR;
        let cols = (self.n - c0).min(NR);
        let (scale, offset, bias) = (&self.scale[c0..][..cols], &self.offset[c0..][..cols], &self.bias[c0..][..cols]);
        for (r, acc_row) in acc.iter().enumerate().take(rows) {
            let i = r0 + r;
            let (sx, mx) = (s.scale[i], s.min[i]);
            let out_row = &mut out[i * self.n + c0..][..cols];
            for ((((o, a), w), z), b) in out_row.iter_mut().zip(acc_row).zip(scale).zip(offset).zip(bias) {
                *o = sx * (*a as f32) * w + mx * z + b;
            }
        }
    }
}

/// `acc[r][c] = Σ_k rows[r][k] · panel[k][c]` for one 6 × 16 tile.
fn tile(rows: [&[u8]; MR], panel: &[i8], groups: usize, fast: bool) -> [[i32; NR]; MR] {
    #[cfg(target_arch = "x86_64")]
    if fast {
        // SAFETY: `fast` is `ops::simd()`, true only where AVX2 is available; every row holds `groups · 4`
        // bytes and the panel `groups · 64`, which is all the kernel reads.
        return unsafe { tile_avx2(rows, panel, groups) };
    }
    let _ = fast;
    tile_portable(rows, panel, groups)
}

fn tile_portable(rows: [&[u8]; MR], panel: &[i8], groups: usize) -> [[i32; NR]; MR] {
    let mut acc = [[0i32; NR]; MR];
    for g in 0..groups {
        let b = &panel[g * 64..(g + 1) * 64];
        for (r, row) in rows.iter().enumerate() {
            let a = &row[g * 4..g * 4 + 4];
            for c in 0..NR {
                let w = &b[(c / 8) * 32 + (c % 8) * 4..][..4];
                acc[r][c] += (0..4).map(|t| i32::from(a[t]) * i32::from(w[t])).sum::<i32>();
            }
        }
    }
    acc
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn tile_avx2(rows: [&[u8]; MR], panel: &[i8], groups: usize) -> [[i32; NR]; MR] {
    use std::arch::x86_64::*;
    debug_assert!(panel.len() >= groups * 64 && rows.iter().all(|r| r.len() >= groups * 4));
    let ones = _mm256_set1_epi16(1);
    let mut acc = [[_mm256_setzero_si256(); 2]; MR];
    let b = panel.as_ptr();
    let a: [*const u8; MR] = rows.map(|r| r.as_ptr());
    for g in 0..groups {
        let b0 = _mm256_loadu_si256(b.add(g * 64) as *const __m256i);
        let b1 = _mm256_loadu_si256(b.add(g * 64 + 32) as *const __m256i);
        for r in 0..MR {
            let x = _mm256_set1_epi32((a[r].add(g * 4) as *const i32).read_unaligned());
            acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(_mm256_maddubs_epi16(x, b0), ones));
            acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(_mm256_maddubs_epi16(x, b1), ones));
        }
    }
    let mut out = [[0i32; NR]; MR];
    for r in 0..MR {
        _mm256_storeu_si256(out[r].as_mut_ptr() as *mut __m256i, acc[r][0]);
        _mm256_storeu_si256(out[r][8..].as_mut_ptr() as *mut __m256i, acc[r][1]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(len: usize, seed: u32) -> Vec<f32> {
        let mut s = seed;
        (0..len)
            .map(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (s >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0
            })
            .collect()
    }

    /// Odd shapes (rows not a multiple of 6, inputs not of 4, outputs not of 16) give the f32 product up to
    /// quantisation error, and the SIMD and portable kernels agree exactly.
    #[test]
    fn quantised_product_is_close_to_f32_and_kernels_agree() {
        for (m, k, n) in [(1, 4, 16), (7, 10, 19), (50, 384, 48), (13, 33, 3)] {
            let x = data(m * k, 1 + m as u32);
            let w = data(n * k, 7 + k as u32);
            let b = data(n, 3);
            let dense = QuantDense::new(&w, &b);
            let mut out = vec![0.0; m * n];
            dense.forward(&x, m, &mut out, &mut QuantScratch::default());
            let mut want = vec![0.0; m * n];
            super::super::ops::dense_f32(&x, m, &w, &b, &mut want);
            // Error budget: each product's error ≲ |x|·|w|·(1/127 + 1/127)/2, summed like a random walk.
            let tolerance = (k as f32).sqrt() * 0.02 + 1e-4;
            for (g, e) in out.iter().zip(&want) {
                assert!((g - e).abs() < tolerance, "{m}×{k}×{n}: {g} vs {e} (tolerance {tolerance})");
            }
            let mut s = QuantScratch::default();
            dense.quantise_rows(&x, m, &mut s);
            let groups = dense.kp / 4;
            for p in 0..n.div_ceil(NR) {
                let panel = &dense.packed[p * groups * 64..(p + 1) * groups * 64];
                for r0 in (0..m).step_by(MR) {
                    let rows: [&[u8]; MR] = std::array::from_fn(|r| &s.q[(r0 + r).min(m - 1) * dense.kp..][..dense.kp]);
                    assert_eq!(tile(rows, panel, groups, true), tile_portable(rows, panel, groups));
                }
            }
        }
    }

    /// The largest sums the kernel can meet (every input at 127, every weight at ±127, so each pair that
    /// `vpmaddubsw` adds is ±32,258): no 16-bit saturation, so SIMD equals the exact portable sums.
    #[test]
    fn extreme_inputs_and_weights_do_not_saturate() {
        let (m, k, n) = (MR, 64, NR);
        // Each row alternates between its minimum and maximum: quantised inputs are 0 and 127 only.
        let x: Vec<f32> = (0..m * k).map(|i| if i % 3 == 0 { -1.0 } else { 2.0 }).collect();
        let w: Vec<f32> = (0..n * k).map(|i| if (i / 7) % 2 == 0 { 0.5 } else { -0.5 }).collect();
        let dense = QuantDense::new(&w, &vec![0.0; n]);
        let mut s = QuantScratch::default();
        dense.quantise_rows(&x, m, &mut s);
        assert!(s.q.iter().all(|&q| q == 0 || q == INPUT_MAX as u8));
        assert!(dense.packed.iter().all(|&q| q.unsigned_abs() == WEIGHT_MAX as u8));
        let groups = dense.kp / 4;
        let rows: [&[u8]; MR] = std::array::from_fn(|r| &s.q[r * dense.kp..][..dense.kp]);
        let exact = tile_portable(rows, &dense.packed, groups);
        assert_eq!(tile(rows, &dense.packed, groups, true), exact);
        // And the portable sums are the exact ones.
        for (r, row) in exact.iter().enumerate() {
            for (c, &acc) in row.iter().enumerate() {
                let want: i32 = (0..k)
                    .map(|j| i32::from(s.q[r * dense.kp + j]) * (if ((c * k + j) / 7) % 2 == 0 { 127 } else { -127 }))
                    .sum();
                assert_eq!(acc, want, "row {r} column {c}");
            }
        }
    }
}
