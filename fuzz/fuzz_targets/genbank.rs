#![no_main]
//! GenBank entry point: parse, then build tracks and re-translate every CDS.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(seqs) = genolm::data::annotation::parse_genbank_bytes(data, "fuzz.gb") {
        for s in seqs {
            let _ = genolm::data::annotation::check_translations(&s, 11);
            let _ = genolm::data::tracks::Tracks::from_annotation(&s, &Default::default());
        }
    }
});
