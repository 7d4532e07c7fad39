//! The data stage: sequence files, annotations, per-nucleotide tracks, tokens, corpora and
//! batches.
//!
//! | module | what |
//! |---|---|
//! | [`alphabet`] | 2-bit codes, IUPAC, reverse complement, ambiguity policies |
//! | [`io`] | plain / gzip / bgzip detection, line-counting reader |
//! | [`gzip`] | multi-member gzip decoding (ISA-L, or zlib-rs without the `isal` feature) |
//! | [`fasta`] | FASTA and FASTQ records and constant-memory streaming |
//! | [`annotation`] | GenBank and GFF3 into one feature model |
//! | [`names`] | which record a VCF's or GFF3's sequence name means (`NC_007793.1` in `gi|…|ref|NC_007793.1|`, `chr1` / `1`) |
//! | [`genetic_code`] | NCBI translation tables |
//! | [`tracks`] | CDS / codon position / amino acid / region per nucleotide |
//! | [`tokenize`] | k-mer + stride and single-nucleotide tokens |
//! | [`corpus`] | PRO / EUK / VIR genomes, splits, reads, the embedded default |
//! | [`batch`] | causal-LM (stateful or shuffled), masked-LM and classification batches |

pub mod alphabet;
pub mod annotation;
pub mod batch;
pub mod corpus;
pub mod fasta;
pub mod genetic_code;
pub mod gzip;
pub mod input;
pub mod io;
pub mod names;
pub mod shards;
pub mod shuffle;
pub mod streams;
pub mod tasks;
pub mod tokenize;
pub mod tracks;
