#![no_main]
//! GFF3 entry point (with an embedded ##FASTA section or none): parse, tracks, translations.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(seqs) = genolm::data::annotation::parse_gff3_bytes(data, "fuzz.gff3", None) {
        for s in seqs {
            let _ = genolm::data::annotation::check_translations(&s, 1);
            let _ = genolm::data::tracks::Tracks::from_annotation(&s, &Default::default());
        }
    }
});
