#!/usr/bin/env bash
# Benchmarks pam_otp.so beside pam_google_authenticator.so, pam_oath.so and pam_permit.so
# through real libpam, and writes the results, with the machine and the command, to
# BENCHMARKS.md. Numbers, not pass/fail: nothing here fails on a slow machine.
#
#   scripts/bench.sh              full run (a few minutes), rewrites BENCHMARKS.md
#   scripts/bench.sh --quick      small counts, prints to stdout only (checks the harness)
#
# Needs the Debian packages libpam0g-dev, libpam-google-authenticator, libpam-oath
# (scripts/install-deps.sh --all) and, for the system-call counts, strace (optional).
# Builds in target/bench (its own target directory, so it does not wait for other builds).
set -euo pipefail
cd "$(dirname "$0")/.."

quick=false
[[ "${1:-}" == "--quick" ]] && quick=true

export CARGO_TARGET_DIR="${BENCH_TARGET_DIR:-$PWD/target/bench}"
echo "== building the module (release) and the benchmark" >&2
cargo build --release --locked --lib --quiet
cargo build --release --locked --quiet --manifest-path benches/pam-bench/Cargo.toml
module="$CARGO_TARGET_DIR/release/libpam_otp.so"
bench="$CARGO_TARGET_DIR/release/pam-bench"
scratch="${TMPDIR:-/var/tmp}"

if [[ $quick == true ]]; then
  latency=(--logins 200)
  disk=(--logins 100)
  parallel=(--procs "1,2" --logins-per-proc 50)
  leak=(--logins 1000)
  out=/dev/stdout
else
  latency=(--logins 3000)
  disk=(--logins 1000)
  parallel=(--procs "1,2,4,8" --logins-per-proc 400)
  leak=(--logins 10000)
  out="$(mktemp)"
fi

# Per-login system calls that make state durable or replace files, from strace -c.
syscalls() {
  local logins=200
  echo "### System calls per login (success path, strace -f -c over $logins logins)"
  echo
  echo "| module | fsync + fdatasync | rename | link | flock / fcntl locks | openat |"
  echo "|---|---:|---:|---:|---:|---:|"
  for m in pam_permit pam_otp pam_oath pam_google_authenticator; do
    local log
    log="$(mktemp)"
    strace -f -c -o "$log" \
      -e trace=fsync,fdatasync,rename,renameat,renameat2,link,linkat,flock,fcntl,openat \
      "$bench" once "$m" "$logins" --module "$module" --dir "$scratch" 2>/dev/null
    # strace -c columns: % time, seconds, usecs/call, calls, [errors], syscall.
    awk -v n="$logins" -v m="$m" '
      $NF ~ /^(fsync|fdatasync)$/ { sync += $4 }
      $NF ~ /^rename/ { ren += $4 }
      $NF ~ /^link/ { lnk += $4 }
      $NF ~ /^(flock|fcntl)$/ { lck += $4 }
      $NF == "openat" { op += $4 }
      END { printf "| %s | %.2f | %.2f | %.2f | %.2f | %.1f |\n", m, sync/n, ren/n, lnk/n, lck/n, op/n }
    ' "$log"
    rm -f "$log"
  done
  echo
}

{
  if [[ $quick == false ]]; then
    cat <<HEADER
# Benchmarks

Produced by \`scripts/bench.sh\` (the program is \`benches/pam-bench\`); rerun it to refresh
this file. Numbers, not pass/fail. What is measured and why is explained at the end.

## Machine and run

- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src build.rs Cargo.toml || echo ' (with uncommitted changes)')
- Command: \`scripts/bench.sh\` (as $(id -un))
- CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores; memory $(free -g | awk '/^Mem:/ {print $2}') GiB; kernel $(uname -r)
- Scratch (state) directory: ${scratch}, $(stat -f -c %T "$scratch") on $(df --output=source "$scratch" | tail -1)
- Load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared: other builds may run meanwhile)
- Versions: $(rustc --version | cut -d' ' -f1-2); $(dpkg-query -W -f='${Package} ${Version}, ' libpam0g libpam-google-authenticator libpam-oath 2>/dev/null | sed 's/, $//')

HEADER
  fi
  "$bench" latency "${latency[@]}" --module "$module" --dir "$scratch"
  if [[ $(id -u) -eq 0 ]]; then
    echo "#### The same with state and secrets on a private tmpfs (the disk left out)"
    echo
    "$bench" latency "${latency[@]}" --module "$module" --dir "$scratch" --tmpfs |
      sed -n '/^| path/,$p'
  fi
  "$bench" disk "${disk[@]}" --module "$module" --dir "$scratch"
  if command -v strace >/dev/null; then
    syscalls
  else
    echo "(strace not installed: system-call counts left out)"
    echo
  fi
  "$bench" parallel "${parallel[@]}" --module "$module" --dir "$scratch"
  "$bench" leak "${leak[@]}" --module "$module" --dir "$scratch"
} >"$out"

if [[ $quick == false ]]; then
  cat benches/pam-bench/NOTES.md >>"$out"
  mv "$out" BENCHMARKS.md
  echo "== wrote BENCHMARKS.md" >&2
fi
