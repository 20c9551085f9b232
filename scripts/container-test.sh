#!/usr/bin/env bash
# The container suite: pam_otp installed in a real Debian system and driven through pamtester,
# a real sshd with a real OpenSSH client, and sudo on a pseudo-terminal, with syslog captured
# and checked. Root; podman (or docker where that is what the machine has); no image registry:
# the Debian base image is debootstrap'd locally once and reused (scripts/lib/container.sh).
#
#   sudo scripts/container-test.sh                  bookworm, then trixie if its image builds
#   sudo scripts/container-test.sh --dist bookworm  only bookworm (comma-separated list)
#   sudo scripts/container-test.sh --only 'sshd|sudo'   only scenarios whose id matches
#   scripts/container-test.sh --list                the scenarios
#   CT_IMAGE_REPO=localhost/pam-otp-test-mine sudo -E scripts/container-test.sh ...
#                                                   images of its own (another checkout's run keeps its tags)
#
# Options:
#   --dist LIST      Debian releases to test (default bookworm,trixie). A release named here
#                    must build; with the default, trixie is skipped (not failed) when its
#                    image cannot be built.
#   --module PATH    test this pam_otp.so (libpam_otp_redis.so must be beside it) instead of
#                    building with cargo build --release
#   --only REGEX     run only the scenarios whose id matches
#   --rebuild-base   debootstrap the base images again instead of reusing them
#   --keep           leave the test containers running afterwards, for a look inside
#
# Prints one line per scenario and closes with "N passed, N failed"; exits non-zero when
# anything failed. The scenarios themselves: tests/container/bin/run-scenarios.
set -euo pipefail
# shellcheck source=scripts/lib/container.sh
source "$(dirname "$0")/lib/container.sh"

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

dists=bookworm,trixie
dists_given=false
module=
only=
rebuild_base=false
keep=false
while [[ $# -gt 0 ]]; do
  case $1 in
    --dist) dists=${2:?--dist needs a list}; dists_given=true; shift 2 ;;
    --module) module=${2:?--module needs a path}; shift 2 ;;
    --only) only=${2:?--only needs a regular expression}; shift 2 ;;
    --rebuild-base) rebuild_base=true; shift ;;
    --keep) keep=true; shift ;;
    --list) exec bash "$CT_REPO/tests/container/bin/run-scenarios" --list ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done

ct_require_root "$@"
t0=$(date +%s)
ct_setup_engine
ct_log "engine: ${CT_ENGINE[*]} ($("${CT_ENGINE[0]}" --version 2>/dev/null | head -n 1))"
ct_build_module "$module"
ct_log "module: $CT_MODULE${CT_CLI:+ (with $CT_CLI)}"
ct_stage_context

containers=()
cleanup() {
  ct_cleanup_stage
  if [[ $keep == false && ${#containers[@]} -gt 0 ]]; then
    ct rm -f "${containers[@]}" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

passed=0
failed=0
notes=()

# run_dist DIST: one container, every scenario; adds to the counters.
run_dist() {
  local dist=$1 name="pam-otp-test-$1-$$" line word rest versions last=none done_seen=false
  ct run -d --name "$name" --hostname pam-otp-test --network none \
    "${CT_RUN_OPTS[@]}" "$CT_IMAGE_REPO:$dist" >/dev/null
  containers+=("$name")
  if ! ct_wait_ready "$name"; then
    echo "FAIL [$dist] container: did not start"
    failed=$((failed + 1))
    return
  fi
  # shellcheck disable=SC2016 # a dpkg-query format, not a shell expansion
  versions=$(ct exec "$name" dpkg-query -W -f '${Package} ${Version}, ' \
    libpam-modules openssh-server sudo </dev/null 2>/dev/null || true)
  ct_log "[$dist] Debian $(ct exec "$name" cat /etc/debian_version </dev/null): ${versions%, }"
  ct_log "[$dist] pam_otp installed $(ct exec "$name" cat /etc/pam-otp-tests/install-method </dev/null)"
  while IFS= read -r line; do
    word=${line%% *}
    rest=${line#* }
    case $word in
      PASS)
        last=${rest%% *}
        printf 'ok   [%s] %s: %s\n' "$dist" "$last" "${rest#* }"
        passed=$((passed + 1))
        ;;
      FAIL)
        last=${rest%% *}
        printf 'FAIL [%s] %s: %s\n' "$dist" "$last" "${rest#* }"
        failed=$((failed + 1))
        ;;
      SKIP)
        last=${rest%% *}
        printf 'skip [%s] %s: %s\n' "$dist" "$last" "${rest#* }"
        notes+=("$dist $last skipped")
        ;;
      DONE) done_seen=true ;;
      *) printf '%s\n' "$line" ;;
    esac
  done < <(ct exec "$name" /usr/local/lib/pam-otp-tests/run-scenarios "$only" </dev/null 2>&1)
  if [[ $done_seen == false ]]; then
    echo "FAIL [$dist] run-scenarios ended early (after: $last)"
    failed=$((failed + 1))
  fi
  if [[ $keep == true ]]; then
    ct_log "[$dist] kept: ${CT_ENGINE[*]} exec -it $name bash   (then: ${CT_ENGINE[0]} rm -f $name)"
  fi
}

IFS=, read -r -a dist_list <<<"$dists"
for dist in "${dist_list[@]}"; do
  required=false
  [[ $dist == bookworm || $dists_given == true ]] && required=true
  t_dist=$(date +%s)
  if ! ct_ensure_base "$dist" "$rebuild_base" || ! ct_build_image "$dist"; then
    if [[ $required == true ]]; then
      echo "FAIL [$dist] image: could not build the test image (logs in $CT_LOGDIR)"
      failed=$((failed + 1))
    else
      echo "skip [$dist] image: could not build the test image; $dist not tested (logs in $CT_LOGDIR)"
      notes+=("$dist skipped: no image")
    fi
    continue
  fi
  t_image=$(date +%s)
  ct_log "[$dist] images ready in $((t_image - t_dist)) s"
  run_dist "$dist"
  ct_log "[$dist] scenarios ran in $(($(date +%s) - t_image)) s"
done

ct_log "total time $(($(date +%s) - t0)) s${notes[*]:+; ${notes[*]}}"
echo "$passed passed, $failed failed"
[[ $failed -eq 0 && $passed -gt 0 ]]
