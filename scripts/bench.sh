#!/usr/bin/env bash
# Benchmarks pam_otp.so beside pam_google_authenticator.so, pam_oath.so and pam_permit.so
# through real libpam, and writes the results, with the machine and the command, to
# BENCHMARKS.md. Numbers, not pass/fail: nothing here fails on a slow machine.
#
#   scripts/bench.sh              full run (a few minutes), rewrites BENCHMARKS.md
#   scripts/bench.sh --quick      small counts, prints to stdout only (checks the harness)
#
# Needs the Debian packages libpam0g-dev, libpam-google-authenticator, libpam-oath
# (scripts/install-deps.sh --all) and, for the system-call counts, strace (optional); for
# the fleet-mode tables redis-server, redis-tools and openssl (install-deps.sh; the benchmark
# starts its own servers on loopback and stops them; without them those tables are left out);
# as root, for the provider table, python3, openssl and curl (the local fake providers).
# Builds in target/bench (its own target directory, so it does not wait for other builds).
set -euo pipefail
cd "$(dirname "$0")/.."

quick=false
[[ "${1:-}" == "--quick" ]] && quick=true

export CARGO_TARGET_DIR="${BENCH_TARGET_DIR:-$PWD/target/bench}"
echo "== building the module (release) and the benchmark" >&2
cargo build --release --locked --lib --quiet
cargo build --release --locked --quiet --manifest-path benches/pam-bench/Cargo.toml
# The delivery helper, for `pam-bench providers` (found beside pam-bench).
cargo build --release --locked --quiet -p pam-otp-deliver
# Measured from a fresh copy, as a package installs it: the linker's own output file, same
# bytes, costs about 8 µs more per login here (one more page fault per login, slower ones:
# the page cache holds a file written piecemeal differently from one written in one go).
module="$CARGO_TARGET_DIR/bench-module/pam_otp.so"
install -D -m 0644 "$CARGO_TARGET_DIR/release/libpam_otp.so" "$module"
bench="$CARGO_TARGET_DIR/release/pam-bench"
scratch="${TMPDIR:-/var/tmp}"

if [[ $quick == true ]]; then
  latency=(--logins 200)
  disk=(--logins 100)
  parallel=(--procs "1,2" --logins-per-proc 50)
  leak=(--logins 1000)
  store_latency=(--logins 100)
  fleet=(--procs "1,4" --logins-per-proc 20 --rounds 1)
  load=(--logins 200)
  delivery=(--logins 100)
  providers=(--sends 20)
  out=/dev/stdout
else
  latency=(--logins 3000)
  disk=(--logins 1000)
  parallel=(--procs "1,2,4,8" --logins-per-proc 400)
  leak=(--logins 10000)
  store_latency=(--logins 2000)
  fleet=(--procs "1,4,16" --logins-per-proc 250 --rounds 3)
  load=(--logins 3000)
  delivery=(--logins 1000)
  providers=(--sends 1000)
  out="$(mktemp)"
fi

# Per-login system calls that make state durable or replace files, from strace.
# As root, also with each module's file in the user's home (--home: read as the user).
syscalls() {
  local logins=200
  local modes=(admin)
  [[ $(id -u) -eq 0 ]] && modes+=(home)
  echo "### System calls per login (success path, strace -f over $logins logins)"
  echo
  echo "*admin*: the secret in an admin-managed store, read as root; *home*: in the user's home, read as the user (\`--home\`). Calls of the benchmark's own process only (not of useradd/userdel, which \`--home\` runs once), divided by the logins; *openat* includes libpam's opens of the service files and the module."
  echo
  echo "| module | secret | fsync + fdatasync | rename | link | flock / fcntl locks | openat | set*id / setgroups |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|"
  for mode in "${modes[@]}"; do
    local extra=()
    [[ $mode == home ]] && extra=(--home)
    for m in pam_permit pam_otp pam_oath pam_google_authenticator; do
      local log
      log="$(mktemp)"
      strace -f -o "$log" \
        -e trace=fsync,fdatasync,rename,renameat,renameat2,link,linkat,flock,fcntl,openat,setfsuid,setfsgid,setgroups,setresuid,setresgid,setreuid,setregid,setuid,setgid \
        "$bench" once "$m" "$logins" --module "$module" --dir "$scratch" "${extra[@]}" >/dev/null 2>&1
      # Lines are "PID name(args...) = result"; a call interrupted by another thread's shows
      # as "<unfinished ...>" then "<... name resumed>": counted once. The first PID is the
      # benchmark's.
      awk -v n="$logins" -v m="$m" -v mode="$mode" '
        NR == 1 { me = $1 }
        $1 != me || /resumed>/ { next }
        { name = $2; sub(/\(.*/, "", name) }
        name ~ /^(fsync|fdatasync)$/ { sync++ }
        name ~ /^rename/ { ren++ }
        name ~ /^link/ { lnk++ }
        name ~ /^(flock|fcntl)$/ { lck++ }
        name == "openat" { op++ }
        name ~ /^set(fs|res|re)?[ug]id$|^setgroups$/ { ids++ }
        END { printf "| %s | %s | %.2f | %.2f | %.2f | %.2f | %.1f | %.1f |\n", m, mode, sync/n, ren/n, lnk/n, lck/n, op/n, ids/n }
      ' "$log"
      rm -f "$log"
    done
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
- Versions: $(rustc --version | cut -d' ' -f1-2); $(dpkg-query -W -f='${Package} ${Version}, ' libpam0g libpam-google-authenticator libpam-oath redis-server openssl 2>/dev/null | sed 's/, $//')

HEADER
  fi
  "$bench" latency "${latency[@]}" --module "$module" --dir "$scratch"
  if [[ $(id -u) -eq 0 ]]; then
    echo "#### The same with state and secrets on a private tmpfs (the disk left out)"
    echo
    "$bench" latency "${latency[@]}" --module "$module" --dir "$scratch" --tmpfs |
      sed -n '/^| path/,$p'
    echo "#### On tmpfs, each module's file in the user's home, read as the user"
    echo
    echo "pam_otp \`secret=%h/.otp\`, pam_oath \`usersfile=\${HOME}/.pam_oath_usersfile\`, pam_google_authenticator \`secret=\${HOME}/.google_authenticator\` (no \`user=\`): each switches to the user to read it (\`pam-bench latency --tmpfs --home\`; a user is created for the run and removed)."
    echo
    "$bench" latency "${latency[@]}" --module "$module" --dir "$scratch" --tmpfs --home |
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
  "$bench" load "${load[@]}" --module "$module" --dir "$scratch"
  # Codes sent out of band: the helper runs as nobody, so root only.
  if [[ $(id -u) -eq 0 ]]; then
    "$bench" delivery "${delivery[@]}" --module "$module" --dir "$scratch"
    # Through the providers: the local fake (python3, openssl, curl) and pam-otp-deliver.
    "$bench" providers "${providers[@]}" --dir "$scratch"
  else
    echo "(not root: the delivery and provider tables left out; their helper runs as nobody)"
    echo
  fi
  if command -v redis-server >/dev/null && command -v redis-cli >/dev/null && command -v openssl >/dev/null; then
    "$bench" store-latency "${store_latency[@]}" --module "$module" --dir "$scratch"
    echo "Load average after the per-login table: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo
    "$bench" fleet "${fleet[@]}" --module "$module" --dir "$scratch"
    echo "Load average after the fleet table: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo
  else
    echo "(redis-server, redis-cli or openssl not installed: the fleet-mode tables left out; scripts/install-deps.sh installs them)"
    echo
  fi
} >"$out"

if [[ $quick == false ]]; then
  cat benches/pam-bench/NOTES.md >>"$out"
  mv "$out" BENCHMARKS.md
  echo "== wrote BENCHMARKS.md" >&2
fi
