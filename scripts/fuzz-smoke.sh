#!/usr/bin/env bash
# Fuzz smoke run: builds the cargo-fuzz targets in fuzz/ and runs each one briefly over the
# corpus kept in fuzz/corpus/. Any crash fails the run and leaves its input in fuzz/artifacts/
# (turn it into a regression: copy it to fuzz/regressions/<target>/, which tests/fuzz_corpus.rs
# replays under plain `cargo test`).
#
#   scripts/fuzz-smoke.sh                  every target, FUZZ_SECONDS (default 15) each
#   scripts/fuzz-smoke.sh TARGET SECONDS   one target, for a long run (new corpus entries are
#                                          kept in fuzz/corpus/TARGET; minimise afterwards with
#                                          `cd fuzz && cargo fuzz cmin --sanitizer none -O TARGET`)
#
# Needs cargo-fuzz (installed from crates.io if missing) and a C++ compiler (g++) for
# libFuzzer. Runs on stable Rust: `--sanitizer none` needs no nightly-only flag.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

targets=(secret_file state_file module_args typed_code config_file redis_reply deliver_line deliver_conf provider_answer)
seconds="${FUZZ_SECONDS:-15}"
long=false
if [[ $# -ge 1 ]]; then
  targets=("$1")
  seconds="${2:-600}"
  long=true
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --version "^0.13" --locked
fi

flags=(--sanitizer none -O)
echo "== building fuzz targets"
cargo fuzz build "${flags[@]}"

for t in "${targets[@]}"; do
  dict=()
  [[ -f "dict/$t.dict" ]] && dict=("-dict=dict/$t.dict")
  if [[ $long == true ]]; then
    # New inputs go straight into the kept corpus.
    corpus=("corpus/$t")
  else
    # New inputs go to a scratch directory: a smoke run leaves the work tree unchanged.
    scratch="$(mktemp -d)"
    trap 'rm -rf "$scratch"' EXIT
    corpus=("$scratch" "corpus/$t" "regressions/$t")
    mkdir -p "regressions/$t"
  fi
  echo "== fuzzing $t for ${seconds}s"
  log="$(mktemp)"
  status=0
  cargo fuzz run "${flags[@]}" "$t" "${corpus[@]}" -- \
    -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 "${dict[@]}" >"$log" 2>&1 ||
    status=$?
  grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units)' "$log" || true
  if [[ $status -ne 0 ]]; then
    tail -n 40 "$log" >&2
    echo "FUZZ FAILURE in $t (exit $status): the input is in fuzz/artifacts/$t/" >&2
    rm -f "$log"
    exit 1
  fi
  rm -f "$log"
  if [[ $long == false ]]; then
    rm -rf "$scratch"
    trap - EXIT
  fi
done
echo "fuzz smoke: ${#targets[@]} targets, ${seconds}s each, no crash"
