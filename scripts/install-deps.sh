#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need (Debian 12 "bookworm").
# Runs apt-get only for what is missing; without root it prints the command instead.
#
#   scripts/install-deps.sh            build + unit/libpam tests
#   scripts/install-deps.sh --all      also the container suite and the benchmarks
set -euo pipefail

packages=(
  gcc libpam0g-dev          # linking against libpam
  pamtester libpam-wrapper  # driving the built module through real libpam
  oathtool                  # an independent OTP implementation to cross-check codes
  zbar-tools mandoc         # QR-code decoding, man-page lint
  binutils                  # nm, to check the module's exported symbols
)
if [[ "${1:-}" == "--all" ]]; then
  packages+=(
    podman runc debootstrap uidmap  # container tests (see DESIGN.md for the podman settings)
    libpam-google-authenticator libpam-oath  # the incumbents, for side-by-side benchmarks
  )
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "missing packages: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
