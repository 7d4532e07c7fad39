//! Regression solvers.

/// L1-regularised logistic regression by FISTA: `min mean(logloss) + λ‖w‖₁` (bias unpenalised). `x` is `m × d` row-major.
pub fn l1_logistic(
    x: &[f32],
    y: &[f32],
    d: usize,
    lambda: f64,
    init: &(Vec<f64>, f64),
    iters: usize,
) -> (Vec<f64>, f64) {
    let m = y.len();
    // Lipschitz constant of the mean logistic gradient ≤ ‖X‖²_F / (4m) (standardized: ≈ d/4)
    let lip =
        (x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / (4.0 * m as f64)).max(1e-6) + 0.25;
    let step = 1.0 / lip;
    let (mut w, mut b) = init.clone();
    let (mut zw, mut zb) = (w.clone(), b);
    let mut t = 1.0f64;
    let mut grad = vec![0f64; d];
    for _ in 0..iters {
        grad.iter_mut().for_each(|g| *g = 0.0);
        let mut gb = 0.0;
        for (r, &yy) in x.chunks(d).zip(y) {
            let mut z = zb;
            for j in 0..d {
                z += zw[j] * r[j] as f64;
            }
            let p = 1.0 / (1.0 + (-z).exp());
            let e = p - yy as f64;
            gb += e;
            for j in 0..d {
                grad[j] += e * r[j] as f64;
            }
        }
        let w_new: Vec<f64> = (0..d)
            .map(|j| {
                let v = zw[j] - step * grad[j] / m as f64;
                v.signum() * (v.abs() - step * lambda).max(0.0)
            })
            .collect();
        let b_new = zb - step * gb / m as f64;
        let t_new = (1.0 + (1.0 + 4.0 * t * t).sqrt()) / 2.0;
        let mom = (t - 1.0) / t_new;
        let mut delta = (b_new - b).abs();
        for j in 0..d {
            zw[j] = w_new[j] + mom * (w_new[j] - w[j]);
            delta = delta.max((w_new[j] - w[j]).abs());
        }
        zb = b_new + mom * (b_new - b);
        w = w_new;
        b = b_new;
        t = t_new;
        if delta < 1e-5 {
            break;
        }
    }
    (w, b)
}
