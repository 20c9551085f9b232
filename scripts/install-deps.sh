#!/usr/bin/env bash
# Installs what the build and the tests need on Debian 12 "bookworm": Debian packages through
# apt-get (only those missing; without root it prints the command instead), then pinned cargo
# subcommands through `cargo install`.
#
#   scripts/install-deps.sh            build + unit/libpam tests
#   scripts/install-deps.sh --all      also containers, packaging checks and benchmarks
set -euo pipefail

all=false
[[ "${1:-}" == "--all" ]] && all=true

packages=(
  gcc libpam0g-dev          # linking against libpam
  libpam-google-authenticator  # pam-otp import reads files its tool writes (and benchmarks)
  pamtester libpam-wrapper  # driving the built module through real libpam
  libnss-wrapper            # the recipe tests' own user and group database (tests/recipes.rs)
  oathtool                  # an independent OTP implementation to cross-check codes
  zbar-tools mandoc         # QR-code decoding, man-page lint
  binutils                  # nm/readelf, to check the module's symbols and dependencies
  prometheus                # promtool: pam-otp metrics output and the shipped alert rules
  g++                       # libFuzzer (the fuzz smoke run)
  redis-server redis-sentinel redis-tools  # fleet mode: the tests start their own servers
  openssl python3           # test CAs (Redis TLS, delivery), local HTTPS and SMTP receivers
  curl                      # raw HTTPS requests to the fake SMS/push providers (testkit)
)
if [[ $all == true ]]; then
  packages+=(
    podman runc debootstrap uidmap  # container tests (see DESIGN.md for the podman settings)
    rpm dpkg-dev                    # packaging checks (rpmbuild, dpkg-architecture)
    libpam-oath                     # the other incumbent, for side-by-side benchmarks
  )
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  if [[ $(id -u) -ne 0 ]]; then
    echo "missing packages: ${missing[*]}" >&2
    echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Cargo subcommands, pinned so that CI runs are repeatable.
if [[ $all == true ]] && ! command -v cargo-deb >/dev/null 2>&1; then
  echo "installing cargo-deb (cargo install)"
  cargo install --locked --quiet cargo-deb@3.8.0
fi
