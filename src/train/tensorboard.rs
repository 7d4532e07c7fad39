//! TensorBoard event files written by hand: TFRecord framing (length, masked CRC-32C of the
//! length, an `Event` protocol buffer, its masked CRC-32C) around `Event { wall_time, step,
//! summary { value { tag, simple_value } } }` messages. The real `tensorboard` (PyPI) reads them:
//! `scripts/python-check.sh` opens a run's file with TensorBoard's own `EventAccumulator`.
//!
//! ```
//! use genolm::train::tensorboard::{read_scalars, EventWriter};
//! let dir = tempfile::tempdir().unwrap();
//! let mut w = EventWriter::create(dir.path())?;
//! w.scalars(3, 1.7e9, &[("train/loss", 1.25), ("train/lr", 1e-3)])?;
//! let back = read_scalars(w.path())?;
//! assert_eq!(back, vec![("train/loss".to_string(), 3, 1.25f32), ("train/lr".to_string(), 3, 1e-3f32)]);
//! # Ok::<(), genolm::Error>(())
//! ```

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Appends scalar events to one `events.out.tfevents.*` file.
#[derive(Debug)]
pub struct EventWriter {
    file: File,
    path: PathBuf,
}

fn masked_crc(b: &[u8]) -> u32 {
    let c = crc32c::crc32c(b);
    (c.rotate_right(15)).wrapping_add(0xa282_ead8)
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn bytes_field(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    varint(out, ((field << 3) | 2) as u64);
    varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn event(wall_time: f64, step: i64, file_version: Option<&str>, values: &[(&str, f64)]) -> Vec<u8> {
    let mut e = Vec::new();
    e.push(0x09); // wall_time: field 1, 64-bit
    e.extend_from_slice(&wall_time.to_le_bytes());
    e.push(0x10); // step: field 2, varint
    varint(&mut e, step as u64);
    if let Some(v) = file_version {
        bytes_field(&mut e, 3, v.as_bytes());
    }
    if !values.is_empty() {
        let mut summary = Vec::new();
        for (tag, x) in values {
            let mut value = Vec::new();
            bytes_field(&mut value, 1, tag.as_bytes());
            value.push(0x15); // simple_value: field 2, 32-bit
            value.extend_from_slice(&(*x as f32).to_le_bytes());
            bytes_field(&mut summary, 1, &value);
        }
        bytes_field(&mut e, 5, &summary);
    }
    e
}

fn record(data: &[u8]) -> Vec<u8> {
    let len = (data.len() as u64).to_le_bytes();
    let mut r = Vec::with_capacity(data.len() + 16);
    r.extend_from_slice(&len);
    r.extend_from_slice(&masked_crc(&len).to_le_bytes());
    r.extend_from_slice(data);
    r.extend_from_slice(&masked_crc(data).to_le_bytes());
    r
}

impl EventWriter {
    /// A new event file in `dir` (created if needed), named as TensorBoard's writers name them
    /// (`events.out.tfevents.<seconds>.<host>.<pid>.<n>`), starting with the file-version event.
    pub fn create(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let now = unix_now();
        let host = crate::fsio::host_name();
        let mut n = 0;
        let path = loop {
            let p = dir.join(format!(
                "events.out.tfevents.{}.{host}.{}.{n}",
                now as u64,
                std::process::id()
            ));
            if !p.exists() {
                break p;
            }
            n += 1;
        };
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        let mut w = EventWriter { file, path };
        w.write(&event(now, 0, Some("brain.Event:2"), &[]))?;
        Ok(w)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// One event at `step` holding the scalars `(tag, value)` (stored as f32, as TensorBoard does).
    pub fn scalars(&mut self, step: i64, wall_time: f64, values: &[(&str, f64)]) -> Result<()> {
        self.write(&event(wall_time, step, None, values))
    }

    fn write(&mut self, ev: &[u8]) -> Result<()> {
        self.file
            .write_all(&record(ev))
            .map_err(|e| Error::io(&self.path, e))
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn read_varint(b: &[u8], i: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*i)?;
        *i += 1;
        v |= ((byte & 0x7f) as u64) << shift;
        if byte < 0x80 {
            return Some(v);
        }
    }
    None
}

/// One field of a protocol-buffer message: number, wire type, payload bytes, varint value.
type Field<'a> = (u32, u8, &'a [u8], u64);

/// Fields of a protocol-buffer message.
fn fields(b: &[u8]) -> Option<Vec<Field<'_>>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let key = read_varint(b, &mut i)?;
        let (field, wt) = ((key >> 3) as u32, (key & 7) as u8);
        match wt {
            0 => out.push((field, wt, &b[0..0], read_varint(b, &mut i)?)),
            1 => {
                out.push((field, wt, b.get(i..i + 8)?, 0));
                i += 8;
            }
            2 => {
                let n = read_varint(b, &mut i)? as usize;
                out.push((field, wt, b.get(i..i + n)?, 0));
                i += n;
            }
            5 => {
                out.push((field, wt, b.get(i..i + 4)?, 0));
                i += 4;
            }
            _ => return None,
        }
    }
    Some(out)
}

/// The scalars of an event file, `(tag, step, value)` in file order, checking every record's
/// checksums (what TensorBoard's reader does; used by tests and `genolm monitor`).
pub fn read_scalars(path: &Path) -> Result<Vec<(String, i64, f32)>> {
    let data = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bad = |m: &str| Error::parse(path.display().to_string(), 0, m.to_string());
    let mut out = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let head = data
            .get(i..i + 12)
            .ok_or_else(|| bad("truncated record header"))?;
        let len = u64::from_le_bytes(head[..8].try_into().expect("8 bytes")) as usize;
        if masked_crc(&head[..8]).to_le_bytes() != head[8..12] {
            return Err(bad("length checksum mismatch"));
        }
        let body = data
            .get(i + 12..i + 12 + len)
            .ok_or_else(|| bad("truncated record"))?;
        let crc = data
            .get(i + 12 + len..i + 16 + len)
            .ok_or_else(|| bad("truncated record"))?;
        if masked_crc(body).to_le_bytes() != crc {
            return Err(bad("data checksum mismatch"));
        }
        i += 16 + len;
        let ev = fields(body).ok_or_else(|| bad("not an Event message"))?;
        let step = ev
            .iter()
            .find(|f| f.0 == 2)
            .map(|f| f.3 as i64)
            .unwrap_or(0);
        for (_, _, summary, _) in ev.iter().filter(|f| f.0 == 5) {
            for (_, _, value, _) in fields(summary).ok_or_else(|| bad("bad Summary"))? {
                let v = fields(value).ok_or_else(|| bad("bad Summary.Value"))?;
                let tag = v
                    .iter()
                    .find(|f| f.0 == 1)
                    .map(|f| String::from_utf8_lossy(f.2).into_owned());
                let x = v
                    .iter()
                    .find(|f| f.0 == 2 && f.1 == 5)
                    .map(|f| f32::from_le_bytes(f.2.try_into().expect("4 bytes")));
                if let (Some(t), Some(x)) = (tag, x) {
                    out.push((t, step, x));
                }
            }
        }
    }
    Ok(out)
}
