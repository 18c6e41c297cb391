#!/usr/bin/env bash
# The speculative-decoding table of docs/BENCHMARKS.md, in one script run.
#
#   scripts/bench-speculative.sh [--cli PATH] [--models DIR] [--tables "A B C"]
#
# A: tinyllama-1.1b shape Q8_0 (random weights) on a repeat-heavy edit prompt: prompt lookup, lookahead, guided
#    JSON. B: the same target with its Q4_0 copy as the draft model (random weights make a draft useless: the
#    table shows what it costs). C: the trained stories260K Q8_0 with its Q4_0 copy as draft, every draft
#    stage. Each `bench --spec` runs all its configurations in one process, repetitions alternating order.
# The random-weight models are written once by `peregrine-cli make-model` (seed 42) into --models.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cli=${PEREGRINE_CLI:-$repo/build/bin/peregrine-cli}
models=/tmp/peregrine-bench-models
shared=$repo/../shared/models
prompts=$repo/resources/bench
tables="A B C"
while [[ $# -gt 0 ]]; do
  case $1 in
    --cli) cli=$2; shift 2 ;;
    --models) models=$2; shift 2 ;;
    --tables) tables=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -x $cli ]] || { echo "peregrine-cli not found at $cli (build it or pass --cli)" >&2; exit 2; }
[[ -f $shared/stories260K-q8_0.gguf ]] || { echo "shared test models not found in $shared" >&2; exit 2; }
mkdir -p "$models"
for t in q8_0 q4_0; do
  f=$models/tinyllama-spec-$t.gguf
  [[ -f $f ]] || "$cli" make-model --preset tinyllama-1.1b --tokenizer "$shared/llama-2-tiny-random.gguf" \
    --type "$t" --seed 42 -o "$f" >&2
done
target=$models/tinyllama-spec-q8_0.gguf
draft=$models/tinyllama-spec-q4_0.gguf
schema=$prompts/record.schema.json

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
echo "# peregrine: $cli ($(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?'))"
for table in $tables; do
  case $table in
    A)
      echo "== A: tinyllama-1.1b shape Q8_0, repeat-heavy edit prompt: lookup, lookahead, guided JSON"
      "$cli" bench -m "$target" -f "$prompts/edit.txt" -n 64 -r 5 -t 1 --spec none,lookup,lookahead \
        --draft-k 1,4,auto --json-schema "$schema" ;;
    B)
      echo "== B: tinyllama-1.1b shape Q8_0 target, Q4_0 copy as draft (random weights)"
      "$cli" bench -m "$target" -f "$prompts/plain.txt" -n 32 -r 5 -t 1 \
        --spec "none,draft:$draft,tree:$draft,draft-lookup:$draft,staged:$draft" --draft-k 4,auto \
        --draft-threshold 0.3 ;;
    C)
      d=$shared/stories260K-q4_0.gguf
      echo "== C: stories260K (trained) Q8_0 target, its Q4_0 copy as draft"
      "$cli" bench -m "$shared/stories260K-q8_0.gguf" -f "$prompts/story.txt" -n 256 -r 9 -t 1 \
        --spec "none,lookup,lookahead,draft:$d,tree:$d,draft-lookup:$d,staged:$d" --draft-k 1,4,auto \
        --draft-threshold 0.3 --json-schema "$schema" ;;
    *) echo "unknown table $table" >&2; exit 2 ;;
  esac
done
