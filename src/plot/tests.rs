//! Tests of every chart kind and of PNG export.

use super::*;

#[test]
fn every_chart_kind_renders() {
    let lab = |n: usize| (0..n).map(|i| format!("r{i}")).collect::<Vec<_>>();
    let h = Figure::heatmap(
        "h",
        &lab(3),
        &lab(2),
        &[0.1, 0.2, -0.3, 0.4, 0.5, f64::NAN],
        "r",
        true,
    )
    .unwrap();
    assert!(h.svg().contains("r2 / r1"));
    assert!(Figure::heatmap("h", &lab(3), &lab(2), &[0.0; 5], "r", true).is_err());
    // a colour bar spans the data: a non-negative quantity's starts at 0, not below it
    let nonneg = Figure::heatmap("d", &lab(2), &lab(2), &[0.0, 1.0, 2.0, 6.0], "dep", false)
        .unwrap()
        .svg()
        .to_string();
    assert!(
        nonneg.contains(">6.00</text>") && nonneg.contains(">0.00</text>"),
        "{nonneg}"
    );
    assert!(!nonneg.contains(">-"), "{nonneg}");
    let div = Figure::heatmap("i", &lab(2), &lab(1), &[-0.5, 2.0], "Δ", true)
        .unwrap()
        .svg()
        .to_string();
    assert!(
        div.contains(">2.00</text>") && div.contains(">-2.00</text>"),
        "{div}"
    );
    let s = Figure::scatter(
        "s",
        "x",
        "y",
        &[(0.0, 1.0), (1.0, 2.0)],
        &["a".into(), "b".into()],
    )
    .unwrap();
    assert!(s.svg().contains("<circle"));
    let l = Figure::logo("logo", &[[0.97, 0.01, 0.01, 0.01], [0.25; 4]], true).unwrap();
    assert!(l.svg().contains(">A</text>"));
    let a = Figure::logo("attr", &[[0.5, -0.2, 0.0, 0.0]], false).unwrap();
    assert!(a.svg().contains(">C</text>"));
    let t = Figure::track(
        "t",
        &[0.0, 1.0, 2.0],
        &[("n1".into(), vec![0.1, 0.5, 0.2])],
        &[TrackFeature {
            start: 0,
            end: 2,
            strand: -1,
            label: "g".into(),
        }],
    )
    .unwrap();
    assert!(t.svg().contains("n1"));
    let b = Figure::bars("b", "v", &lab(2), &[1.0, 2.0], Some(&[0.1, 0.2])).unwrap();
    assert!(b.svg().contains("r1"));
    // many bars lie horizontally: every label is written, none skipped
    let many: Vec<String> = (0..12).map(|i| format!("dataset_{i}")).collect();
    let h = Figure::bars("h", "v", &many, &[1.0; 12], None).unwrap();
    assert!(many.iter().all(|l| h.svg().contains(l.as_str())));
    let d = Figure::dots(
        "d",
        "nats",
        &lab(3),
        &[
            ("model".into(), vec![1.2, 1.3, f64::NAN]),
            ("Markov".into(), vec![1.25, 1.31, 1.4]),
        ],
        Some(("ln 4", 4f64.ln())),
    )
    .unwrap();
    assert!(d.svg().contains("r2") && d.svg().contains("Markov") && d.svg().contains("ln 4"));
    // 2 model dots (NaN left out) + 3 Markov dots + 2 legend dots
    assert_eq!(d.svg().matches("<circle").count(), 7, "{}", d.svg());
    let ls = Figure::lines(
        "l",
        "lr",
        "loss",
        &[Series::new(
            "x",
            vec![1e-5, 1e-3, 1e-1],
            vec![2.0, 1.0, 3.0],
        )],
        &[(1e-3, "suggested".into())],
    )
    .unwrap();
    assert!(ls.svg().contains("suggested"));
    let r = Figure::roc(
        "roc",
        &[("m".into(), vec![0.9, 0.8, 0.3], vec![true, false, false])],
    )
    .unwrap();
    assert!(r.svg().contains("AUROC 1.00"));
    assert!(Figure::roc("roc", &[("m".into(), vec![0.9], vec![true])]).is_err());
    let p = Figure::pr(
        "pr",
        &[("m".into(), vec![0.9, 0.8, 0.3], vec![true, false, true])],
    )
    .unwrap();
    assert!(p.svg().contains("prevalence 0.67"));
}

#[test]
fn png_uses_embedded_font_and_physical_size() {
    let f = Figure::bars("Title", "value", &["a".into()], &[1.0], None).unwrap();
    let (w, h) = f.size_inches();
    let png = f.png(192.0).unwrap();
    let img = resvg::tiny_skia::Pixmap::decode_png(&png).unwrap();
    assert_eq!(img.width(), (w * 192.0).round() as u32);
    assert_eq!(img.height(), (h * 192.0).round() as u32);
    // text is drawn: the title band holds dark pixels only if the font was found
    let dark = |y0: u32, y1: u32| {
        (y0..y1)
            .flat_map(|y| (0..img.width()).map(move |x| (x, y)))
            .filter(|&(x, y)| img.pixel(x, y).is_some_and(|p| p.red() < 100))
            .count()
    };
    assert!(dark(0, 40) > 50, "no title text in the PNG");
    let small = f.clone().with_size_inches(3.5, 2.5);
    assert!(small.svg().contains(r#"width="3.5in""#) && small.svg().contains("viewBox"));
    assert_eq!(
        small.svg().matches("width=").count(),
        f.svg().matches("width=").count()
    );
    let img = resvg::tiny_skia::Pixmap::decode_png(&small.png(300.0).unwrap()).unwrap();
    assert_eq!((img.width(), img.height()), (1050, 750));
    assert!(f.png(0.0).is_err() && f.png(f64::NAN).is_err());
}
