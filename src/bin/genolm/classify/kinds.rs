//! The classifiers of `genolm classify` other than the fine-tuned head: the linear probe of the
//! frozen LM (--probe) and class-conditional LMs (--generative).

use genolm::data::tasks::LabelledSeq;
use genolm::models::GenomicModel;
use genolm::Result;

use super::results::write_results;
use super::{forget_other_classifiers, ClassifyArgs};
use crate::analyses::load_model;

/// `genolm classify --probe`: a linear probe of the frozen `--lm`.
pub(super) fn classify_probe(
    a: &ClassifyArgs,
    classes: &[String],
    train: &[LabelledSeq],
    test: &[LabelledSeq],
) -> Result<()> {
    use genolm::bench::probe::{LinearProbe, ProbeClassifier, ProbeOptions};
    let lm = load_model(&a.lm[0])?;
    let opts = ProbeOptions {
        both_strands: a.both_strands,
        seed: a.seed,
        balanced: a.balanced,
        ..Default::default()
    };
    let mut probe = LinearProbe::fit(&lm, train, classes.len(), &opts)?;
    probe.classes = classes.to_vec();
    let probs = probe.probs(&lm, test)?;
    let mut extra = serde_json::Map::new();
    extra.insert("lambda".into(), probe.fit.lambda.into());
    extra.insert("features".into(), probe.fit.model.d.into());
    let accuracy = write_results(
        a,
        classes,
        (train, test),
        ("linear probe", &probs),
        extra,
        lm.device(),
    )?;
    forget_other_classifiers(
        &a.out,
        &[
            genolm::bench::generative::GENERATIVE_JSON,
            genolm::bench::ensemble::ENSEMBLE_JSON,
            "classifier.safetensors",
        ],
    )?;
    ProbeClassifier { lm, probe }.save(&a.out)?;
    println!(
        "{} train / {} test items; linear probe of the frozen LM; test accuracy {accuracy:.3}; \
         wrote {}",
        train.len(),
        test.len(),
        a.out.display()
    );
    Ok(())
}

/// `genolm classify --generative`: class-conditional LMs fine-tuned from `--lm`.
pub(super) fn classify_generative(
    a: &ClassifyArgs,
    classes: &[String],
    train: &[LabelledSeq],
    test: &[LabelledSeq],
) -> Result<()> {
    use genolm::bench::ensemble::{generative_ensemble, ENSEMBLE_JSON};
    use genolm::bench::generative::GenerativeOptions;
    use genolm::bench::probe::PROBE_JSON;
    let lms =
        a.lm.iter()
            .map(|p| load_model(p))
            .collect::<Result<Vec<GenomicModel>>>()?;
    let opts = GenerativeOptions {
        lr: a.generative_lr,
        lr_factor: a.generative_lr_factor,
        min_steps: a.generative_steps,
        adapt_steps: a.generative_adapt_steps,
        joint_steps: a.generative_joint_steps,
        joint_lr: a.generative_joint_lr,
        valid_fraction: a.generative_valid,
        both_strands: a.both_strands,
        balanced: a.balanced,
        seed: a.seed,
        ..Default::default()
    };
    let mut fit = generative_ensemble(&lms, train, test, classes.len(), &opts)?;
    fit.set_classes(classes);
    let probs = &fit.probs;
    let labels: Vec<u32> = test.iter().map(|x| x.label).collect();
    let method = if lms.len() > 1 {
        "class-conditional LMs, several LMs averaged"
    } else {
        "class-conditional LMs"
    };
    let member = |m: &genolm::bench::generative::GenerativeClassifier| {
        let mut j = serde_json::Map::new();
        j.insert(
            "calibration".into(),
            serde_json::to_value(&m.calibration).expect("calibration serialises"),
        );
        j.insert(
            "class_lm_epochs".into(),
            serde_json::json!(classes
                .iter()
                .zip(&m.epochs)
                .map(|(c, (kept, run))| (c.clone(), serde_json::json!({"kept": kept, "run": run})))
                .collect::<serde_json::Map<_, _>>()),
        );
        j
    };
    // each member's test accuracy, for metrics.json and stdout
    let member_acc: Vec<f64> = fit
        .members
        .iter()
        .map(|m| genolm::stats::accuracy(&m.probs, &labels))
        .collect();
    let mut extra = serde_json::Map::new();
    if let [one] = &fit.members[..] {
        extra.extend(member(one));
    } else {
        let each: Vec<serde_json::Value> = fit
            .members
            .iter()
            .zip(&a.lm)
            .zip(&member_acc)
            .map(|((m, path), &acc)| {
                let mut j = member(m);
                j.insert("lm".into(), path.display().to_string().into());
                j.insert("accuracy".into(), acc.into());
                j.into()
            })
            .collect();
        extra.insert("members".into(), each.into());
    }
    let accuracy = write_results(
        a,
        classes,
        (train, test),
        (method, probs),
        extra,
        lms[0].device(),
    )?;
    match &fit.members[..] {
        [one] => {
            forget_other_classifiers(&a.out, &[ENSEMBLE_JSON, PROBE_JSON])?;
            one.save(&a.out)?
        }
        _ => {
            forget_other_classifiers(&a.out, &[PROBE_JSON])?;
            fit.save(&a.out)?
        }
    }
    if lms.len() > 1 {
        for (path, acc) in a.lm.iter().zip(&member_acc) {
            println!("  from {}: test accuracy {acc:.3}", path.display());
        }
    }
    println!(
        "{} train / {} test items; {method}; test accuracy {accuracy:.3}; wrote {}",
        train.len(),
        test.len(),
        a.out.display()
    );
    Ok(())
}
