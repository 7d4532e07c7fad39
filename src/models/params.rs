//! Named, ordered parameters with seeded initialisation, plus non-trainable buffers
//! (BatchNorm running statistics), saved together in one safetensors file.
//!
//! candle's `VarMap` initialises on the device's own random generator, which cannot be seeded
//! on CPU; here every initial value is drawn from a ChaCha generator so that the same seed
//! gives the same model on every machine.
//!
//! ```
//! use candle_core::{DType, Device};
//! use genolm::models::params::{Init, Params};
//! let mut p = Params::new(Device::Cpu, DType::F32, 7);
//! let w = p.param("lin.weight", (4, 3), Init::Uniform(0.5)).unwrap();
//! assert_eq!(w.dims(), &[4, 3]);
//! assert_eq!(p.names(), &["lin.weight".to_string()]);
//! ```

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Shape, Tensor, Var};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::fsio::atomic_write;
use crate::{Error, Result};

/// How a parameter starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    /// All zeros.
    Zeros,
    /// All ones.
    Ones,
    /// Uniform on `[-a, a]`.
    Uniform(f64),
    /// Normal with mean 0 and this standard deviation.
    Normal(f64),
    /// Uniform on `[-a, a]` in the first `cols` entries of each row of `row_len`, zero in the
    /// rest: a layer whose later inputs start switched off (the classifier head's position
    /// bins), drawing the same values as `Uniform(a)` when `cols == row_len`.
    UniformLeading {
        /// The bound.
        a: f64,
        /// Drawn entries at the start of each row.
        cols: usize,
        /// Entries per row (the last dimension).
        row_len: usize,
    },
}

/// Ordered trainable parameters and buffers.
#[derive(Debug, Clone)]
pub struct Params {
    names: Vec<String>,
    vars: Vec<Var>,
    index: HashMap<String, usize>,
    buffers: Vec<(String, Var)>,
    device: Device,
    dtype: DType,
    rng: ChaCha8Rng,
    /// [`param`](Self::param) hands out detached views of existing parameters (see
    /// [`detached_view`](Self::detached_view)).
    detached: bool,
}

impl Params {
    /// An empty store on `device` whose parameters will be `dtype`, drawn from `seed`.
    pub fn new(device: Device, dtype: DType, seed: u64) -> Self {
        Params {
            names: Vec::new(),
            vars: Vec::new(),
            index: HashMap::new(),
            buffers: Vec::new(),
            device,
            dtype,
            rng: ChaCha8Rng::seed_from_u64(seed),
            detached: false,
        }
    }

    /// The same parameters (shared storage), whose [`param`](Self::param) returns detached
    /// views: a model assembled from it computes with the current weights but records no
    /// operation on them, so its forward passes keep no graph for the weights and a backward
    /// pass through it computes no weight gradients (gradients still reach tracked inputs).
    /// Buffers (batch-norm statistics) are copied.
    pub fn detached_view(&self) -> Params {
        Params {
            detached: true,
            ..self.clone()
        }
    }

    /// Whether this store hands out detached views (see [`detached_view`](Self::detached_view)).
    pub fn is_detached(&self) -> bool {
        self.detached
    }

    fn init_values(&mut self, n: usize, init: Init) -> Vec<f64> {
        match init {
            Init::Zeros => vec![0.0; n],
            Init::Ones => vec![1.0; n],
            Init::Uniform(a) => (0..n).map(|_| self.rng.random_range(-a..=a)).collect(),
            Init::UniformLeading { a, cols, row_len } => (0..n)
                .map(|i| {
                    if i % row_len.max(1) < cols {
                        self.rng.random_range(-a..=a)
                    } else {
                        0.0
                    }
                })
                .collect(),
            Init::Normal(sd) => (0..n)
                .map(|_| {
                    // Box–Muller.
                    let u1: f64 = self.rng.random_range(f64::MIN_POSITIVE..1.0);
                    let u2: f64 = self.rng.random();
                    sd * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
                })
                .collect(),
        }
    }

    fn make(&mut self, shape: Shape, init: Init) -> Result<Var> {
        let vals = self.init_values(shape.elem_count(), init);
        let t = Tensor::from_vec(vals, shape, &Device::Cpu)?
            .to_dtype(self.dtype)?
            .to_device(&self.device)?;
        Ok(Var::from_tensor(&t)?)
    }

    /// Create (or fetch, when it exists with the same shape) a trainable parameter.
    pub fn param(&mut self, name: &str, shape: impl Into<Shape>, init: Init) -> Result<Tensor> {
        let shape = shape.into();
        if let Some(&i) = self.index.get(name) {
            let v = &self.vars[i];
            if v.shape() != &shape {
                return Err(Error::Shape(format!(
                    "parameter {name} exists with shape {:?}, asked for {:?}",
                    v.shape(),
                    shape
                )));
            }
            return Ok(if self.detached {
                v.as_tensor().detach()
            } else {
                v.as_tensor().clone()
            });
        }
        if self.detached {
            return Err(Error::Input(format!(
                "parameter {name} is not in this detached view of the parameters"
            )));
        }
        let v = self.make(shape, init)?;
        self.index.insert(name.to_string(), self.vars.len());
        self.names.push(name.to_string());
        let t = v.as_tensor().clone();
        self.vars.push(v);
        Ok(t)
    }

    /// Create a non-trainable buffer (saved with the parameters, never given to an optimizer).
    pub fn buffer(&mut self, name: &str, shape: impl Into<Shape>, init: Init) -> Result<Var> {
        if let Some((_, v)) = self.buffers.iter().find(|(n, _)| n == name) {
            // a detached view gets its own copy, made by the calling code's candle (a notebook
            // cell's tensor ids must not meet tracked tensors of an earlier cell)
            return Ok(if self.detached {
                Var::from_tensor(&v.as_tensor().detach())?
            } else {
                v.clone()
            });
        }
        let v = self.make(shape.into(), init)?;
        self.buffers.push((name.to_string(), v.clone()));
        Ok(v)
    }

    /// Parameter names in creation order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Parameters in creation order.
    pub fn vars(&self) -> &[Var] {
        &self.vars
    }

    /// `(name, var)` pairs.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Var)> {
        self.names.iter().map(String::as_str).zip(self.vars.iter())
    }

    /// The parameter called `name`.
    pub fn get(&self, name: &str) -> Option<&Var> {
        self.index.get(name).map(|&i| &self.vars[i])
    }

    /// Buffers as `(name, var)`.
    pub fn buffers(&self) -> &[(String, Var)] {
        &self.buffers
    }

    /// Number of trainable scalars.
    pub fn n_scalars(&self) -> usize {
        self.vars.iter().map(|v| v.elem_count()).sum()
    }

    /// The dtype of the parameters.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The device the parameters live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Every parameter and buffer by name: copies of the current values (a snapshot that
    /// later training does not change).
    pub fn tensors(&self) -> Vec<(String, Tensor)> {
        let copy = |v: &Var| {
            v.as_tensor()
                .detach()
                .copy()
                .expect("copy of a live tensor")
        };
        let mut out: Vec<(String, Tensor)> =
            self.iter().map(|(n, v)| (n.to_string(), copy(v))).collect();
        out.extend(self.buffers.iter().map(|(n, v)| (n.clone(), copy(v))));
        out
    }

    /// Overwrite parameters and buffers from `tensors` (matched by name). Every parameter
    /// must be present with its shape; extra tensors are ignored when `strict` is false.
    pub fn assign(&self, tensors: &HashMap<String, Tensor>, strict: bool) -> Result<usize> {
        let mut n = 0;
        let all = self
            .iter()
            .map(|(n, v)| (n.to_string(), v))
            .chain(self.buffers.iter().map(|(n, v)| (n.clone(), v)));
        for (name, var) in all {
            match tensors.get(&name) {
                Some(t) => {
                    if t.shape() != var.shape() {
                        return Err(Error::Shape(format!(
                            "{name}: checkpoint has {:?}, model has {:?}",
                            t.dims(),
                            var.dims()
                        )));
                    }
                    var.set(&t.to_dtype(var.dtype())?.to_device(var.device())?)?;
                    n += 1;
                }
                None if strict => {
                    return Err(Error::Input(format!(
                        "the checkpoint lacks parameter {name}"
                    )))
                }
                None => {}
            }
        }
        if strict {
            let known: std::collections::HashSet<&str> = self
                .names
                .iter()
                .map(String::as_str)
                .chain(self.buffers.iter().map(|(n, _)| n.as_str()))
                .collect();
            if let Some(extra) = tensors.keys().find(|k| !known.contains(k.as_str())) {
                return Err(Error::Input(format!(
                    "the checkpoint has a tensor {extra} that this model does not"
                )));
            }
        }
        Ok(n)
    }
}

/// Write `tensors` to a safetensors file atomically (temp file in the same folder, then
/// rename), with string `metadata` in the header. Tensors are written in their own dtype.
pub fn save_safetensors(
    path: &Path,
    tensors: &[(String, Tensor)],
    metadata: HashMap<String, String>,
) -> Result<()> {
    let data: Vec<(String, Tensor)> = tensors
        .iter()
        .map(|(n, t)| Ok((n.clone(), t.to_device(&Device::Cpu)?.contiguous()?)))
        .collect::<Result<_>>()?;
    let bytes = safetensors::serialize(data, Some(metadata))
        .map_err(|e| Error::Input(format!("{}: cannot serialise: {e}", path.display())))?;
    atomic_write(path, &canonical_header(bytes)?)
}

/// The same safetensors file with its JSON header's keys in sorted order. `safetensors`
/// writes the metadata in the iteration order of a `HashMap`, which differs from one run to the
/// next, so two identical checkpoints had different bytes; sorted, the same tensors and
/// metadata always give the same file, and a checksum proves provenance.
fn canonical_header(bytes: Vec<u8>) -> Result<Vec<u8>> {
    let bad = || Error::Input("safetensors produced a malformed header".into());
    let n =
        u64::from_le_bytes(bytes.get(..8).ok_or_else(bad)?.try_into().expect("8 bytes")) as usize;
    let header = bytes.get(8..8 + n).ok_or_else(bad)?;
    // serde_json's default map is ordered by key, recursively
    let v: serde_json::Value = serde_json::from_slice(header).map_err(|_| bad())?;
    let mut h = serde_json::to_vec(&v).expect("a JSON value serialises");
    // safetensors pads the header with spaces so the data starts 8-byte aligned
    while !h.len().is_multiple_of(8) {
        h.push(b' ');
    }
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&(h.len() as u64).to_le_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(&bytes[8 + n..]);
    Ok(out)
}

/// Read a safetensors file: tensors (on `device`) and the header metadata.
pub fn load_safetensors(
    path: &Path,
    device: &Device,
) -> Result<(HashMap<String, Tensor>, HashMap<String, String>)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bad = |e: safetensors::SafeTensorError| {
        Error::parse(
            path.display().to_string(),
            0,
            format!("not a safetensors file: {e}"),
        )
    };
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).map_err(bad)?;
    let metadata = meta.metadata().clone().unwrap_or_default();
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(bad)?;
    let mut out = HashMap::new();
    for (name, view) in st.tensors() {
        let t = candle_core::safetensors::Load::load(&view, device)?;
        out.insert(name, t);
    }
    Ok((out, metadata))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_checkpoints_are_identical_files() {
        let dir = tempfile::tempdir().unwrap();
        let t = Tensor::arange(0f32, 12.0, &Device::Cpu)
            .unwrap()
            .reshape((3, 4))
            .unwrap();
        let tensors = vec![
            ("b".to_string(), t.clone()),
            ("a".to_string(), t.sqr().unwrap()),
        ];
        let meta = || -> HashMap<String, String> {
            (0..12)
                .map(|i| (format!("key{i}"), format!("value {i}")))
                .collect()
        };
        let (p1, p2) = (
            dir.path().join("1.safetensors"),
            dir.path().join("2.safetensors"),
        );
        save_safetensors(&p1, &tensors, meta()).unwrap();
        save_safetensors(&p2, &tensors, meta()).unwrap();
        assert_eq!(std::fs::read(&p1).unwrap(), std::fs::read(&p2).unwrap());
        let (back, m) = load_safetensors(&p1, &Device::Cpu).unwrap();
        assert_eq!(m, meta());
        assert_eq!(
            back["a"].to_vec2::<f32>().unwrap(),
            t.sqr().unwrap().to_vec2::<f32>().unwrap()
        );
    }

    #[test]
    fn same_seed_same_values_and_roundtrip() {
        let mk = |seed| {
            let mut p = Params::new(Device::Cpu, DType::F32, seed);
            p.param("a", (3, 5), Init::Normal(1.0)).unwrap();
            p.param("b", 5, Init::Uniform(0.1)).unwrap();
            p.buffer("m", 5, Init::Ones).unwrap();
            p
        };
        let (a, b, c) = (mk(1), mk(1), mk(2));
        let v = |p: &Params| p.vars()[0].flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(v(&a), v(&b));
        assert_ne!(v(&a), v(&c));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.safetensors");
        let meta = HashMap::from([("k".to_string(), "v".to_string())]);
        save_safetensors(&path, &a.tensors(), meta.clone()).unwrap();
        let (t, m) = load_safetensors(&path, &Device::Cpu).unwrap();
        assert_eq!(m, meta);
        assert_eq!(c.assign(&t, true).unwrap(), 3);
        assert_eq!(v(&a), v(&c));
        // A file that is not safetensors is a clear error.
        std::fs::write(&path, b"hello").unwrap();
        let e = load_safetensors(&path, &Device::Cpu)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a safetensors file"), "{e}");
    }
}
