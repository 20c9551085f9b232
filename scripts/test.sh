#!/usr/bin/env bash
# Runs every test of pam_otp, from a fresh Debian 12 machine with a Rust toolchain:
#   1. installs the Debian packages the tests need (scripts/install-deps.sh),
#   2. checks formatting and lints,
#   3. runs the unit tests and the tests that drive the built module through real libpam,
#   4. as root: the container suite (real sshd, sudo, pamtester in a Debian container).
#
#   scripts/test.sh             everything (containers only when run as root)
#   scripts/test.sh --quick     skip the container suite
set -euo pipefail
cd "$(dirname "$0")/.."

quick=false
[[ "${1:-}" == "--quick" ]] && quick=true
containers=false
if [[ $quick == false && $(id -u) -eq 0 ]]; then
  containers=true
fi

if [[ $containers == true ]]; then
  scripts/install-deps.sh --all
else
  scripts/install-deps.sh
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --locked

if [[ $containers == true ]]; then
  echo "== container tests"
  scripts/container-test.sh
elif [[ $quick == false ]]; then
  echo "== container tests skipped: they need root (podman); run 'sudo scripts/test.sh'"
fi
