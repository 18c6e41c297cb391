#!/usr/bin/env bash
# Peregrine against llama.cpp on the same GGUF files, side by side in one run.
#
#   scripts/bench-vs-llama.sh LLAMA_BENCH [options]
#
# LLAMA_BENCH is a llama-bench binary built from a llama.cpp checkout kept outside this repository (for
# the numbers in docs/BENCHMARKS.md: the golden commit c392e50, cmake -DGGML_NATIVE=ON -DLLAMA_CURL=OFF).
# The script writes TinyLlama-1.1B-shaped models with random weights (peregrine-cli make-model, the
# tokenizer of a shared vocab file) in each type, then, for each round, runs llama-bench and
# peregrine-cli bench on every (type, threads) pair, alternating which goes first, so that load from other
# processes on a shared machine hits both alike. Per test it pools the per-repetition samples of all rounds
# and prints the medians and the ratio Peregrine / llama.cpp.
#
# Options (defaults in brackets):
#   --cli PATH          peregrine-cli [build/bin/peregrine-cli]
#   --models DIR        where the models are written / reused [/tmp/peregrine-bench-models]
#   --tokenizer GGUF    tokenizer to copy [../shared/models/vocab/ggml-vocab-llama-spm.gguf]
#   --types "T ..."     make-model types ["q4_0 q4_K_M q8_0 f16"]
#   --threads "N ..."   thread counts ["1 2"]
#   -p N, -n N          prompt and generated tokens [512, 128]
#   -r N                repetitions per run of each tool [3]
#   --rounds N          interleaved rounds [2]
#   --extras            also: Peregrine's tg128 at depth 16 and 1024, and the no-KV-cache baseline
#   --out DIR           raw JSON of every run [/tmp/peregrine-bench-out]
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
llama_bench=${1:?usage: scripts/bench-vs-llama.sh LLAMA_BENCH [options]}
shift
cli=${PEREGRINE_CLI:-$repo/build/bin/peregrine-cli}
models=/tmp/peregrine-bench-models
tokenizer=$repo/../shared/models/vocab/ggml-vocab-llama-spm.gguf
types="q4_0 q4_K_M q8_0 f16"
threads="1 2"
n_prompt=512
n_gen=128
reps=3
rounds=2
extras=0
out=/tmp/peregrine-bench-out
while [[ $# -gt 0 ]]; do
  case $1 in
    --cli) cli=$2; shift 2 ;;
    --models) models=$2; shift 2 ;;
    --tokenizer) tokenizer=$2; shift 2 ;;
    --types) types=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    -p) n_prompt=$2; shift 2 ;;
    -n) n_gen=$2; shift 2 ;;
    -r) reps=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --extras) extras=1; shift ;;
    --out) out=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -x $llama_bench ]] || { echo "not an executable: $llama_bench" >&2; exit 2; }
[[ -x $cli ]] || { echo "peregrine-cli not found at $cli (build it or pass --cli)" >&2; exit 2; }
[[ -f $tokenizer ]] || { echo "tokenizer GGUF not found: $tokenizer" >&2; exit 2; }
mkdir -p "$models" "$out"

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# peregrine: $cli ($(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')), llama.cpp: $llama_bench"

for t in $types; do
  f=$models/tinyllama-1.1b-$t.gguf
  if [[ ! -f $f ]]; then
    echo "making $f" >&2
    "$cli" make-model --preset tinyllama-1.1b --tokenizer "$tokenizer" --type "$t" -o "$f" >&2
  fi
done

# The machine's limits, once (bandwidth and peak rates for every thread count).
"$cli" bench -m "$models/tinyllama-1.1b-$(echo $types | cut -d' ' -f1).gguf" -p 0 -n 0 \
  -t "$(echo $threads | tr ' ' ',')" --json > "$out/roof.json"

for ((round = 1; round <= rounds; round++)); do
  for t in $types; do
    f=$models/tinyllama-1.1b-$t.gguf
    for th in $threads; do
      tag=$t-t$th-r$round
      echo "round $round/$rounds: $t, $th thread(s)" >&2
      run_llama() { "$llama_bench" -m "$f" -p "$n_prompt" -n "$n_gen" -t "$th" -r "$reps" -o json > "$out/llama-$tag.json" 2>/dev/null; }
      run_ours() { "$cli" bench -m "$f" -p "$n_prompt" -n "$n_gen" -t "$th" -r "$reps" --no-roof --json > "$out/peregrine-$tag.json" 2>/dev/null; }
      if (( round % 2 == 1 )); then run_llama; run_ours; else run_ours; run_llama; fi
    done
  done
done

if (( extras )); then
  f=$models/tinyllama-1.1b-$(echo $types | cut -d' ' -f1).gguf
  th=$(echo $threads | awk '{print $NF}')
  echo "extras: tg128 at depth 16 and 1024, no-KV-cache baseline ($f, $th threads)" >&2
  "$cli" bench -m "$f" -p 0 -n 128 -d 16,1024 -t "$th" -r "$reps" --json > "$out/extras-depth.json" 2>/dev/null
  "$cli" bench -m "$f" -p 0 -n 128 -t "$th" -r 1 --compare-no-kv-cache --json > "$out/extras-no-kv.json" 2>/dev/null
fi

echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$out" "$types" "$threads" "$rounds" "$n_prompt" "$n_gen" "$extras" <<'EOF'
import json, os, statistics, sys
out, types, threads, rounds, n_prompt, n_gen, extras = sys.argv[1:]
types, threads, rounds = types.split(), threads.split(), int(rounds)

def median(v):
    return statistics.median(v) if v else float('nan')

roof = json.load(open(os.path.join(out, 'roof.json')))['machine']
print(f"# roof: " + ", ".join(
    f"{t} thread(s): read {v['read_bandwidth_bytes_per_s'] / 1e9:.1f} GB/s, int8 {v['int8_ops_per_s'] / 1e12:.2f} TOP/s"
    for t, v in roof['threads'].items()))
print()
print("| type | threads | test | Peregrine t/s | llama.cpp t/s | ratio | Peregrine % of roof |")
print("| --- | ---: | --- | ---: | ---: | ---: | ---: |")
for t in types:
    for th in threads:
        ours, theirs, roofs = {}, {}, {}
        for r in range(1, rounds + 1):
            tag = f"{t}-t{th}-r{r}"
            for test in json.load(open(os.path.join(out, f"peregrine-{tag}.json")))['tests']:
                ours.setdefault(test['test'], []).extend(test['samples_tps'])
                roofs.setdefault(test['test'], []).append(test)
            for test in json.load(open(os.path.join(out, f"llama-{tag}.json"))):
                name = f"pp{test['n_prompt']}" if test['n_prompt'] > 0 else f"tg{test['n_gen']}"
                theirs.setdefault(name, []).extend(test['samples_ts'])
        for name in [f"pp{n_prompt}", f"tg{n_gen}"]:
            a, b = median(ours.get(name, [])), median(theirs.get(name, []))
            # % of roof from the median and the roof measured once at the start
            frac = ''
            m = roof['threads'].get(th)
            model = json.load(open(os.path.join(out, f"peregrine-{t}-t{th}-r1.json")))['model']
            if m:
                if name.startswith('tg'):
                    frac = f"{100 * model['weight_bytes_per_token'] * a / m['read_bandwidth_bytes_per_s']:.0f}% mem"
                elif model['float_weights']:
                    frac = f"{100 * 2 * model['matrix_macs_per_token'] * a / m['f32_flops_per_s']:.0f}% f32"
                else:
                    frac = f"{100 * 2 * model['matrix_macs_per_token'] * a / m['int8_ops_per_s']:.0f}% int8"
            print(f"| {t} | {th} | {name} | {a:.2f} | {b:.2f} | {a / b:.2f} | {frac} |")
if extras == '1':
    d = json.load(open(os.path.join(out, 'extras-depth.json')))['tests']
    print()
    for test in d:
        print(f"Peregrine {test['test']} (t={test['threads']}): {test['median_tps']:.2f} tok/s")
    for b in json.load(open(os.path.join(out, 'extras-no-kv.json'))).get('no_kv_cache_baseline', []):
        print(f"{b['test']} without KV cache: {b['no_kv_cache_median_tps']:.2f} tok/s (first eighth "
              f"{b['no_kv_cache_first_eighth_tps']:.2f}, last eighth {b['no_kv_cache_last_eighth_tps']:.2f}); "
              f"with KV cache {b['kv_cache_median_tps']:.2f} tok/s: {b['speedup']:.1f}x")
EOF
