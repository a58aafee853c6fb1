//! Tail probabilities for the spike tests: Poisson, negative-binomial and binomial upper tails.
//!
//! Everything is computed through the regularised incomplete gamma and beta functions in log space, so
//! counts into the tens of thousands neither overflow nor lose the tiny p-values the detector compares
//! against thresholds like `1e-5`. No dependency: these are the classic series / continued-fraction
//! evaluations (Numerical Recipes §6.2 and §6.4) with a Lanczos log-gamma.
//!
//! Architecture Invariant: pure functions of numbers; no state, no IO, no allocation.

/// Lanczos coefficients (g = 7, n = 9); about 15 significant digits for positive arguments.
#[allow(clippy::excessive_precision)]
const LANCZOS: [f64; 9] = [
    0.999_999_999_999_809_93,
    676.520_368_121_885_1,
    -1_259.139_216_722_402_8,
    771.323_428_777_653_13,
    -176.615_029_162_140_59,
    12.507_343_278_686_905,
    -0.138_571_095_265_720_12,
    9.984_369_578_019_571_6e-6,
    1.505_632_735_149_311_6e-7,
];

const MAX_ITER: usize = 100_000;
const EPS: f64 = 1e-15;
const TINY: f64 = 1e-300;

/// Natural logarithm of the gamma function for `x > 0`.
pub fn ln_gamma(x: f64) -> f64 {
    if x < 0.5 {
        // Reflection keeps small arguments accurate.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let mut a = LANCZOS[0];
    for (i, c) in LANCZOS.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Regularised lower incomplete gamma `P(a, x)` and its complement `Q(a, x)`, each computed directly on
/// the side where it is small, so neither loses precision to `1 - (almost 1)`.
pub fn gamma_pq(a: f64, x: f64) -> (f64, f64) {
    if x <= 0.0 {
        return (0.0, 1.0);
    }
    let ln_pre = a * x.ln() - x - ln_gamma(a);
    if x < a + 1.0 {
        let mut ap = a;
        let mut del = 1.0 / a;
        let mut sum = del;
        for _ in 0..MAX_ITER {
            ap += 1.0;
            del *= x / ap;
            sum += del;
            if del.abs() < sum.abs() * EPS {
                break;
            }
        }
        let p = (ln_pre + sum.ln()).exp().min(1.0);
        (p, 1.0 - p)
    } else {
        // Modified Lentz continued fraction for Q.
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / TINY;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..MAX_ITER {
            let i = i as f64;
            let an = -i * (i - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < TINY {
                d = TINY;
            }
            c = b + an / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() < EPS {
                break;
            }
        }
        let q = (ln_pre + h.ln()).exp().min(1.0);
        (1.0 - q, q)
    }
}

fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    let qab = a + b;
    let qap = a + 1.0;
    let qam = a - 1.0;
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..MAX_ITER {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < EPS {
            break;
        }
    }
    h
}

/// Regularised incomplete beta `I_x(a, b)` for `a, b > 0`.
pub fn beta_inc(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_bt = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (-x).ln_1p();
    if x < (a + 1.0) / (a + b + 2.0) {
        ((ln_bt + beta_cf(a, b, x).ln()).exp() / a).min(1.0)
    } else {
        (1.0 - (ln_bt + beta_cf(b, a, 1.0 - x).ln()).exp() / b).max(0.0)
    }
}

/// `P(X >= k)` for `X ~ Poisson(mean)`.
pub fn poisson_sf(k: u64, mean: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if mean <= 0.0 {
        return 0.0;
    }
    gamma_pq(k as f64, mean).0
}

/// `P(X >= k)` for a negative binomial with the given mean and variance `mean + alpha * mean²`
/// (a gamma-mixed Poisson). `alpha` near zero falls back to the Poisson tail.
pub fn neg_binomial_sf(k: u64, mean: f64, alpha: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if mean <= 0.0 {
        return 0.0;
    }
    if alpha < 1e-9 {
        return poisson_sf(k, mean);
    }
    let r = 1.0 / alpha;
    beta_inc(k as f64, r, mean / (mean + r))
}

/// `P(X >= k)` for `X ~ Binomial(n, p)`, continuous in `k` and `n` (through the incomplete beta) so that an
/// effective sample size `n / design_effect` can be tested directly.
pub fn binomial_sf(k: f64, n: f64, p: f64) -> f64 {
    if k <= 0.0 {
        return 1.0;
    }
    if k > n || p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    beta_inc(k, n - k + 1.0, p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: f64, want: f64, rel: f64) -> bool {
        (got - want).abs() <= rel * want.abs().max(1e-300)
    }

    #[test]
    fn ln_gamma_known_values() {
        for (x, want) in [
            (1.0, 0.0),
            (2.0, 0.0),
            (0.5, 0.572_364_942_924_700_1),
            (10.0, 12.801_827_480_081_469),
            (1000.0, 5_905.220_423_209_181),
        ] {
            assert!(close(ln_gamma(x), want, 1e-12) || (ln_gamma(x) - want).abs() < 1e-12, "lnΓ({x})");
        }
    }

    /// Reference values from exact log-space summation of the probability mass (Python `math.lgamma`).
    #[test]
    fn poisson_tail_table() {
        for (k, mean, want) in [
            (1, 1.0, 0.632_120_558_828_557_7),
            (5, 1.0, 0.003_659_846_827_343_712),
            (10, 2.0, 4.649_807_501_726_427e-5),
            (5, 0.2, 2.258_190_552_957_821_3e-6),
            (50, 30.0, 5.188_914_625_480_392e-4),
            (1200, 1000.0, 4.684_203_855_872_244e-10),
            (900, 1000.0, 0.999_377_402_215_473_4),
            (3000, 1000.0, 0.0),
        ] {
            let got = poisson_sf(k, mean);
            if want == 0.0 {
                assert!(got < 1e-200, "P(X>={k}|{mean}) = {got}");
            } else {
                assert!(close(got, want, 1e-9), "P(X>={k}|{mean}) = {got}, want {want}");
            }
        }
    }

    #[test]
    fn binomial_tail_table() {
        for (k, n, p, want) in [
            (1.0, 1.0, 0.5, 0.5),
            (3.0, 10.0, 0.1, 0.070_190_826_4),
            (8.0, 12.0, 0.1, 3.413_53e-6),
            (600.0, 2000.0, 0.25, 2.334_978_407_357_197_6e-7),
            (0.0, 5.0, 0.3, 1.0),
            (6.0, 5.0, 0.3, 0.0),
        ] {
            let got = binomial_sf(k, n, p);
            assert!(close(got, want, 1e-8) || (got - want).abs() < 1e-15, "P(X>={k}|{n},{p}) = {got}");
        }
    }

    #[test]
    fn negative_binomial_tail() {
        // Tends to the Poisson tail as alpha -> 0, and is heavier when alpha grows.
        let p = poisson_sf(20, 10.0);
        assert!(close(neg_binomial_sf(20, 10.0, 1e-7), p, 1e-4));
        assert!(neg_binomial_sf(20, 10.0, 0.2) > p * 10.0);
        // NB(r = 2, mean = 2): P(X >= 1) = 1 - (r / (r + mean))^r = 0.75.
        assert!(close(neg_binomial_sf(1, 2.0, 0.5), 0.75, 1e-12));
        // Geometric (r = 1) with mean 3: P(X >= 4) = (3/4)^4.
        assert!(close(neg_binomial_sf(4, 3.0, 1.0), 0.316_406_25, 1e-12));
        // Large counts stay finite and monotone.
        let a = neg_binomial_sf(5000, 3000.0, 0.01);
        let b = neg_binomial_sf(6000, 3000.0, 0.01);
        assert!(a > b && b > 0.0 && a < 1e-3);
    }
}
