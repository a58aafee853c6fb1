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
//! one 0.3; simulated in PyTorch, confirmed here.) On AVX2 CPUs that instruction does twice the
//! multiply-adds per cycle of f32 FMA. CPUs with VNNI (`vpdpbusd`: u8 × i8, four products summed straight
//! into 32 bits) do the same sums in one instruction instead of three: 16 columns per instruction with
//! AVX-512 VNNI, 8 with AVX-VNNI. Every kernel computes the same exact integer sums ([`Kernel`]), so a
//! model gives the same labels on every CPU; only the speed differs.
//!
//! Packed weight layout, for the kernel's 16-column panels: panel `p`, group of 4 inputs `g`, then
//! two halves of 8 columns, each column's 4 weights adjacent:
//! `packed[((p · groups + g) · 2 + half) · 32 + col · 4 + t] = q_w[input 4g + t][column 16p + 8·half + col]`.

/// Largest weight magnitude after quantisation (8 bits, see the module docs).
const WEIGHT_MAX: f32 = 127.0;
/// Largest quantised input (7 bits, see the module docs).
const INPUT_MAX: f32 = 127.0;
/// Rows per register tile. The 256-bit tiles (AVX2, AVX-VNNI) keep two accumulators per row in the 16
/// vector registers (6 rows spilled: 237 → 267 texts/s at 5 on a Zen 3); the AVX-512 tile keeps one per row
/// in 32 (8, 12 and 16 rows measured alike on a Zen 5).
const MR: usize = 5;
const MR_512: usize = 12;
/// Columns per panel.
const NR: usize = 16;
/// Register tiles per cache block (the block's quantised inputs stay in L2 while every panel passes over
/// them).
const TILES_PER_BLOCK: usize = 8;

/// The integer kernel a matrix product runs on. All compute the same exact sums.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kernel {
    Portable,
    /// `vpmaddubsw` + `vpmaddwd` + `vpaddd` on 256-bit vectors.
    Avx2,
    /// `vpdpbusd` on 256-bit vectors (Intel Alder Lake and later, AMD Zen 5).
    AvxVnni,
    /// `vpdpbusd` on 512-bit vectors (Intel Ice Lake / Sapphire Rapids and later, AMD Zen 4 and later).
    Avx512Vnni,
}

impl Kernel {
    pub(super) fn name(self) -> &'static str {
        match self {
            Kernel::Portable => "portable",
            Kernel::Avx2 => "avx2",
            Kernel::AvxVnni => "avx-vnni",
            Kernel::Avx512Vnni => "avx512-vnni",
        }
    }

    /// Whether this CPU can run the kernel.
    pub(super) fn supported(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            match self {
                Kernel::Portable => true,
                Kernel::Avx2 => super::ops::simd(),
                Kernel::AvxVnni => super::ops::simd() && is_x86_feature_detected!("avxvnni"),
                Kernel::Avx512Vnni => {
                    super::ops::simd() && is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vnni")
                }
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            self == Kernel::Portable
        }
    }

    /// The fastest kernel this CPU runs, checked once. `HEARSAY_INT8_KERNEL` (`portable`, `avx2`,
    /// `avx-vnni`, `avx512-vnni`) picks a slower one instead, for benchmarks; one the CPU lacks is ignored.
    pub(super) fn best() -> Kernel {
        use std::sync::OnceLock;
        static BEST: OnceLock<Kernel> = OnceLock::new();
        *BEST.get_or_init(|| {
            const ALL: [Kernel; 4] = [Kernel::Avx512Vnni, Kernel::AvxVnni, Kernel::Avx2, Kernel::Portable];
            let wanted = std::env::var("HEARSAY_INT8_KERNEL").ok();
            let chosen = wanted.as_deref().and_then(|w| ALL.into_iter().find(|k| k.name() == w && k.supported()));
            if let (Some(w), None) = (&wanted, chosen) {
                tracing::warn!("HEARSAY_INT8_KERNEL={w:?} is not a kernel this CPU runs; using the fastest");
            }
            chosen.unwrap_or_else(|| ALL.into_iter().find(|k| k.supported()).unwrap_or(Kernel::Portable))
        })
    }
}

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
        self.forward_with(Kernel::best(), x, m, out, scratch)
    }

    /// `forward` on a given kernel (`Kernel::best()` unless a test or benchmark compares them); one the
    /// CPU lacks runs the portable code.
    pub(super) fn forward_with(
        &self,
        kernel: Kernel,
        x: &[f32],
        m: usize,
        out: &mut [f32],
        scratch: &mut QuantScratch,
    ) {
        debug_assert_eq!(x.len(), m * self.k);
        debug_assert_eq!(out.len(), m * self.n);
        #[cfg(target_arch = "x86_64")]
        if kernel != Kernel::Portable && kernel.supported() {
            // Each of these is `unsafe` for one reason only: the CPU must have the features it enables. The
            // tiles they call check the lengths of what they read themselves.
            #[target_feature(enable = "avx2,fma")]
            unsafe fn avx2(d: &QuantDense, x: &[f32], m: usize, out: &mut [f32], s: &mut QuantScratch) {
                // SAFETY: the tile's one precondition, AVX2, is this function's own (it enables it, and its
                // caller checked the CPU has it).
                d.forward_body::<MR>(x, m, out, s, |rows, panel, groups| unsafe { tile_avx2(rows, panel, groups) })
            }
            #[target_feature(enable = "avx2,fma,avxvnni")]
            unsafe fn avx_vnni(d: &QuantDense, x: &[f32], m: usize, out: &mut [f32], s: &mut QuantScratch) {
                // SAFETY: the tile's one precondition, AVX2 with AVX-VNNI, is this function's own (it enables
                // them, and its caller checked the CPU has them).
                d.forward_body::<MR>(x, m, out, s, |rows, panel, groups| unsafe { tile_avx_vnni(rows, panel, groups) })
            }
            #[target_feature(enable = "avx2,fma,avx512f,avx512vnni")]
            unsafe fn avx512_vnni(d: &QuantDense, x: &[f32], m: usize, out: &mut [f32], s: &mut QuantScratch) {
                // SAFETY: the tile's one precondition, AVX-512F with AVX-512 VNNI, is this function's own (it
                // enables them, and its caller checked the CPU has them).
                d.forward_body::<MR_512>(x, m, out, s, |rows, panel, groups| unsafe {
                    tile_avx512_vnni(rows, panel, groups)
                })
            }
            // SAFETY: the functions' one precondition is their CPU features, and `kernel.supported()` just
            // checked that this CPU has every feature the chosen one enables.
            unsafe {
                match kernel {
                    Kernel::Avx512Vnni => avx512_vnni(self, x, m, out, scratch),
                    Kernel::AvxVnni => avx_vnni(self, x, m, out, scratch),
                    _ => avx2(self, x, m, out, scratch),
                }
            }
            return;
        }
        let _ = kernel;
        self.forward_body::<MR>(x, m, out, scratch, tile_portable)
    }

    /// The product, inlined into each kernel's copy so that quantising and storing vectorise with it.
    #[inline(always)]
    fn forward_body<const R: usize>(
        &self,
        x: &[f32],
        m: usize,
        out: &mut [f32],
        scratch: &mut QuantScratch,
        tile: impl Fn([&[u8]; R], &[i8], usize) -> [[i32; NR]; R],
    ) {
        self.quantise_rows(x, m, scratch);
        let groups = self.kp / 4;
        let panels = self.n.div_ceil(NR);
        for block in (0..m).step_by(R * TILES_PER_BLOCK) {
            let block_end = (block + R * TILES_PER_BLOCK).min(m);
            for p in 0..panels {
                let b = &self.packed[p * groups * 64..(p + 1) * groups * 64];
                for r0 in (block..block_end).step_by(R) {
                    let rows = (block_end - r0).min(R);
                    // Rows past the end repeat the last real row; their results are not stored.
                    let row_ptr: [&[u8]; R] =
                        std::array::from_fn(|r| &scratch.q[(r0 + r.min(rows - 1)) * self.kp..][..self.kp]);
                    let acc = tile(row_ptr, b, groups);
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
                // (v - min) · inv is in [0, INPUT_MAX]: adding one half and truncating rounds it. Through
                // i32, which vectorises (a float's saturating cast to u8 goes byte by byte).
                *d = ((v - min) * inv + 0.5).min(INPUT_MAX) as i32 as u8;
            }
            s.scale.push(scale);
            s.min.push(min);
        }
    }

    #[inline(always)]
    fn store<const R: usize>(
        &self,
        acc: &[[i32; NR]; R],
        r0: usize,
        rows: usize,
        panel: usize,
        s: &QuantScratch,
        out: &mut [f32],
    ) {
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

/// `acc[r][c] = Σ_k rows[r][k] · panel[k][c]` for one `R` × 16 tile, in portable Rust.
fn tile_portable<const R: usize>(rows: [&[u8]; R], panel: &[i8], groups: usize) -> [[i32; NR]; R] {
    let mut acc = [[0i32; NR]; R];
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

/// The same tile on 256-bit vectors, `acc = madd(acc, x, w)` being the kernel's step: four inputs
/// broadcast in `x`, each column's four weights in a lane of `w`, products summed into the lane's i32.
/// Panics unless every row holds `groups · 4` bytes and the panel `groups · 64`, which is all it reads.
///
/// # Safety
/// The CPU has AVX2 and whatever `madd` uses.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn tile_256<const R: usize>(
    rows: [&[u8]; R],
    panel: &[i8],
    groups: usize,
    madd: impl Fn(
        std::arch::x86_64::__m256i,
        std::arch::x86_64::__m256i,
        std::arch::x86_64::__m256i,
    ) -> std::arch::x86_64::__m256i,
) -> [[i32; NR]; R] {
    use std::arch::x86_64::*;
    assert!(panel.len() >= groups * 64 && rows.iter().all(|r| r.len() >= groups * 4));
    let b = panel.as_ptr();
    let a: [*const u8; R] = rows.map(|r| r.as_ptr());
    // SAFETY: the CPU has AVX2 (this function's contract); every load reads 32 bytes at `g · 64` or
    // `g · 64 + 32` of the panel, or 4 bytes at `g · 4` of a row, for `g < groups`: inside the lengths asserted
    // above; both loads are unaligned ones. The stores write 8 lanes at 0 and at 8 of a 16-lane array.
    unsafe {
        let mut acc = [[_mm256_setzero_si256(); 2]; R];
        for g in 0..groups {
            let b0 = _mm256_loadu_si256(b.add(g * 64) as *const __m256i);
            let b1 = _mm256_loadu_si256(b.add(g * 64 + 32) as *const __m256i);
            for r in 0..R {
                let x = _mm256_set1_epi32((a[r].add(g * 4) as *const i32).read_unaligned());
                acc[r][0] = madd(acc[r][0], x, b0);
                acc[r][1] = madd(acc[r][1], x, b1);
            }
        }
        let mut out = [[0i32; NR]; R];
        for r in 0..R {
            _mm256_storeu_si256(out[r].as_mut_ptr() as *mut __m256i, acc[r][0]);
            _mm256_storeu_si256(out[r][8..].as_mut_ptr() as *mut __m256i, acc[r][1]);
        }
        out
    }
}

/// The 256-bit tile with AVX2's three-instruction step (`vpmaddubsw` into i16 pairs, `vpmaddwd` by ones
/// into i32, `vpaddd`).
///
/// # Safety
/// The CPU has AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn tile_avx2<const R: usize>(rows: [&[u8]; R], panel: &[i8], groups: usize) -> [[i32; NR]; R] {
    use std::arch::x86_64::*;
    let ones = _mm256_set1_epi16(1);
    // SAFETY: `tile_256` needs AVX2 and what the step uses (AVX2 too): this function's own contract.
    unsafe {
        tile_256(rows, panel, groups, |acc, x, w| {
            _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(x, w), ones))
        })
    }
}

/// The 256-bit tile with AVX-VNNI's one-instruction step (`vpdpbusd`).
///
/// # Safety
/// The CPU has AVX2 and AVX-VNNI.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,avxvnni")]
unsafe fn tile_avx_vnni<const R: usize>(rows: [&[u8]; R], panel: &[i8], groups: usize) -> [[i32; NR]; R] {
    use std::arch::x86_64::*;
    // SAFETY: `tile_256` needs AVX2 and what the step uses (AVX-VNNI): this function's own contract.
    unsafe { tile_256(rows, panel, groups, |acc, x, w| _mm256_dpbusd_avx_epi32(acc, x, w)) }
}

/// The same tile with AVX-512 VNNI: a group's 64 packed weights are one register, whose 32-bit lanes are
/// the panel's 16 columns in order, so one `vpdpbusd` per row and group. Panics unless every row holds
/// `groups · 4` bytes and the panel `groups · 64`, which is all it reads.
///
/// # Safety
/// The CPU has AVX-512F and AVX-512 VNNI.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vnni")]
unsafe fn tile_avx512_vnni<const R: usize>(rows: [&[u8]; R], panel: &[i8], groups: usize) -> [[i32; NR]; R] {
    use std::arch::x86_64::*;
    assert!(panel.len() >= groups * 64 && rows.iter().all(|r| r.len() >= groups * 4));
    let mut acc = [_mm512_setzero_si512(); R];
    let b = panel.as_ptr();
    let a: [*const u8; R] = rows.map(|r| r.as_ptr());
    for g in 0..groups {
        // SAFETY: 64 bytes at `g · 64` of the panel, `g < groups`: inside the length asserted above; an
        // unaligned load.
        let w = unsafe { _mm512_loadu_si512(b.add(g * 64).cast()) };
        for r in 0..R {
            // SAFETY: 4 bytes at `g · 4` of a row, `g < groups`: inside the length asserted above; unaligned.
            let x = _mm512_set1_epi32(unsafe { (a[r].add(g * 4) as *const i32).read_unaligned() });
            acc[r] = _mm512_dpbusd_epi32(acc[r], x, w);
        }
    }
    let mut out = [[0i32; NR]; R];
    for r in 0..R {
        // SAFETY: 16 lanes into a 16-lane array, an unaligned store.
        unsafe { _mm512_storeu_si512(out[r].as_mut_ptr().cast(), acc[r]) };
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

    const KERNELS: [Kernel; 4] = [Kernel::Portable, Kernel::Avx2, Kernel::AvxVnni, Kernel::Avx512Vnni];

    /// `forward` on every kernel this CPU runs, each result next to its kernel (the portable one first).
    fn forward_on_every_kernel(dense: &QuantDense, x: &[f32], m: usize) -> Vec<(Kernel, Vec<f32>)> {
        KERNELS
            .into_iter()
            .filter(|k| {
                let ok = k.supported();
                if !ok {
                    eprintln!("note: this CPU lacks the {} kernel; not compared", k.name());
                }
                ok
            })
            .map(|k| {
                let mut out = vec![0.0; m * dense.outputs()];
                dense.forward_with(k, x, m, &mut out, &mut QuantScratch::default());
                (k, out)
            })
            .collect()
    }

    /// Odd shapes (rows not a multiple of any tile's, several cache blocks, inputs not a multiple of 4,
    /// outputs not of 16) give the f32 product up to quantisation error, and every kernel gives exactly
    /// the portable result.
    #[test]
    fn quantised_product_is_close_to_f32_and_kernels_agree() {
        for (m, k, n) in [(1, 4, 16), (7, 10, 19), (50, 384, 48), (13, 33, 3), (131, 96, 40)] {
            let x = data(m * k, 1 + m as u32);
            let w = data(n * k, 7 + k as u32);
            let b = data(n, 3);
            let dense = QuantDense::new(&w, &b);
            let results = forward_on_every_kernel(&dense, &x, m);
            let mut want = vec![0.0; m * n];
            super::super::ops::dense_f32(&x, m, &w, &b, &mut want);
            // Error budget: each product's error ≲ |x|·|w|·(1/127 + 1/127)/2, summed like a random walk.
            let tolerance = (k as f32).sqrt() * 0.02 + 1e-4;
            let (_, portable) = &results[0];
            for (g, e) in portable.iter().zip(&want) {
                assert!((g - e).abs() < tolerance, "{m}×{k}×{n}: {g} vs {e} (tolerance {tolerance})");
            }
            for (kernel, out) in &results[1..] {
                let same = out.iter().zip(portable).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "{m}×{k}×{n}: the {} kernel differs from the portable one", kernel.name());
            }
        }
    }

    /// The largest sums a kernel can meet (every input at 127, every weight at ±127, so each pair that
    /// `vpmaddubsw` adds is ±32,258): no 16-bit saturation, so every kernel equals the exact sums.
    #[test]
    fn extreme_inputs_and_weights_do_not_saturate() {
        let (m, k, n) = (MR_512 + 1, 64, NR);
        // Each row alternates between its minimum and maximum: quantised inputs are 0 and 127 only.
        let x: Vec<f32> = (0..m * k).map(|i| if i % 3 == 0 { -1.0 } else { 2.0 }).collect();
        let w: Vec<f32> = (0..n * k).map(|i| if (i / 7) % 2 == 0 { 0.5 } else { -0.5 }).collect();
        let dense = QuantDense::new(&w, &vec![0.0; n]);
        let mut s = QuantScratch::default();
        dense.quantise_rows(&x, m, &mut s);
        assert!(s.q.iter().all(|&q| q == 0 || q == INPUT_MAX as u8));
        assert!(dense.packed.iter().all(|&q| q.unsigned_abs() == WEIGHT_MAX as u8));
        // The portable sums are the exact ones.
        let groups = dense.kp / 4;
        let rows: [&[u8]; MR] = std::array::from_fn(|r| &s.q[r * dense.kp..][..dense.kp]);
        let exact = tile_portable(rows, &dense.packed, groups);
        for (r, row) in exact.iter().enumerate() {
            for (c, &acc) in row.iter().enumerate() {
                let want: i32 = (0..k)
                    .map(|j| i32::from(s.q[r * dense.kp + j]) * (if ((c * k + j) / 7) % 2 == 0 { 127 } else { -127 }))
                    .sum();
                assert_eq!(acc, want, "row {r} column {c}");
            }
        }
        // And every kernel's products are the portable ones.
        let results = forward_on_every_kernel(&dense, &x, m);
        for (kernel, out) in &results[1..] {
            assert_eq!(out, &results[0].1, "the {} kernel", kernel.name());
        }
    }
}
