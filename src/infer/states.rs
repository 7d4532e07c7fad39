//! Neuron states in memory.

use serde::{Deserialize, Serialize};

use super::predict::{kept_rows, layer_plan, predict_records, Chunk};
use super::PredictOptions;
use crate::data::input::Records;
use crate::models::GenomicModel;
use crate::{Error, Result};

/// One layer's states: `n_rows × units`, row-major `f32`.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerStates {
    /// Layer name (`embed`, `conv.0`, `lstm.1`, `attn.0`, `body`, or `log_probs`).
    pub name: String,
    /// Number of units (neurons).
    pub units: usize,
    /// Row-major values.
    pub data: Vec<f32>,
}

impl LayerStates {
    /// Number of rows (positions).
    pub fn n_rows(&self) -> usize {
        self.data.len().checked_div(self.units).unwrap_or(0)
    }
    /// One row.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.units..(i + 1) * self.units]
    }
    /// One unit's values over all rows (a column).
    pub fn unit(&self, u: usize) -> Vec<f32> {
        self.data
            .iter()
            .skip(u)
            .step_by(self.units)
            .copied()
            .collect()
    }
    /// Per-unit mean over rows.
    pub fn mean(&self) -> Vec<f32> {
        let mut m = vec![0f64; self.units];
        for r in self.data.chunks(self.units) {
            for (a, &b) in m.iter_mut().zip(r) {
                *a += b as f64;
            }
        }
        let n = self.n_rows().max(1) as f64;
        m.into_iter().map(|x| (x / n) as f32).collect()
    }
}

/// One input record (contig, read) of a state set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordInfo {
    /// Sequence name.
    pub name: String,
    /// Length in bases.
    pub length: usize,
    /// First row of this record.
    pub row_offset: usize,
    /// Number of rows of this record.
    pub n_rows: usize,
}

/// Neuron states of one or more sequences, every named layer in model order.
#[derive(Debug, Clone, PartialEq)]
pub struct States {
    /// k-mer length of the model's tokens.
    pub k: usize,
    /// Token stride.
    pub stride: usize,
    /// Rows keep every `every`-th token.
    pub every: usize,
    /// Layers in model order.
    pub layers: Vec<LayerStates>,
    /// The records, in input order.
    pub records: Vec<RecordInfo>,
    /// The sequences (upper-case bases) of the records.
    pub sequences: Vec<Vec<u8>>,
    /// Record index of every row.
    pub record: Vec<u32>,
    /// 0-based first base of every row's token.
    pub position: Vec<u64>,
}

impl States {
    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.position.len()
    }
    /// A layer by name.
    pub fn layer(&self, name: &str) -> Option<&LayerStates> {
        self.layers.iter().find(|l| l.name == name)
    }
    /// 0-based position of the last base of every row's token (the alignment point).
    pub fn end_position(&self) -> Vec<u64> {
        self.position
            .iter()
            .map(|&p| p + self.k as u64 - 1)
            .collect()
    }
    /// A per-base track of record `record` read at each of that record's rows (aligned to
    /// [`end_position`](Self::end_position)); rows of other records are skipped.
    pub fn align_track<T: Copy + Into<f64>>(&self, record: usize, track: &[T]) -> Result<Vec<f32>> {
        let info = self
            .records
            .get(record)
            .ok_or_else(|| Error::Input(format!("no record {record}")))?;
        if track.len() != info.length {
            return Err(Error::Shape(format!(
                "track has {} positions; record {} has {} bases",
                track.len(),
                info.name,
                info.length
            )));
        }
        Ok((info.row_offset..info.row_offset + info.n_rows)
            .map(|r| track[self.position[r] as usize + self.k - 1].into() as f32)
            .collect())
    }
    /// Layers, widths and records as a table.
    pub fn summary(&self) -> Result<crate::table::Table> {
        use polars::prelude::*;
        let df = DataFrame::new(
            self.layers.len(),
            vec![
                Column::new(
                    "layer".into(),
                    self.layers
                        .iter()
                        .map(|l| l.name.clone())
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "units".into(),
                    self.layers
                        .iter()
                        .map(|l| l.units as u32)
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "rows".into(),
                    self.layers
                        .iter()
                        .map(|l| l.n_rows() as u64)
                        .collect::<Vec<_>>(),
                ),
            ],
        )?;
        Ok(crate::table::Table::new("states", df))
    }

    /// evcxr display: the layer summary and the records.
    pub fn evcxr_display(&self) {
        if let Ok(t) = self.summary() {
            let recs: Vec<String> = self
                .records
                .iter()
                .map(|r| {
                    format!(
                        "{} ({} bp, {} rows)",
                        crate::fsio::xml(&r.name),
                        r.length,
                        r.n_rows
                    )
                })
                .collect();
            println!(
                "EVCXR_BEGIN_CONTENT text/html\n<p>States of {} (k = {}, stride {}, every {})</p>{}\nEVCXR_END_CONTENT",
                recs.join(", "),
                self.k,
                self.stride,
                self.every,
                t.to_html()
            );
        }
    }

    /// Each unit read on both strands: for every layer `L` with reverse-strand states `rc.L`
    /// (states computed with [`PredictOptions::reverse_strand`]), a layer `both.L` whose unit
    /// `u` is the mean of unit `u` read forward and on the reverse complement at the same
    /// base. A unit that marks "inside a gene on the strand I read" marks genes on either
    /// strand this way, as a motif scanner scores both strands. `None` when no layer has
    /// reverse-strand states.
    ///
    /// ```
    /// use genolm::infer::{LayerStates, RecordInfo, States};
    /// let layer = |name: &str, data: Vec<f32>| LayerStates { name: name.into(), units: 2, data };
    /// let st = States { k: 1, stride: 1, every: 1,
    ///     layers: vec![layer("lstm.0", vec![1.0, 0.0, 3.0, 2.0]), layer("rc.lstm.0", vec![0.0, 4.0, 1.0, 2.0])],
    ///     records: vec![RecordInfo { name: "x".into(), length: 2, row_offset: 0, n_rows: 2 }],
    ///     sequences: vec![b"AC".to_vec()], record: vec![0; 2], position: vec![0, 1] };
    /// let both = st.strand_means().unwrap();
    /// assert_eq!(both.layers.len(), 1);
    /// assert_eq!(both.layers[0].name, "both.lstm.0");
    /// assert_eq!(both.layers[0].data, vec![0.5, 2.0, 2.0, 2.0]);
    /// ```
    pub fn strand_means(&self) -> Option<States> {
        let layers: Vec<LayerStates> = self
            .layers
            .iter()
            .filter_map(|f| {
                let r = self.layer(&reverse_strand_layer(&f.name))?;
                Some(LayerStates {
                    name: format!("{BOTH_STRANDS_PREFIX}{}", f.name),
                    units: f.units,
                    data: f
                        .data
                        .iter()
                        .zip(&r.data)
                        .map(|(a, b)| 0.5 * (a + b))
                        .collect(),
                })
            })
            .collect();
        (!layers.is_empty()).then(|| States {
            k: self.k,
            stride: self.stride,
            every: self.every,
            layers,
            records: self.records.clone(),
            sequences: self.sequences.clone(),
            record: self.record.clone(),
            position: self.position.clone(),
        })
    }

    /// The rows of one record as a new state set.
    pub fn select_record(&self, record: usize) -> Result<States> {
        let info = self
            .records
            .get(record)
            .ok_or_else(|| Error::Input(format!("no record {record}")))?
            .clone();
        let r0 = info.row_offset;
        let r1 = r0 + info.n_rows;
        Ok(States {
            k: self.k,
            stride: self.stride,
            every: self.every,
            layers: self
                .layers
                .iter()
                .map(|l| LayerStates {
                    name: l.name.clone(),
                    units: l.units,
                    data: l.data[r0 * l.units..r1 * l.units].to_vec(),
                })
                .collect(),
            records: vec![RecordInfo {
                row_offset: 0,
                ..info
            }],
            sequences: vec![self.sequences[record].clone()],
            record: vec![0; r1 - r0],
            position: self.position[r0..r1].to_vec(),
        })
    }
}

/// States of every record in memory (every layer unless `opts.layers` names some).
pub fn states(
    model: &GenomicModel,
    records: &(impl Records + ?Sized),
    opts: &PredictOptions,
) -> Result<States> {
    let records = records.records();
    let plan = layer_plan(model, opts)?;
    let tok = model.config().tokenizer()?;
    let mut layers: Vec<LayerStates> = plan
        .iter()
        .map(|(n, u)| LayerStates {
            name: n.clone(),
            units: *u,
            data: Vec::new(),
        })
        .collect();
    let mut infos = Vec::new();
    let mut record = Vec::new();
    let mut position = Vec::new();
    let mut sequences = Vec::new();
    // Every record's rows are laid out first, then all records are read in shared batches.
    let mut ids_all = Vec::with_capacity(records.len());
    let mut offsets = Vec::with_capacity(records.len());
    for (ri, (name, seq)) in records.iter().enumerate() {
        let seq = seq.to_ascii_uppercase();
        let ids = tok.encode(&seq);
        let rows = kept_rows(ids.len(), opts.every);
        let offset = position.len();
        for r in 0..rows {
            record.push(ri as u32);
            position.push((r * opts.every * tok.stride) as u64);
        }
        infos.push(RecordInfo {
            name: name.to_string(),
            length: seq.len(),
            row_offset: offset,
            n_rows: rows,
        });
        sequences.push(seq);
        ids_all.push(ids);
        offsets.push(offset);
    }
    for l in layers.iter_mut() {
        l.data.resize(position.len() * l.units, 0.0);
    }
    let refs: Vec<&[u32]> = ids_all.iter().map(|x| x.as_slice()).collect();
    predict_records(model, &refs, opts, &mut |ri, c: Chunk<'_>| {
        for (l, (_, v)) in layers.iter_mut().zip(c.layers) {
            let a = (offsets[ri] + c.first_row) * l.units;
            l.data[a..a + v.len()].copy_from_slice(&v);
        }
        Ok(())
    })?;
    let mut st = States {
        k: tok.k,
        stride: tok.stride,
        every: opts.every,
        layers,
        records: infos,
        sequences,
        record,
        position,
    };
    if opts.reverse_strand {
        let rc: Vec<(String, Vec<u8>)> = records
            .iter()
            .map(|(name, seq)| (name.to_string(), crate::data::alphabet::revcomp(seq)))
            .collect();
        let rc_states = states(
            model,
            &rc,
            &PredictOptions {
                reverse_strand: false,
                ..opts.clone()
            },
        )?;
        append_reverse_strand(&mut st, &rc_states);
    }
    Ok(st)
}

/// The prefix of a layer's reverse-strand states.
const REVERSE_STRAND_PREFIX: &str = "rc.";

/// The name of a layer's reverse-strand states (`rc.<layer>`), in memory and in HDF5.
pub(crate) fn reverse_strand_layer(name: &str) -> String {
    format!("{REVERSE_STRAND_PREFIX}{name}")
}

/// The prefix of a layer's both-strand means ([`States::strand_means`]).
const BOTH_STRANDS_PREFIX: &str = "both.";

/// The model layer a states layer comes from, whichever strand it read (`rc.lstm.1` and
/// `both.lstm.1` → `lstm.1`).
pub(crate) fn model_layer(name: &str) -> &str {
    name.strip_prefix(REVERSE_STRAND_PREFIX)
        .or_else(|| name.strip_prefix(BOTH_STRANDS_PREFIX))
        .unwrap_or(name)
}

/// For each of a record's `n_rows` forward rows, the row of its reverse-complement read whose
/// token ends at the same base: forward row `r` reads a token ending at base
/// `p = r·every·stride + k − 1`; the reverse strand's token ending there starts at `L − k − p`
/// of the reverse complement (the nearest kept row; clamped to the last row within `k − 1`
/// bases of the record's end, where the reverse strand has no token ending at `p`).
pub(crate) fn reverse_strand_rows(
    length: usize,
    n_rows: usize,
    k: usize,
    stride: usize,
    every: usize,
) -> Vec<usize> {
    let step = every * stride;
    (0..n_rows)
        .map(|r| {
            let p = r * step + k - 1;
            let start = length.saturating_sub(k + p);
            ((start + step / 2) / step).min(n_rows - 1)
        })
        .collect()
}

/// Appends the layers of `rc` (the same records reverse-complemented) to `st` as `rc.<layer>`,
/// each forward row getting the reverse-strand row of [`reverse_strand_rows`].
fn append_reverse_strand(st: &mut States, rc: &States) {
    let mut map = Vec::with_capacity(st.n_rows());
    for (fwd, back) in st.records.iter().zip(&rc.records) {
        let rows = reverse_strand_rows(fwd.length, fwd.n_rows, st.k, st.stride, st.every);
        map.extend(rows.into_iter().map(|q| back.row_offset + q));
    }
    for l in &rc.layers {
        let u = l.units;
        let mut data = Vec::with_capacity(map.len() * u);
        for &q in &map {
            data.extend_from_slice(&l.data[q * u..(q + 1) * u]);
        }
        st.layers.push(LayerStates {
            name: reverse_strand_layer(&l.name),
            units: u,
            data,
        });
    }
}
