//! gzip decompression of one or several concatenated members (BGZF's blocks are members too),
//! as a streaming [`std::io::Read`].
//!
//! With the default feature `isal`, [`MultiGzDecoder`] inflates with Intel's ISA-L (`igzip`,
//! built from source by the `isal-sys` crate; on x86-64 its kernels need `nasm` at build
//! time): about 1.6 times zlib-rs's speed on a bacterial genome, streaming. Without the
//! feature it is flate2's decoder (zlib-rs). Both check every member's CRC-32 and length; a
//! truncated stream is an [`std::io::ErrorKind::UnexpectedEof`] error, and corrupt data or
//! bytes after a member that do not start another are an error too
//! ([`std::io::ErrorKind::InvalidData`]; zlib-rs says `InvalidInput`), never a shorter stream.
//!
//! ```
//! use std::io::{Read, Write};
//! let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
//! gz.write_all(b">chr\nACGT\n")?;
//! let mut member = gz.finish()?;
//! member.extend_from_slice(&member.clone()); // two members, as `cat a.gz b.gz` writes
//! let mut text = String::new();
//! genolm::data::gzip::MultiGzDecoder::new(&member[..]).read_to_string(&mut text)?;
//! assert_eq!(text, ">chr\nACGT\n>chr\nACGT\n");
//! # Ok::<(), std::io::Error>(())
//! ```

#[cfg(not(feature = "isal"))]
pub use flate2::bufread::MultiGzDecoder;

#[cfg(feature = "isal")]
pub use isal_decoder::MultiGzDecoder;
#[cfg(feature = "isal")]
pub(crate) use isal_decoder::{bgzf_blocks, BgzfBlock, BlockInflater};

#[cfg(feature = "isal")]
mod isal_decoder {
    use isal_sys::igzip_lib as isal;
    use std::io::{self, BufRead, Read};

    /// Streaming gzip decoder over a [`BufRead`]: ISA-L's `isal_inflate`, one member after
    /// another until the input ends.
    pub struct MultiGzDecoder<R> {
        inner: R,
        state: Box<isal::inflate_state>,
        /// Inside a member (its header has begun); `false` between members.
        in_member: bool,
        /// The input ended at a member boundary, or an error was returned.
        done: bool,
    }

    // The state's pointers are set from the caller's buffers at the start of every call and
    // not used between calls; everything else it holds is plain data.
    unsafe impl<R: Send> Send for MultiGzDecoder<R> {}

    /// A fresh inflate state, set up by `isal_inflate_init`. A zeroed state is valid plain
    /// data; it is allocated on the heap directly, being tens of kilobytes.
    fn new_state() -> Box<isal::inflate_state> {
        let layout = std::alloc::Layout::new::<isal::inflate_state>();
        // SAFETY: a zeroed `inflate_state` is valid plain data (integers, arrays and null
        // pointers), allocated with its own layout and handed to the Box whole.
        let mut state: Box<isal::inflate_state> = unsafe {
            let p = std::alloc::alloc_zeroed(layout) as *mut isal::inflate_state;
            if p.is_null() {
                std::alloc::handle_alloc_error(layout);
            }
            Box::from_raw(p)
        };
        // SAFETY: the state is valid, initialised memory.
        unsafe { isal::isal_inflate_init(&mut *state) };
        state
    }

    impl<R: BufRead> MultiGzDecoder<R> {
        /// Decode the gzip members read from `inner`.
        pub fn new(inner: R) -> Self {
            Self {
                inner,
                state: new_state(),
                in_member: false,
                done: false,
            }
        }

        /// The reader underneath.
        pub fn get_ref(&self) -> &R {
            &self.inner
        }

        fn start_member(&mut self) {
            unsafe { isal::isal_inflate_reset(&mut *self.state) };
            self.state.crc_flag = isal::ISAL_GZIP;
            self.in_member = true;
        }

        fn fail(&mut self, kind: io::ErrorKind, msg: String) -> io::Error {
            self.done = true;
            io::Error::new(kind, msg)
        }
    }

    /// One BGZF block of a file: where its deflate data and its end lie, and how many bytes it
    /// inflates to.
    #[derive(Clone, Copy)]
    pub(crate) struct BgzfBlock {
        /// Where the deflate data begins (after the header and its extra field).
        pub data: usize,
        /// The block's end; its last 8 bytes are the CRC-32 and the length of its text.
        pub end: usize,
        /// Uncompressed size (the member's ISIZE).
        pub len: usize,
    }

    /// The blocks of a whole BGZF file, from their headers (each gives its own size) and
    /// trailers: no inflating. `None` unless every member is a BGZF block (gzip magic,
    /// deflate, only the extra field, a `BC` subfield) ending inside the file, back to back to
    /// the end.
    pub(crate) fn bgzf_blocks(file: &[u8]) -> Option<Vec<BgzfBlock>> {
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < file.len() {
            let h = file.get(pos..pos + 12)?;
            if h[..4] != [0x1f, 0x8b, 8, 4] {
                return None;
            }
            let xlen = u16::from_le_bytes([h[10], h[11]]) as usize;
            let mut extra = file.get(pos + 12..pos + 12 + xlen)?;
            let mut bsize = None;
            while extra.len() >= 4 {
                let n = u16::from_le_bytes([extra[2], extra[3]]) as usize;
                let field = extra.get(4..4 + n)?;
                if extra[..2] == *b"BC" && n == 2 {
                    bsize = Some(u16::from_le_bytes([field[0], field[1]]) as usize + 1);
                }
                extra = &extra[4 + n..];
            }
            let end = pos + bsize?;
            if end > file.len() || end < pos + 12 + xlen + 8 {
                return None;
            }
            let isize = u32::from_le_bytes(file[end - 4..end].try_into().ok()?) as usize;
            out.push(BgzfBlock {
                data: pos + 12 + xlen,
                end,
                len: isize,
            });
            pos = end;
        }
        Some(out)
    }

    /// ISA-L's one-call inflate for whole BGZF blocks, its state reused from block to block.
    pub(crate) struct BlockInflater {
        state: Box<isal::inflate_state>,
    }

    // As for MultiGzDecoder: the state's pointers are set at every call and not kept.
    unsafe impl Send for BlockInflater {}

    impl BlockInflater {
        pub fn new() -> Self {
            BlockInflater { state: new_state() }
        }

        /// Inflate block `b` of the BGZF file `file` (as [`bgzf_blocks`] found it) into `out`,
        /// exactly its uncompressed size; `false` unless it inflates to exactly that many bytes
        /// with the CRC-32 of its trailer.
        pub fn inflate(&mut self, file: &[u8], b: &BgzfBlock, out: &mut [u8]) -> bool {
            let data = &file[b.data..b.end - 8];
            let crc = u32::from_le_bytes(file[b.end - 8..b.end - 4].try_into().expect("4 bytes"));
            if data.len() > u32::MAX as usize || out.len() > u32::MAX as usize {
                return false;
            }
            let st = &mut *self.state;
            // SAFETY: the state is valid plain data; the pointers address `data` and `out`,
            // which outlive the call, with their lengths.
            let ret = unsafe {
                isal::isal_inflate_init(st);
                st.crc_flag = isal::ISAL_DEFLATE;
                st.next_in = data.as_ptr() as *mut u8;
                st.avail_in = data.len() as u32;
                st.next_out = out.as_mut_ptr();
                st.avail_out = out.len() as u32;
                isal::isal_inflate_stateless(st)
            };
            if ret != isal::ISAL_DECOMP_OK as i32 || st.avail_out != 0 {
                return false;
            }
            let mut c = flate2::Crc::new();
            c.update(out);
            c.sum() == crc
        }
    }

    fn describe(ret: i32) -> &'static str {
        match ret {
            isal::ISAL_INVALID_BLOCK => "invalid deflate block",
            isal::ISAL_INVALID_SYMBOL => "invalid deflate symbol",
            isal::ISAL_INVALID_LOOKBACK => "invalid back-reference distance",
            isal::ISAL_INVALID_WRAPPER => "invalid gzip header",
            isal::ISAL_UNSUPPORTED_METHOD => "gzip member not compressed with deflate",
            isal::ISAL_INCORRECT_CHECKSUM => "gzip checksum mismatch (CRC-32 or length)",
            _ => "gzip decoding failed",
        }
    }

    impl<R: BufRead> Read for MultiGzDecoder<R> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if out.is_empty() {
                return Ok(0);
            }
            let want = out.len().min(u32::MAX as usize);
            let mut stalls = 0;
            loop {
                if self.done {
                    return Ok(0);
                }
                if !self.in_member {
                    if self.inner.fill_buf()?.is_empty() {
                        self.done = true;
                        return Ok(0);
                    }
                    self.start_member();
                }
                let input = self.inner.fill_buf()?;
                let (n_in, eof) = (input.len().min(u32::MAX as usize), input.is_empty());
                let st = &mut *self.state;
                st.next_in = input.as_ptr() as *mut u8;
                st.avail_in = n_in as u32;
                st.next_out = out.as_mut_ptr();
                st.avail_out = want as u32;
                let ret = unsafe { isal::isal_inflate(st) };
                let consumed = n_in - st.avail_in as usize;
                let produced = want - st.avail_out as usize;
                let finished = st.block_state == isal::isal_block_state_ISAL_BLOCK_FINISH;
                self.inner.consume(consumed);
                if ret < 0 {
                    let msg = format!("corrupt gzip stream: {}", describe(ret));
                    return Err(self.fail(io::ErrorKind::InvalidData, msg));
                }
                if finished {
                    self.in_member = false;
                }
                if produced > 0 {
                    return Ok(produced);
                }
                if !finished && consumed == 0 {
                    if eof {
                        let msg = "unexpected end of file inside a gzip member".to_string();
                        return Err(self.fail(io::ErrorKind::UnexpectedEof, msg));
                    }
                    // Input there and room for output, yet nothing taken or given: never
                    // expected of ISA-L, but an error rather than a loop without end.
                    stalls += 1;
                    if stalls > 2 {
                        let msg = "corrupt gzip stream: the decoder made no progress".to_string();
                        return Err(self.fail(io::ErrorKind::InvalidData, msg));
                    }
                } else {
                    stalls = 0;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{self, BufRead, Read, Write};

    fn member(text: &[u8], level: u32) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
        gz.write_all(text).unwrap();
        gz.finish().unwrap()
    }

    /// A reader that hands out at most `n` bytes per `fill_buf`, so members, headers and
    /// trailers are cut at every kind of boundary.
    struct Trickle<'a>(&'a [u8], usize);
    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.fill_buf()?.len().min(out.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.consume(n);
            Ok(n)
        }
    }
    impl BufRead for Trickle<'_> {
        fn fill_buf(&mut self) -> io::Result<&[u8]> {
            Ok(&self.0[..self.0.len().min(self.1)])
        }
        fn consume(&mut self, n: usize) {
            self.0 = &self.0[n..];
        }
    }

    fn text(n: usize, seed: usize) -> Vec<u8> {
        (0..n)
            .map(|i| b"ACGT\nN"[(i * 7 + i / 13 + seed) % if i % 61 == 0 { 6 } else { 4 }])
            .collect()
    }

    #[test]
    fn members_decode_whatever_the_input_and_output_sizes() {
        // Several members, one of them empty, levels from stored to best.
        let parts = [text(100_000, 1), Vec::new(), text(3, 2), text(70_000, 3)];
        let mut gz = Vec::new();
        let mut want = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            gz.extend(member(p, [0, 1, 6, 9][i]));
            want.extend_from_slice(p);
        }
        for chunk in [1, 2, 7, 8, 9, 4096, 1 << 20] {
            for out_size in [1, 3, 1000, 1 << 18] {
                let mut dec = MultiGzDecoder::new(Trickle(&gz, chunk));
                let mut got = Vec::new();
                let mut buf = vec![0u8; out_size];
                loop {
                    let n = dec.read(&mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    got.extend_from_slice(&buf[..n]);
                }
                assert!(got == want, "input chunks {chunk}, output {out_size}");
            }
        }
    }

    /// The kinds [`crate::data::io::describe_io`] words as corrupt data (zlib-rs says
    /// `InvalidInput`, ISA-L's decoder `InvalidData`).
    fn corrupt(r: io::Result<usize>) -> bool {
        matches!(
            r.map_err(|e| e.kind()),
            Err(io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput)
        )
    }

    #[test]
    fn damage_is_an_error_never_a_shorter_stream() {
        let t = text(200_000, 5);
        let gz = member(&t, 6);
        let read = |bytes: &[u8]| {
            let mut got = Vec::new();
            let r = MultiGzDecoder::new(Trickle(bytes, 5000)).read_to_end(&mut got);
            (r, got)
        };
        // Truncated anywhere: header, body or trailer.
        for cut in [5, 12, gz.len() / 3, gz.len() - 9, gz.len() - 1] {
            let (r, got) = read(&gz[..cut]);
            assert_eq!(
                r.unwrap_err().kind(),
                io::ErrorKind::UnexpectedEof,
                "cut at {cut}"
            );
            assert!(t.starts_with(&got));
        }
        // A wrong CRC-32, a wrong length.
        for at in [gz.len() - 8, gz.len() - 4] {
            let mut bad = gz.clone();
            bad[at] ^= 1;
            assert!(corrupt(read(&bad).0), "byte {at} changed");
        }
        // Bytes after the last member that are not a gzip member.
        let mut tail = gz.clone();
        tail.extend_from_slice(&[0; 20]);
        assert!(corrupt(read(&tail).0));
    }
}
