#!/usr/bin/env bash
# Seeds the fuzz corpora (fuzz/corpus/<target>/, git-ignored) from the real FINRA files in
# ../shared/realdata and from the synthetic mirror generator (offx-synth). Run from anywhere.
#
# Seeds are kept small on purpose: libFuzzer runs every mutation at about the size of the largest
# seed, and a whole real Reg SHO file (300-900 KB) makes every run a full-file parse (~290 runs/s).
# Whole real files are cut to their header, 40 rows and a matching record count; the few rows
# still carry every shape the parser must see (decimals, `/` and lowercase symbols, CRLF).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
real="${OFFX_REALDATA:-$root/../shared/realdata}"
corpus="$here/corpus"
mkdir -p "$corpus/regsho" "$corpus/ats_zip" "$corpus/ats_json" "$corpus/short_interest"

# A real file cut to its header, the first $2 rows and a record count that matches them.
head_with_count() {
    python3 - "$1" "$2" <<'PY'
import sys
data = open(sys.argv[1], 'rb').read()
lines = data.split(b'\n')
eol = b'\r\n' if data.find(b'\r\n') >= 0 else b'\n'
rows = [l.rstrip(b'\r') for l in lines[1:] if l.strip() and b'|' in l][: int(sys.argv[2])]
sys.stdout.buffer.write(eol.join([lines[0].rstrip(b'\r')] + rows + [str(len(rows)).encode()]) + eol)
PY
}

if [ -d "$real" ]; then
    for f in "$real"/mirror/regsho/daily/*.txt; do
        head_with_count "$f" 40 > "$corpus/regsho/real-$(basename "$f")"
    done
    for f in "$real"/regsho-excerpts/*/*.txt; do
        install -m 0644 "$f" "$corpus/regsho/excerpt-$(basename "$f")"
    done
    for f in "$real"/ats/api_responses/*/*.body.json "$real"/ats/excerpts/*/*.json; do
        install -m 0644 "$f" "$corpus/ats_json/$(basename "$f")"
    done
    # FINRA's weekly download files, zipped as the mirror layout holds them (first 60 rows each).
    for f in "$real"/ats/otc_download_files/*/*.csv; do
        python3 - "$f" "$corpus/ats_zip/real-$(basename "$f" .csv).zip" <<'PY'
import sys, zipfile
src, out = sys.argv[1], sys.argv[2]
lines = open(src, 'rb').read().split(b'\n')[:61]
with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr('week.txt', b'\n'.join(lines) + b'\n')
PY
    done
else
    echo "seed.sh: no real files at $real; synthetic seeds only" >&2
fi

# The synthetic mirror: a small universe, so every file stays a few KB.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$root" && cargo run -q -p offx-synth -- --out "$tmp/mirror" --sample --symbols 40)
find "$tmp/mirror" -name '*.txt' -path '*regsho*' | head -12 | while read -r f; do
    install -m 0644 "$f" "$corpus/regsho/synth-$(basename "$f")"
done
find "$tmp/mirror" -name '*.zip' | while read -r f; do
    install -m 0644 "$f" "$corpus/ats_zip/synth-$(basename "$f")"
done
# Short interest: the generator's shrt files (no real one is in ../shared), and an API page shaped
# like the rows a public client recorded from api.finra.org (tests/short_interest.rs).
find "$tmp/mirror" -name 'shrt*.csv' | while read -r f; do
    install -m 0644 "$f" "$corpus/short_interest/synth-$(basename "$f")"
done
cat > "$corpus/short_interest/api-page.json" <<'JSON'
[{"symbolCode":"AA","issueName":"Alcoa Corporation","marketClassCode":"NYSE","settlementDate":"2026-05-29","currentShortPositionQuantity":10624431,"previousShortPositionQuantity":9476203,"averageDailyVolumeQuantity":9564290,"daysToCoverQuantity":1.11,"changePercent":12.12,"changePreviousNumber":1148228,"revisionFlag":null,"stockSplitFlag":null},
 {"symbolCode":"AACAF","issueName":"AAC Technologies Holdings Inc","marketClassCode":"OTC","settlementDate":"2026-05-29","currentShortPositionQuantity":4612254,"averageDailyVolumeQuantity":33,"daysToCoverQuantity":999.99,"changePercent":5.5}]
JSON

for t in regsho ats_zip ats_json short_interest; do
    printf '%-9s %3d seeds, largest %s bytes\n' "$t" "$(ls "$corpus/$t" | wc -l)" \
        "$(ls -S "$corpus/$t" | head -1 | xargs -I{} stat -c %s "$corpus/$t/{}")"
done
