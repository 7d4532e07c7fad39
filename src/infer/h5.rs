//! Neuron states in HDF5: genolm's layout and deepG's.

use std::path::{Path, PathBuf};

use hdf5::types::VarLenUnicode;
use serde::{Deserialize, Serialize};

use super::predict::{kept_rows, layer_plan, predict_each, Chunk};
use super::{LayerStates, PredictOptions, RecordInfo, States};
use crate::data::input::Records;
use crate::models::GenomicModel;
use crate::{Error, Result};

/// Layout of a states file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum H5Layout {
    /// genolm's layout (see `docs/states-hdf5.md`): every layer, row index, sequences.
    #[default]
    Genolm,
    /// deepG's `predict_model` layout: one layer as `states`, 1-based `sample_end_position`.
    DeepG,
}

impl std::str::FromStr for H5Layout {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "genolm" => Ok(H5Layout::Genolm),
            "deepg" | "deep_g" => Ok(H5Layout::DeepG),
            o => Err(Error::Config(format!(
                "states layout {o:?}: use genolm or deepg"
            ))),
        }
    }
}

/// What [`write_states`] wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatesSummary {
    /// The file.
    pub path: PathBuf,
    /// Rows written.
    pub n_rows: usize,
    /// Layers and widths, in model order.
    pub layers: Vec<(String, usize)>,
    /// Records.
    pub records: Vec<RecordInfo>,
}

fn h5<T>(path: &Path, r: hdf5::Result<T>) -> Result<T> {
    r.map_err(|e| Error::hdf5(path, e))
}

/// Mark the descriptor of an open HDF5 file close-on-exec. HDF5 opens files without it and
/// `flock`s them, so a child process started while genolm holds a file (a notebook cell running
/// a command, another thread of the user's program) would inherit the descriptor and its lock
/// for its whole life, and a later open of the same file would fail with "unable to lock file".
/// Only a descriptor that is the file at `path` is touched (same device and inode), so another
/// file driver's handle is left alone.
fn close_on_exec(path: &Path, file: &hdf5::File) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let Ok(meta) = std::fs::metadata(path) else {
            return;
        };
        hdf5::sync::sync(|| {
            let mut handle: *mut std::ffi::c_void = std::ptr::null_mut();
            // SAFETY: `file` is an open file id; with the default (sec2) driver the handle
            // points at the file's `int` descriptor, which fstat checks before it is changed.
            unsafe {
                let got = hdf5_sys::h5f::H5Fget_vfd_handle(
                    file.id(),
                    hdf5_sys::h5p::H5P_DEFAULT,
                    &mut handle,
                );
                if got < 0 || handle.is_null() {
                    return;
                }
                let fd = *(handle as *const std::ffi::c_int);
                let mut st: libc::stat = std::mem::zeroed();
                if libc::fstat(fd, &mut st) != 0
                    || st.st_dev != meta.dev() as libc::dev_t
                    || st.st_ino != meta.ino() as libc::ino_t
                {
                    return;
                }
                let flags = libc::fcntl(fd, libc::F_GETFD);
                if flags >= 0 {
                    libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
                }
            }
        });
    }
}

fn vlu(path: &Path, s: &str) -> Result<VarLenUnicode> {
    s.parse::<VarLenUnicode>()
        .map_err(|e| Error::hdf5(path, format!("string {s:?}: {e}")))
}

fn write_str_attr(path: &Path, loc: &hdf5::Location, name: &str, v: &str) -> Result<()> {
    let a = h5(path, loc.new_attr::<VarLenUnicode>().create(name))?;
    h5(path, a.write_scalar(&vlu(path, v)?))
}

fn write_u64_attr(path: &Path, loc: &hdf5::Location, name: &str, v: u64) -> Result<()> {
    let a = h5(path, loc.new_attr::<u64>().create(name))?;
    h5(path, a.write_scalar(&v))
}

/// Write states of `records` to an HDF5 file (atomically: a temporary file renamed at the end).
///
/// [`H5Layout::Genolm`] writes every requested layer (all by default, in model order) under
/// `/layers/<name>` with the row index and the sequences; [`H5Layout::DeepG`] writes one layer
/// (the last requested, `body` by default) as deepG's `predict_model` does. Rows are streamed
/// to disk chunk by chunk: memory stays bounded for whole genomes.
pub fn write_states(
    model: &GenomicModel,
    records: &(impl Records + ?Sized),
    path: impl AsRef<Path>,
    opts: &PredictOptions,
    layout: H5Layout,
) -> Result<StatesSummary> {
    let path = path.as_ref();
    if opts.reverse_strand && layout == H5Layout::DeepG {
        return Err(Error::Config(
            "deepG's layout holds one layer: reverse_strand needs the genolm layout".into(),
        ));
    }
    let mut opts = opts.clone();
    if layout == H5Layout::DeepG && opts.layers.len() != 1 {
        let last = opts
            .layers
            .last()
            .cloned()
            .unwrap_or_else(|| "body".to_string());
        opts.layers = vec![last];
    }
    super::predict::check_opts(&opts)?;
    let mut plan = layer_plan(model, &opts)?;
    let forward_layers = plan.len();
    if opts.reverse_strand {
        let rc: Vec<(String, usize)> = plan
            .iter()
            .map(|(n, u)| (super::states::reverse_strand_layer(n), *u))
            .collect();
        plan.extend(rc);
    }
    let tok = model.config().tokenizer()?;
    let tmp = crate::fsio::temp_path_for(path)?;

    // Rows per record are known before running the model.
    let records = records.records();
    let seqs: Vec<Vec<u8>> = records
        .iter()
        .map(|(_, s)| s.to_ascii_uppercase())
        .collect();
    let mut infos = Vec::new();
    let mut total = 0usize;
    for ((name, _), s) in records.iter().zip(&seqs) {
        let rows = kept_rows(tok.n_tokens(s.len()), opts.every);
        infos.push(RecordInfo {
            name: name.to_string(),
            length: s.len(),
            row_offset: total,
            n_rows: rows,
        });
        total += rows;
    }

    let result = (|| -> Result<()> {
        let file = h5(&tmp, hdf5::File::create(&tmp))?;
        close_on_exec(&tmp, &file);
        let chunk_rows = 1024.min(total.max(1));
        let mut dsets = Vec::new();
        match layout {
            H5Layout::Genolm => {
                write_str_attr(&tmp, &file, "format", "genolm-states")?;
                write_u64_attr(&tmp, &file, "format_version", 1)?;
                write_str_attr(&tmp, &file, "genolm_version", env!("CARGO_PKG_VERSION"))?;
                write_u64_attr(&tmp, &file, "k", tok.k as u64)?;
                write_u64_attr(&tmp, &file, "stride", tok.stride as u64)?;
                write_u64_attr(&tmp, &file, "every", opts.every as u64)?;
                let cfg = serde_json::to_string(model.config())
                    .map_err(|e| Error::Config(e.to_string()))?;
                write_str_attr(&tmp, &file, "model_config", &cfg)?;
                let order: Vec<&str> = plan.iter().map(|(n, _)| n.as_str()).collect();
                write_str_attr(&tmp, &file, "layer_order", &order.join(","))?;
                let g = h5(&tmp, file.create_group("layers"))?;
                for (n, u) in &plan {
                    let ds = h5(
                        &tmp,
                        g.new_dataset::<f32>()
                            .shape((total, *u))
                            .chunk((chunk_rows, *u))
                            .create(n.as_str()),
                    )?;
                    dsets.push(ds);
                }
                let idx = h5(&tmp, file.create_group("index"))?;
                let mut rec = Vec::with_capacity(total);
                let mut pos = Vec::with_capacity(total);
                for (ri, info) in infos.iter().enumerate() {
                    for r in 0..info.n_rows {
                        rec.push(ri as u32);
                        pos.push((r * opts.every * tok.stride) as u64);
                    }
                }
                let end: Vec<u64> = pos.iter().map(|p| p + tok.k as u64 - 1).collect();
                h5(
                    &tmp,
                    idx.new_dataset_builder()
                        .with_data(&rec[..])
                        .create("record"),
                )?;
                h5(
                    &tmp,
                    idx.new_dataset_builder()
                        .with_data(&pos[..])
                        .create("position"),
                )?;
                h5(
                    &tmp,
                    idx.new_dataset_builder()
                        .with_data(&end[..])
                        .create("end_position"),
                )?;
                let rg = h5(&tmp, file.create_group("records"))?;
                let names: Vec<VarLenUnicode> = infos
                    .iter()
                    .map(|i| vlu(&tmp, &i.name))
                    .collect::<Result<_>>()?;
                let seq_s: Vec<VarLenUnicode> = seqs
                    .iter()
                    .map(|s| vlu(&tmp, &String::from_utf8_lossy(s)))
                    .collect::<Result<_>>()?;
                let mut offs: Vec<u64> = infos.iter().map(|i| i.row_offset as u64).collect();
                offs.push(total as u64);
                let lens: Vec<u64> = infos.iter().map(|i| i.length as u64).collect();
                h5(
                    &tmp,
                    rg.new_dataset_builder()
                        .with_data(&names[..])
                        .create("name"),
                )?;
                h5(
                    &tmp,
                    rg.new_dataset_builder()
                        .with_data(&seq_s[..])
                        .create("sequence"),
                )?;
                h5(
                    &tmp,
                    rg.new_dataset_builder()
                        .with_data(&offs[..])
                        .create("row_offset"),
                )?;
                h5(
                    &tmp,
                    rg.new_dataset_builder()
                        .with_data(&lens[..])
                        .create("length"),
                )?;
            }
            H5Layout::DeepG => {
                let (n, u) = &plan[0];
                write_str_attr(&tmp, &file, "layer_name", n)?;
                let ds = h5(
                    &tmp,
                    file.new_dataset::<f32>()
                        .shape((total, *u))
                        .chunk((chunk_rows, *u))
                        .create("states"),
                )?;
                dsets.push(ds);
                // 1-based position of the last base each state has read, per record.
                let mut end = Vec::with_capacity(total);
                for info in &infos {
                    for r in 0..info.n_rows {
                        end.push((r * opts.every * tok.stride + tok.k) as i64);
                    }
                }
                h5(
                    &tmp,
                    file.new_dataset_builder()
                        .with_data(&end[..])
                        .create("sample_end_position"),
                )?;
                let multi = (infos.len() > 1) as u8;
                h5(
                    &tmp,
                    file.new_dataset_builder()
                        .with_data(&[multi][..])
                        .create("multi_entries"),
                )?;
                if infos.len() == 1 {
                    let s = vlu(&tmp, &String::from_utf8_lossy(&seqs[0]))?;
                    h5(
                        &tmp,
                        file.new_dataset_builder()
                            .with_data(&[s][..])
                            .create("sequence"),
                    )?;
                } else {
                    // deepG's multi-entry files: the entry of each row and each entry's 1-based first row.
                    let names: Vec<VarLenUnicode> = infos
                        .iter()
                        .map(|i| vlu(&tmp, &i.name))
                        .collect::<Result<_>>()?;
                    let start: Vec<i64> = infos.iter().map(|i| i.row_offset as i64 + 1).collect();
                    let seq_s: Vec<VarLenUnicode> = seqs
                        .iter()
                        .map(|s| vlu(&tmp, &String::from_utf8_lossy(s)))
                        .collect::<Result<_>>()?;
                    h5(
                        &tmp,
                        file.new_dataset_builder()
                            .with_data(&names[..])
                            .create("entry_names"),
                    )?;
                    h5(
                        &tmp,
                        file.new_dataset_builder()
                            .with_data(&start[..])
                            .create("start_ind"),
                    )?;
                    h5(
                        &tmp,
                        file.new_dataset_builder()
                            .with_data(&seq_s[..])
                            .create("sequence"),
                    )?;
                }
            }
        }
        // a bar over the rows on a terminal (`genolm states` on a genome takes minutes)
        let mut bar = crate::progress::Progress::new("states", total, false);
        let (fwd_sets, rc_sets) = dsets.split_at(forward_layers);
        for (info, s) in infos.iter().zip(&seqs) {
            let ids = tok.encode(s);
            predict_each(model, &ids, &opts, &mut |c: Chunk<'_>| {
                let r0 = info.row_offset + c.first_row;
                let mut rows_done = 0;
                for (ds, (_, v)) in fwd_sets.iter().zip(&c.layers) {
                    let u = ds.shape()[1];
                    let rows = v.len() / u;
                    let arr = ndarray::ArrayView2::from_shape((rows, u), v)
                        .map_err(|e| Error::Shape(e.to_string()))?;
                    h5(&tmp, ds.write_slice(arr, ndarray::s![r0..r0 + rows, ..]))?;
                    rows_done = rows;
                }
                bar.inc(rows_done, &info.name);
                Ok(())
            })?;
            if opts.reverse_strand && info.n_rows > 0 {
                write_reverse_strand(model, &tmp, rc_sets, info, s, &opts)?;
            }
        }
        bar.finish();
        h5(&tmp, file.flush())?;
        drop(dsets);
        h5(&tmp, file.close())?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
    Ok(StatesSummary {
        path: path.to_path_buf(),
        n_rows: total,
        layers: plan,
        records: infos,
    })
}

/// The `rc.<layer>` datasets of one record: its reverse complement read chunk by chunk, each
/// chunk's rows written to the forward rows they align with
/// ([`reverse_strand_rows`](super::states::reverse_strand_rows): non-increasing in the forward
/// row, so the forward rows of a chunk are one contiguous range).
fn write_reverse_strand(
    model: &GenomicModel,
    tmp: &Path,
    sets: &[hdf5::Dataset],
    info: &RecordInfo,
    seq: &[u8],
    opts: &PredictOptions,
) -> Result<()> {
    let tok = model.config().tokenizer()?;
    let map =
        super::states::reverse_strand_rows(info.length, info.n_rows, tok.k, tok.stride, opts.every);
    let ids = tok.encode(&crate::data::alphabet::revcomp(seq));
    let fwd = PredictOptions {
        reverse_strand: false,
        ..opts.clone()
    };
    predict_each(model, &ids, &fwd, &mut |c: Chunk<'_>| {
        let Some((_, first)) = c.layers.first() else {
            return Ok(());
        };
        let n = first.len() / sets[0].shape()[1];
        let (q0, q1) = (c.first_row, c.first_row + n);
        // forward rows whose reverse-strand row lies in q0..q1
        let r_lo = map.partition_point(|&q| q >= q1);
        let r_hi = map.partition_point(|&q| q >= q0);
        if r_lo == r_hi {
            return Ok(());
        }
        for (ds, (_, v)) in sets.iter().zip(&c.layers) {
            let u = ds.shape()[1];
            let mut out = Vec::with_capacity((r_hi - r_lo) * u);
            for &q in &map[r_lo..r_hi] {
                out.extend_from_slice(&v[(q - q0) * u..(q - q0 + 1) * u]);
            }
            let arr = ndarray::Array2::from_shape_vec((r_hi - r_lo, u), out)
                .map_err(|e| Error::Shape(e.to_string()))?;
            let (a, b) = (info.row_offset + r_lo, info.row_offset + r_hi);
            h5(tmp, ds.write_slice(&arr, ndarray::s![a..b, ..]))?;
        }
        Ok(())
    })
}

/// A states file opened lazily: metadata is read at once, states only when asked
/// (a row range or one unit at a time), so files larger than memory can be analysed.
#[derive(Debug)]
pub struct StatesFile {
    path: PathBuf,
    file: hdf5::File,
    /// k-mer length.
    pub k: usize,
    /// Token stride.
    pub stride: usize,
    /// Every-th token kept.
    pub every: usize,
    /// Layers and widths, in model order.
    pub layers: Vec<(String, usize)>,
    /// Records.
    pub records: Vec<RecordInfo>,
    /// Total rows.
    pub n_rows: usize,
}

fn read_u64_attr(path: &Path, loc: &hdf5::Location, name: &str) -> Result<u64> {
    let a = h5(path, loc.attr(name))?;
    h5(path, a.read_scalar::<u64>())
}

fn read_str_attr(path: &Path, loc: &hdf5::Location, name: &str) -> Result<String> {
    let a = h5(path, loc.attr(name))?;
    Ok(h5(path, a.read_scalar::<VarLenUnicode>())?
        .as_str()
        .to_string())
}

impl StatesFile {
    /// Open a file written by [`write_states`] with [`H5Layout::Genolm`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if !path.exists() {
            return Err(Error::io(
                &path,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            ));
        }
        let file = h5(&path, hdf5::File::open(&path))?;
        close_on_exec(&path, &file);
        let fmt = read_str_attr(&path, &file, "format").unwrap_or_default();
        if fmt != "genolm-states" {
            return Err(Error::hdf5(
                &path,
                "not a genolm states file (no format=\"genolm-states\" attribute); deepG \
                 layouts are written for deepG and read with h5py",
            ));
        }
        let k = read_u64_attr(&path, &file, "k")? as usize;
        let stride = read_u64_attr(&path, &file, "stride")? as usize;
        let every = read_u64_attr(&path, &file, "every")? as usize;
        let order = read_str_attr(&path, &file, "layer_order")?;
        let mut layers = Vec::new();
        for n in order.split(',').filter(|s| !s.is_empty()) {
            let ds = h5(&path, file.dataset(&format!("layers/{n}")))?;
            let sh = ds.shape();
            layers.push((n.to_string(), sh.get(1).copied().unwrap_or(0)));
        }
        let names: Vec<VarLenUnicode> =
            h5(&path, h5(&path, file.dataset("records/name"))?.read_raw())?;
        let offs: Vec<u64> = h5(
            &path,
            h5(&path, file.dataset("records/row_offset"))?.read_raw(),
        )?;
        let lens: Vec<u64> = h5(&path, h5(&path, file.dataset("records/length"))?.read_raw())?;
        let records = names
            .iter()
            .enumerate()
            .map(|(i, n)| RecordInfo {
                name: n.as_str().to_string(),
                length: lens[i] as usize,
                row_offset: offs[i] as usize,
                n_rows: (offs[i + 1] - offs[i]) as usize,
            })
            .collect();
        let n_rows = *offs.last().unwrap_or(&0) as usize;
        Ok(Self {
            path,
            file,
            k,
            stride,
            every,
            layers,
            records,
            n_rows,
        })
    }

    /// Rows `[a, b)` of one layer, row-major.
    pub fn read_rows(&self, layer: &str, a: usize, b: usize) -> Result<LayerStates> {
        let units = self.units(layer)?;
        let b = b.min(self.n_rows);
        let ds = h5(&self.path, self.file.dataset(&format!("layers/{layer}")))?;
        let arr: ndarray::Array2<f32> =
            h5(&self.path, ds.read_slice_2d(ndarray::s![a..b.max(a), ..]))?;
        Ok(LayerStates {
            name: layer.to_string(),
            units,
            data: arr.into_raw_vec_and_offset().0,
        })
    }

    /// One unit of one layer over all rows.
    pub fn read_unit(&self, layer: &str, unit: usize) -> Result<Vec<f32>> {
        let units = self.units(layer)?;
        if unit >= units {
            return Err(Error::Input(format!(
                "{layer} has {units} units, not {}",
                unit + 1
            )));
        }
        let ds = h5(&self.path, self.file.dataset(&format!("layers/{layer}")))?;
        let arr: ndarray::Array1<f32> = h5(&self.path, ds.read_slice_1d(ndarray::s![.., unit]))?;
        Ok(arr.to_vec())
    }

    fn units(&self, layer: &str) -> Result<usize> {
        self.layers
            .iter()
            .find(|(n, _)| n == layer)
            .map(|x| x.1)
            .ok_or_else(|| Error::Input(format!("{}: no layer {layer:?}", self.path.display())))
    }

    /// The sequence of record `i`.
    pub fn sequence(&self, i: usize) -> Result<Vec<u8>> {
        let ds = h5(&self.path, self.file.dataset("records/sequence"))?;
        let v: ndarray::Array1<VarLenUnicode> =
            h5(&self.path, ds.read_slice_1d(ndarray::s![i..i + 1]))?;
        Ok(v[0].as_str().as_bytes().to_vec())
    }

    /// Load everything into memory as [`States`].
    pub fn load(&self) -> Result<States> {
        let mut layers = Vec::new();
        for (n, _) in &self.layers {
            layers.push(self.read_rows(n, 0, self.n_rows)?);
        }
        let record: Vec<u32> = h5(
            &self.path,
            h5(&self.path, self.file.dataset("index/record"))?.read_raw(),
        )?;
        let position: Vec<u64> = h5(
            &self.path,
            h5(&self.path, self.file.dataset("index/position"))?.read_raw(),
        )?;
        let sequences = (0..self.records.len())
            .map(|i| self.sequence(i))
            .collect::<Result<_>>()?;
        Ok(States {
            k: self.k,
            stride: self.stride,
            every: self.every,
            layers,
            records: self.records.clone(),
            sequences,
            record,
            position,
        })
    }
}

/// Read a genolm states file into memory (use [`StatesFile::open`] for a lazy view).
pub fn read_states(path: impl AsRef<Path>) -> Result<States> {
    StatesFile::open(path)?.load()
}
