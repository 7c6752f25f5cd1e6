#!/usr/bin/env bash
# Seeds each fuzz target's corpus (fuzz/corpus/<target>/, not committed)
# from what the tests already use: the docs' and examples' configs, the
# diagnosis corpus, env-file and log fixtures.
set -euo pipefail
cd "$(dirname "$0")"
root=..
seed() { mkdir -p "corpus/$1"; cp "$2" "corpus/$1/$(basename "$2" | tr '/' '_')-$3"; }
n=0
for f in "$root"/examples/*/backstop.toml "$root"/crates/backstop/tests/golden/export/backstop.toml \
         "$root"/crates/backstop/tests/fixtures/import/*.toml; do
  [ -e "$f" ] && seed config "$f" $((n++))
done
# Every ```toml block of the docs.
mkdir -p corpus/config
awk '/^```toml$/{on=1; n++; next} /^```$/{on=0} on{print > ("corpus/config/docs-" n ".toml")}' "$root"/docs/*.md
for d in 1s 500ms 1h30m 2d 10m 0s 99999999999h; do printf '%s' "$d" > "corpus/duration/$d" 2>/dev/null || { mkdir -p corpus/duration; printf '%s' "$d" > "corpus/duration/$d"; }; done
mkdir -p corpus/env_file
printf 'A=1\nexport B="two words"\n# comment\nC='"'"'single'"'"'\nD=${A}-x\n' > corpus/env_file/basic
printf 'API_SECRET=envfile-secret\nMULTI="a\nb"\n' > corpus/env_file/multiline
mkdir -p corpus/log_record corpus/log_reader
printf '2026-12-03T10:00:00.000Z stdout hello\n' > corpus/log_record/line
printf '2026-12-03T10:00:00.000Z stdout one\n2026-12-03T10:00:01.000Z stderr two\nraw line\n' > corpus/log_reader/mixed
mkdir -p corpus/diagnose
for f in "$root"/crates/backstop-diagnose/tests/corpus/dev/*.txt; do
  grep -v '^# ' "$f" > "corpus/diagnose/$(basename "$f")"
done
mkdir -p corpus/api_query
for q in '/api/v1/events?service=api&since=1h&limit=20' '/api/v1/events?kind=exited&since=2026-12-03T10:00:00Z' '/api/v1/events?limit=-1'; do
  printf '%s' "$q" > "corpus/api_query/$(echo "$q" | md5sum | cut -c1-8)"
done
echo "seeded: $(ls corpus | tr '\n' ' ')"
