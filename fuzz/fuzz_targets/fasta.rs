#![no_main]
//! FASTA/FASTQ entry points: whole-record reading (plain and gzip-sniffed) and streaming
//! tokenization must return Ok or a typed error, never panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(recs) = genolm::data::fasta::read_fasta_bytes(data, "fuzz.fa") {
        let t = genolm::data::tokenize::KmerTokenizer::new(3, 2).unwrap();
        for r in recs {
            let ids = t.encode(&r.seq);
            assert_eq!(ids.len(), t.n_tokens(r.seq.len()));
            for m in &r.mask {
                assert!(m.end <= r.seq.len());
            }
        }
    }
});
