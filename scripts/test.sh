#!/usr/bin/env bash
# Runs every test of pam_otp, from a fresh Debian 12 machine with a Rust toolchain.
#
#   sudo scripts/test.sh        everything: lints, unit and libpam tests (root-only ones too),
#                               packaging checks, the .deb in a clean container, a fuzz
#                               smoke run, the container suite, the fleet container test (two
#                               sshd containers sharing one Redis)
#   scripts/test.sh --quick     no root needed: lints, unit and libpam tests
#
# Each stage prints its own summary; the script stops at the first failing stage.
set -euo pipefail
cd "$(dirname "$0")/.."

full=true
[[ "${1:-}" == "--quick" ]] && full=false
if [[ $full == true && $(id -u) -ne 0 ]]; then
  echo "the full run needs root (containers, tmpfs mounts); use 'sudo scripts/test.sh' or --quick" >&2
  exit 1
fi

stage() { printf '\n== %s\n' "$*"; }

if [[ $full == true ]]; then
  scripts/install-deps.sh --all
else
  scripts/install-deps.sh
fi

stage "cargo fmt --check"
cargo fmt --all -- --check
stage "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
stage "cargo test"
if [[ $full == true ]]; then
  # Root-only tests (tmpfs mounts for disk-full) are #[ignore]d for ordinary users.
  cargo test --workspace --locked -- --include-ignored
else
  cargo test --workspace --locked
fi

if [[ $full == true ]]; then
  stage "packaging checks"
  scripts/package-test.sh
  stage "Debian package in a clean container"
  scripts/deb-test.sh
  stage "fuzz smoke run"
  scripts/fuzz-smoke.sh
  stage "container tests"
  scripts/container-test.sh
  stage "fleet container test (two sshd hosts, one Redis)"
  scripts/fleet-container-test.sh
fi
