//! Sequence shuffles that keep composition: the dinucleotide (k-let) shuffle of Altschul &
//! Erickson (1985) by a random Eulerian walk (Kandel et al. 1996), the reference sequences
//! DeepSHAP and in-silico experiments use, and a plain mononucleotide shuffle.
//!
//! ```
//! use genolm::data::shuffle::dinucleotide_shuffle;
//! let s = b"ATGAAACGCATTAGCACCACCATTACCACCACCATCACCATTACCACAGGTAACGGTGCGGGCTGA";
//! let t = dinucleotide_shuffle(s, 7);
//! assert_eq!(t.len(), s.len());
//! assert_eq!((t[0], t[t.len() - 1]), (s[0], s[s.len() - 1]));
//! assert_ne!(t, s.to_vec());
//! ```

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A shuffle of `seq` with exactly its dinucleotide counts (and first and last letter), from
/// `seed`. Any bytes work (letters are the vertices of the walk); sequences shorter than 3 come
/// back unchanged.
pub fn dinucleotide_shuffle(seq: &[u8], seed: u64) -> Vec<u8> {
    dinucleotide_shuffle_rng(seq, &mut ChaCha8Rng::seed_from_u64(seed))
}

/// [`dinucleotide_shuffle`] drawing from `rng`.
pub fn dinucleotide_shuffle_rng(seq: &[u8], rng: &mut impl Rng) -> Vec<u8> {
    if seq.len() < 3 {
        return seq.to_vec();
    }
    // Edges: for each letter, the letters that follow it, in sequence order.
    let mut letters: Vec<u8> = seq.to_vec();
    letters.sort_unstable();
    letters.dedup();
    let idx = |b: u8| letters.binary_search(&b).expect("letter of the sequence");
    let nv = letters.len();
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); nv];
    for w in seq.windows(2) {
        edges[idx(w[0])].push(idx(w[1]));
    }
    let last = idx(seq[seq.len() - 1]);
    // A random arborescence towards `last` (Wilson's loop-erased walks over the multigraph):
    // each other vertex with out-edges keeps one random out-edge for its final exit.
    let mut in_tree = vec![false; nv];
    in_tree[last] = true;
    let mut next: Vec<Option<usize>> = vec![None; nv];
    for start in 0..nv {
        if edges[start].is_empty() {
            continue;
        }
        let mut u = start;
        while !in_tree[u] {
            let e = rng.random_range(0..edges[u].len());
            next[u] = Some(e);
            u = edges[u][e];
        }
        let mut u = start;
        while !in_tree[u] {
            in_tree[u] = true;
            u = edges[u][next[u].expect("set on the walk")];
        }
    }
    // Shuffle every vertex's other edges, its tree edge last.
    for v in 0..nv {
        if let Some(e) = next[v] {
            let keep = edges[v].swap_remove(e);
            edges[v].shuffle(rng);
            edges[v].push(keep);
        } else {
            edges[v].shuffle(rng);
        }
    }
    let mut pos = vec![0usize; nv];
    let mut out = Vec::with_capacity(seq.len());
    let mut u = idx(seq[0]);
    out.push(letters[u]);
    while pos[u] < edges[u].len() {
        let v = edges[u][pos[u]];
        pos[u] += 1;
        out.push(letters[v]);
        u = v;
    }
    debug_assert_eq!(out.len(), seq.len());
    out
}

/// A uniform shuffle of `seq`'s letters (mononucleotide composition kept).
pub fn mononucleotide_shuffle(seq: &[u8], seed: u64) -> Vec<u8> {
    let mut v = seq.to_vec();
    v.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn dinucs(s: &[u8]) -> BTreeMap<(u8, u8), usize> {
        let mut m = BTreeMap::new();
        for w in s.windows(2) {
            *m.entry((w[0], w[1])).or_insert(0) += 1;
        }
        m
    }

    #[test]
    fn keeps_dinucleotides_and_varies_with_the_seed() {
        let s = b"TTGACAATTAATCATCGGCTCGTATAATGTGTGGAATTGTGAGCGGATAACAATTTCACACAGGAAACAGCTATGACC";
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..20 {
            let t = dinucleotide_shuffle(s, seed);
            assert_eq!(dinucs(&t), dinucs(s), "seed {seed}");
            assert_eq!(t[0], s[0]);
            seen.insert(t);
        }
        assert!(seen.len() > 15, "only {} distinct shuffles", seen.len());
        assert_eq!(dinucleotide_shuffle(b"AC", 1), b"AC".to_vec());
        assert_eq!(dinucleotide_shuffle(b"AAAAAA", 1), b"AAAAAA".to_vec());
        let m = mononucleotide_shuffle(s, 3);
        let mut a = m.clone();
        let mut b = s.to_vec();
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(a, b);
    }
}
