#!/usr/bin/env bash
# The Debian package in a clean system: builds libpam-otp_*.deb with cargo-deb, installs it
# into a fresh container made from the debootstrap'd bookworm base (no pam_otp in it),
# authenticates through the system's own common-auth after `pam-auth-update --enable`, then
# removes and purges it and checks that password logins still work.
# Root; podman (see scripts/lib/container.sh). One line per scenario, then "N passed, N failed".
set -euo pipefail
# shellcheck source=scripts/lib/container.sh
source "$(dirname "$0")/lib/container.sh"

ct_require_root "$@"
ct_setup_engine
dist=bookworm
image=localhost/pam-otp-debtest:$dist
name=pam-otp-debtest-$$

if ! command -v cargo >/dev/null && [[ -x ${HOME:-/root}/.cargo/bin/cargo ]]; then
  PATH=${HOME:-/root}/.cargo/bin:$PATH
fi
command -v cargo-deb >/dev/null || ct_die "cargo-deb is missing: run scripts/install-deps.sh --all"
ct_log "building the package: cargo build --release && cargo deb --no-build --multiarch=same"
(cd "$CT_REPO" && cargo build --release --locked --quiet &&
  rm -rf target/debian && cargo deb --no-build --multiarch=same --quiet) ||
  ct_die "building the .deb failed"
deb=$(ls "$CT_REPO"/target/debian/libpam-otp_*.deb)

ct_ensure_base "$dist" false || ct_die "no $dist base image"
log=$CT_LOGDIR/debtest-image.log
ct_log "[$dist] package-test image $image: building (log: $log)"
ct build "${CT_BUILD_OPTS[@]}" "${CT_RUN_OPTS[@]}" --build-arg "BASE=$CT_BASE_REPO:$dist" \
  -f "$CT_REPO/tests/container/Containerfile.deb" -t "$image" "$CT_REPO/tests/container" \
  >"$log" 2>&1 || { tail -n 20 "$log" >&2; ct_die "package-test image build failed"; }
ct image prune -f --filter label=org.pam-otp.deb-test-image=1 >>"$log" 2>&1 || true

trap 'ct rm -f "$name" >/dev/null 2>&1 || true' EXIT
ct run -d --name "$name" --network none "${CT_RUN_OPTS[@]}" "$image" >/dev/null
ct cp "$deb" "$name:/tmp/libpam-otp.deb"

passed=0 failed=0 done_seen=false
while IFS= read -r line; do
  case ${line%% *} in
    PASS) passed=$((passed + 1)); rest=${line#PASS }; printf 'ok   [deb] %s: %s\n' "${rest%% *}" "${rest#* }" ;;
    FAIL) failed=$((failed + 1)); rest=${line#FAIL }; printf 'FAIL [deb] %s: %s\n' "${rest%% *}" "${rest#* }" ;;
    DONE) done_seen=true ;;
    *) printf '      %s\n' "$line" ;;
  esac
done < <(ct exec "$name" /usr/local/lib/pam-otp-tests/deb-scenarios /tmp/libpam-otp.deb </dev/null 2>&1)
if [[ $done_seen == false ]]; then
  echo "FAIL [deb] deb-scenarios ended early"
  failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
[[ $failed -eq 0 && $passed -gt 0 ]]
