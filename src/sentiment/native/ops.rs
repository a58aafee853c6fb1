//! The element-wise and attention arithmetic of the native encoder, in f32.
//!
//! Everything here is written as plain loops over slices that LLVM vectorises. The hot ones (GELU,
//! layer norm, attention) are compiled twice: once for the baseline target and once with AVX2+FMA, picked
//! at run time ([`simd`]), so one binary runs everywhere and uses 8-wide vectors where the CPU has them.
//! `exp` and `erf` are branch-free polynomial approximations (relative error below 4e-6 over the whole f32
//! range; erf absolute error below 5e-7 in f32): far below what changes a logit at 1e-4, and vectorisable, unlike libm's.

/// True when the CPU has AVX2 and FMA (checked once).
pub(super) fn simd() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::OnceLock;
        static HAS: OnceLock<bool> = OnceLock::new();
        *HAS.get_or_init(|| is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// True when the CPU also has AVX-512 (foundation): 16-wide vectors (checked once).
pub(super) fn simd512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::OnceLock;
        static HAS: OnceLock<bool> = OnceLock::new();
        *HAS.get_or_init(|| simd() && is_x86_feature_detected!("avx512f"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Compiles `$body` (a function of the given arguments) for the baseline, with AVX2+FMA and with AVX-512,
/// and calls the fastest the CPU supports. The body's arithmetic is the same in each (no contraction into
/// FMA, explicit partial sums), so all three give the same bits.
macro_rules! multiversion {
    ($(#[$doc:meta])* pub(super) fn $name:ident($($arg:ident: $ty:ty),*) $body:block) => {
        $(#[$doc])*
        pub(super) fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn body($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                unsafe fn fast($($arg: $ty),*) {
                    body($($arg),*)
                }
                #[target_feature(enable = "avx2,fma,avx512f")]
                unsafe fn fast512($($arg: $ty),*) {
                    body($($arg),*)
                }
                if simd512() {
                    // SAFETY: `simd512()` checked that this CPU has AVX2, FMA and AVX-512F.
                    return unsafe { fast512($($arg),*) };
                }
                if simd() {
                    // SAFETY: `simd()` checked that this CPU has AVX2 and FMA.
                    return unsafe { fast($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}

/// `e^x`, branch-free: `2^n · 2^f` with `n` rounded by the 1.5·2^23 trick and `2^f` a degree-6
/// polynomial on [-0.5, 0.5]. Inputs below -87 give about 1e-38 (not 0), which no caller can tell apart.
#[inline(always)]
pub(super) fn exp(x: f32) -> f32 {
    const ROUND: f32 = 12_582_912.0; // 1.5 × 2^23: adding and subtracting it rounds to an integer
    let y = x.clamp(-87.0, 88.0) * std::f32::consts::LOG2_E;
    let n = (y + ROUND) - ROUND;
    let f = y - n;
    let p = 1.0
        + f * (std::f32::consts::LN_2
            + f * (0.240_226_5 + f * (0.055_504_11 + f * (0.009_618_129 + f * (0.001_333_356 + f * 0.000_154_035_3)))));
    let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
    p * scale
}

/// `erf(x)` by Abramowitz & Stegun 7.1.26 (1.5e-7 in exact arithmetic, 4e-7 in f32), branch-free.
#[inline(always)]
pub(super) fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t * (0.254_829_6 + t * (-0.284_496_74 + t * (1.421_413_8 + t * (-1.453_152 + t * 1.061_405_4))));
    let y = 1.0 - poly * exp(-a * a);
    y.copysign(x)
}

multiversion! {
    /// Exact (erf) GELU in place, as BERT's `"gelu"`: `x · (1 + erf(x / √2)) / 2`.
    pub(super) fn gelu(xs: &mut [f32]) {
        for x in xs.iter_mut() {
            *x = 0.5 * *x * (1.0 + erf(*x * std::f32::consts::FRAC_1_SQRT_2));
        }
    }
}

multiversion! {
    /// `x = LayerNorm(x + residual)` row by row (rows of `gamma.len()` values).
    pub(super) fn add_layer_norm(x: &mut [f32], residual: &[f32], gamma: &[f32], beta: &[f32], eps: f32) {
        let h = gamma.len();
        for (row, res) in x.chunks_exact_mut(h).zip(residual.chunks_exact(h)) {
            for (v, r) in row.iter_mut().zip(res) {
                *v += *r;
            }
            normalise(row, gamma, beta, eps);
        }
    }
}

multiversion! {
    /// `x = LayerNorm(x)` row by row.
    pub(super) fn layer_norm(x: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
        for row in x.chunks_exact_mut(gamma.len()) {
            normalise(row, gamma, beta, eps);
        }
    }
}

/// Floating-point sums are not reassociated by the compiler, so a plain `.sum()` runs one add at a time;
/// eight independent partial sums let it use a vector register (and differ from the sequential sum
/// only in rounding).
const LANES: usize = 8;

#[inline(always)]
fn sum(xs: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let chunks = xs.chunks_exact(LANES);
    let tail: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for l in 0..LANES {
            acc[l] += c[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[inline(always)]
fn normalise(row: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
    let n = row.len() as f32;
    let mean = sum(row) / n;
    let mut sq = [0.0f32; LANES];
    let chunks = row.chunks_exact(LANES);
    let tail: f32 = chunks.remainder().iter().map(|v| (v - mean) * (v - mean)).sum();
    for c in chunks {
        for l in 0..LANES {
            sq[l] += (c[l] - mean) * (c[l] - mean);
        }
    }
    let var = (sq.iter().sum::<f32>() + tail) / n;
    let inv = 1.0 / (var + eps).sqrt();
    for ((v, g), b) in row.iter_mut().zip(gamma).zip(beta) {
        *v = (*v - mean) * inv * g + b;
    }
}

/// Where one sequence's rows are in a packed batch.
#[derive(Debug, Clone, Copy)]
pub(super) struct Span {
    /// First row of the sequence in the packed token matrix.
    pub start: usize,
    pub len: usize,
}

multiversion! {
    /// Multi-head self-attention over packed sequences (no padding anywhere, so no mask is needed). Per
    /// sequence and head, `Q·Kᵀ` and `softmax(…)·V` are two `matrixmultiply` products that read Q, K and V in
    /// place through the row stride of `qkv`.
    ///
    /// `qkv` holds one row of `3·h` values per token (query, key, value, each `h = heads · d` wide).
    /// With `cls_only`, only each sequence's first token is a query and `ctx` has one row per sequence;
    /// otherwise `ctx` has one row per token. `scratch` is reused between calls.
    pub(super) fn attention(qkv: &[f32], spans: &[Span], heads: usize, cls_only: bool, ctx: &mut [f32], scratch: &mut Vec<f32>) {
        let h3 = qkv.len() / spans.iter().map(|s| s.len).sum::<usize>().max(1);
        let h = h3 / 3;
        let d = h / heads;
        let scale = 1.0 / (d as f32).sqrt();
        let mut out_row = 0;
        for span in spans {
            let l = span.len;
            let queries = if cls_only { 1 } else { l };
            scratch.clear();
            scratch.resize(queries * l, 0.0);
            for head in 0..heads {
                let q = &qkv[span.start * h3 + head * d..];
                let k = &qkv[span.start * h3 + h + head * d..];
                let v = &qkv[span.start * h3 + 2 * h + head * d..];
                // scores = scale · Q Kᵀ (queries × l), read in place through the rows' stride.
                // SAFETY: Q, K and V are `d`-wide column blocks of `l` rows of stride `h3` inside `qkv`, the
                // scores `queries × l` in `scratch` (just sized), the output `d`-wide blocks of `queries` rows of
                // stride `h` in `ctx` (one row per query); `ctx` does not alias `qkv` or `scratch`.
                unsafe {
                    matrixmultiply::sgemm(
                        queries,
                        d,
                        l,
                        scale,
                        q.as_ptr(),
                        h3 as isize,
                        1,
                        k.as_ptr(),
                        1,
                        h3 as isize,
                        0.0,
                        scratch.as_mut_ptr(),
                        l as isize,
                        1,
                    );
                }
                for row in scratch.chunks_exact_mut(l) {
                    let max = row.iter().fold(f32::NEG_INFINITY, |m, s| m.max(*s));
                    for s in row.iter_mut() {
                        *s = exp(*s - max);
                    }
                    let inv = 1.0 / sum(row);
                    for s in row.iter_mut() {
                        *s *= inv;
                    }
                }
                let out = &mut ctx[out_row * h + head * d..];
                // SAFETY: see above.
                unsafe {
                    matrixmultiply::sgemm(
                        queries,
                        l,
                        d,
                        1.0,
                        scratch.as_ptr(),
                        l as isize,
                        1,
                        v.as_ptr(),
                        h3 as isize,
                        1,
                        0.0,
                        out.as_mut_ptr(),
                        h as isize,
                        1,
                    );
                }
            }
            out_row += queries;
        }
    }
}

/// `out = x · Wᵀ + b` in f32 for `m` rows, with `W` in PyTorch's `[n, k]` layout (no copy: the matrix
/// product reads it transposed through strides).
pub(super) fn dense_f32(x: &[f32], m: usize, w: &[f32], bias: &[f32], out: &mut [f32]) {
    let n = bias.len();
    let k = w.len() / n;
    debug_assert_eq!(x.len(), m * k);
    debug_assert_eq!(out.len(), m * n);
    for row in out.chunks_exact_mut(n) {
        row.copy_from_slice(bias);
    }
    // SAFETY: the pointers and strides describe `x` (m×k, row-major), `w` read as k×n (column stride k)
    // and `out` (m×n, row-major), all of the lengths checked above.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            x.as_ptr(),
            k as isize,
            1,
            w.as_ptr(),
            1,
            k as isize,
            1.0,
            out.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_and_erf_are_accurate() {
        let mut worst_exp = 0.0f64;
        let mut worst_erf = 0.0f64;
        for i in -8000..=8000 {
            let x = i as f32 / 100.0;
            let e = exp(x) as f64;
            let want = (x as f64).exp();
            if x > -80.0 {
                worst_exp = worst_exp.max(((e - want) / want).abs());
            }
            let x = i as f32 / 1000.0;
            worst_erf = worst_erf.max((erf(x) as f64 - erf_f64(x as f64)).abs());
        }
        // Most of the error is the f32 rounding of `x · log2(e)`, which grows with |x|.
        assert!(worst_exp < 5e-6, "exp relative error {worst_exp}");
        assert!(worst_erf < 5e-7, "erf absolute error {worst_erf}");
        assert_eq!(erf(0.0), 0.0);
        assert!(exp(-1000.0) < 1e-37 && exp(1000.0).is_finite());
    }

    /// erf in f64 for reference: its Taylor series up to |x| = 3 (exact to ~1e-12 there), beyond that
    /// `1 − erfc` with erfc's asymptotic series (error below 1e-8 from x = 3 on).
    fn erf_f64(x: f64) -> f64 {
        let a = x.abs();
        if a <= 3.0 {
            let (mut sum, mut term, mut n) = (0.0f64, x, 0.0f64);
            while n < 200.0 {
                sum += term / (2.0 * n + 1.0);
                n += 1.0;
                term *= -x * x / n;
            }
            return sum * 2.0 / std::f64::consts::PI.sqrt();
        }
        let (mut series, mut term) = (1.0f64, 1.0f64);
        for k in 1..6 {
            term *= -((2 * k - 1) as f64) / (2.0 * a * a);
            series += term;
        }
        let erfc = (-a * a).exp() / (a * std::f64::consts::PI.sqrt()) * series;
        (1.0 - erfc).copysign(x)
    }

    #[test]
    fn attention_matches_a_direct_computation() {
        // Two sequences (3 and 1 tokens), 2 heads of width 2.
        let (heads, d) = (2, 2);
        let h = heads * d;
        let spans = [Span { start: 0, len: 3 }, Span { start: 3, len: 1 }];
        let qkv: Vec<f32> = (0..4 * 3 * h).map(|i| ((i * 37 % 11) as f32 - 5.0) / 4.0).collect();
        let mut ctx = vec![0.0; 4 * h];
        attention(&qkv, &spans, heads, false, &mut ctx, &mut Vec::new());
        for span in spans {
            for i in 0..span.len {
                for head in 0..heads {
                    let q = |t: usize, c: usize| qkv[(span.start + t) * 3 * h + head * d + c];
                    let k = |t: usize, c: usize| qkv[(span.start + t) * 3 * h + h + head * d + c];
                    let v = |t: usize, c: usize| qkv[(span.start + t) * 3 * h + 2 * h + head * d + c];
                    let s: Vec<f64> = (0..span.len)
                        .map(|j| (0..d).map(|c| (q(i, c) * k(j, c)) as f64).sum::<f64>() / (d as f64).sqrt())
                        .collect();
                    let z: f64 = s.iter().map(|x| x.exp()).sum();
                    for c in 0..d {
                        let want: f64 = (0..span.len).map(|j| s[j].exp() / z * v(j, c) as f64).sum();
                        let got = ctx[(span.start + i) * h + head * d + c] as f64;
                        assert!((got - want).abs() < 1e-5, "row {i} head {head} col {c}: {got} vs {want}");
                    }
                }
            }
        }
        // cls_only gives the first row of each sequence.
        let mut cls = vec![0.0; 2 * h];
        attention(&qkv, &spans, heads, true, &mut cls, &mut Vec::new());
        assert_eq!(&cls[..h], &ctx[..h]);
        assert_eq!(&cls[h..], &ctx[3 * h..4 * h]);
    }

    #[test]
    fn dense_f32_is_x_times_w_transposed_plus_bias() {
        // x: 2×3, W: 2×3 (PyTorch [out, in]), b: 2.
        let x = [1.0, 2.0, 3.0, -1.0, 0.5, 0.0];
        let w = [1.0, 0.0, -1.0, 2.0, 1.0, 0.5];
        let b = [0.25, -1.0];
        let mut out = [0.0; 4];
        dense_f32(&x, 2, &w, &b, &mut out);
        assert_eq!(out, [1.0 - 3.0 + 0.25, 2.0 + 2.0 + 1.5 - 1.0, -1.0 + 0.25, -2.0 + 0.5 - 1.0]);
    }

    #[test]
    fn layer_norm_normalises_each_row() {
        let mut x = vec![1.0, 2.0, 3.0, 4.0, 10.0, 10.0, 10.0, 10.0];
        layer_norm(&mut x, &[1.0; 4], &[0.5; 4], 1e-12);
        let want = [-1.341_640_8, -0.447_213_6, 0.447_213_6, 1.341_640_8];
        for (g, w) in x[..4].iter().zip(want) {
            assert!((g - (w + 0.5)).abs() < 1e-5);
        }
        assert!(x[4..].iter().all(|v| (v - 0.5).abs() < 1e-5), "a constant row normalises to beta");
    }
}
