# Shared by scripts/container-test.sh and scripts/try.sh (sourced, not run): the container
# engine, the locally built Debian base image, the module build and the pam_otp test image.
#
# No image registry is needed: the base image is a debootstrap'd Debian imported into the
# engine, built once per release and reused until --rebuild-base. Everything the image build
# logs goes to target/container/<name>.log.
#
# Environment (all optional):
#   ENGINE          podman or docker (default: podman if installed, else a running docker)
#   DEBIAN_MIRROR   mirror for debootstrap (default: the host's own Debian mirror from
#                   /etc/apt/sources.list(.d), else http://deb.debian.org/debian)
# shellcheck shell=bash

CT_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CT_LOGDIR=$CT_REPO/target/container
CT_BASE_REPO=localhost/pam-otp-base
# The test image's name; CT_IMAGE_REPO=... in the environment keeps a second checkout's run from
# retagging the images another run is using.
CT_IMAGE_REPO=${CT_IMAGE_REPO:-localhost/pam-otp-test}
# The state file the test container's entrypoint creates once syslogd and sshd are up.
CT_READY=/run/pam-otp-tests.ready

ENGINE=${ENGINE:-}
CT_ENGINE=()     # the engine command, with global options
CT_RUN_OPTS=()   # extra options for run and build (limits, when containers.conf lacks them)
CT_BUILD_OPTS=() # extra options for build
CT_MODULE=       # the built pam_otp module
CT_CLI=          # the built pam-otp command, if any
CT_DELIVER=      # the built delivery helper, pam-otp-deliver, if any
CT_REDIS_LIBRARY= # the built Redis client library (libpam_otp_redis.so), beside CT_MODULE
CT_STAGE=        # the assembled build context

ct_log() { printf '%s\n' "$*" >&2; }
ct_die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

ct_require_root() {
  [[ $(id -u) -eq 0 ]] || ct_die "run as root (podman builds and runs the test image as root): sudo $0 $*"
}

# ct_apt_install PACKAGE...: installs the Debian packages that are missing.
ct_apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  command -v apt-get >/dev/null || ct_die "missing ${missing[*]} and no apt-get to install them"
  ct_log "installing ${missing[*]} (apt-get; log: $CT_LOGDIR/apt.log)"
  mkdir -p "$CT_LOGDIR"
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
    >>"$CT_LOGDIR/apt.log" 2>&1; then
    tail -n 15 "$CT_LOGDIR/apt.log" >&2
    ct_die "apt-get could not install ${missing[*]}"
  fi
}

# Podman needs runc and explicit limits here (crun fails on hybrid cgroups; runc cannot raise
# the inherited rlimits): write containers.conf when there is none, and pass the same
# settings on the command line when an existing one lacks them.
ct_setup_podman() {
  local conf=/etc/containers/containers.conf
  ct_apt_install podman runc
  if [[ ! -e $conf ]]; then
    mkdir -p /etc/containers
    cat >"$conf" <<'EOF'
# Written by pam_otp's scripts/lib/container.sh (the container tests need these two settings
# on hosts with hybrid cgroups: crun fails there, and runc cannot raise inherited rlimits).
[engine]
runtime = "runc"

[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
EOF
    ct_log "wrote $conf (runtime runc, explicit ulimits)"
  fi
  CT_ENGINE=(podman)
  if ! grep -Eq '^[[:space:]]*runtime[[:space:]]*=[[:space:]]*"runc"' "$conf"; then
    CT_ENGINE+=(--runtime runc)
  fi
  if ! grep -Eq '^[[:space:]]*default_ulimits' "$conf"; then
    CT_RUN_OPTS+=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
  fi
  # Build steps use the host's network: no bridge (CNI, iptables) is needed for apt-get.
  CT_BUILD_OPTS+=(--network host)
}

ct_setup_engine() {
  case ${ENGINE:-} in
    podman) ct_setup_podman ;;
    docker) CT_ENGINE=(docker) ;;
    "")
      if command -v podman >/dev/null; then
        ENGINE=podman
      elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then
        ENGINE=docker
      else
        ENGINE=podman
      fi
      ct_setup_engine
      return
      ;;
    *) ct_die "ENGINE must be podman or docker, not '$ENGINE'" ;;
  esac
  if [[ $ENGINE == docker ]]; then
    docker info >/dev/null 2>&1 || ct_die "docker is installed but its engine is not running"
  fi
  mkdir -p "$CT_LOGDIR"
}

ct() { "${CT_ENGINE[@]}" "$@"; }

ct_image_exists() { ct image inspect "$1" >/dev/null 2>&1; }

ct_container_exists() { ct container inspect "$1" >/dev/null 2>&1; }

# The host's Debian mirror (not the security archive, not a third-party repository).
ct_debian_mirror() {
  if [[ -n ${DEBIAN_MIRROR:-} ]]; then
    echo "$DEBIAN_MIRROR"
    return
  fi
  local mirror
  mirror=$(
    {
      cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) { print $i " " $(i + 1); break } }'
      cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
        awk 'BEGIN { RS = ""; FS = "\n" }
             { uri = ""; suites = ""; enabled = 1
               for (i = 1; i <= NF; i++) {
                 if ($i ~ /^URIs:/) { split($i, a, /[ \t]+/); uri = a[2] }
                 if ($i ~ /^Suites:/) { split($i, a, /[ \t]+/); suites = a[2] }
                 if ($i ~ /^Enabled:[ \t]*no/) enabled = 0
               }
               if (uri != "" && enabled) print uri " " suites }'
    } | awk '$2 !~ /-/ && $1 ~ /^https?:\/\/.*\/debian\/?$/ { print $1; exit }'
  )
  echo "${mirror:-http://deb.debian.org/debian}"
}

# ct_ensure_base DIST [rebuild]: the debootstrap'd base image for a Debian release, built
# only when it is not there yet (or when asked to rebuild).
ct_ensure_base() {
  local dist=$1 rebuild=${2:-false} image="$CT_BASE_REPO:$1" tmp mirror log rc=0
  if [[ $rebuild != true ]] && ct_image_exists "$image"; then
    ct_log "[$dist] base image $image: cached, reused"
    return 0
  fi
  ct_apt_install debootstrap
  mirror=$(ct_debian_mirror)
  log=$CT_LOGDIR/base-$dist.log
  ct_log "[$dist] base image $image: debootstrap --variant=minbase $dist from $mirror (log: $log)"
  tmp=$(mktemp -d /var/tmp/pam-otp-rootfs.XXXXXX)
  if debootstrap --variant=minbase "$dist" "$tmp/rootfs" "$mirror" >"$log" 2>&1; then
    tar -C "$tmp/rootfs" --numeric-owner -c . |
      ct import --change 'CMD ["/bin/bash"]' - "$image" >>"$log" 2>&1 || rc=$?
  else
    rc=$?
  fi
  # debootstrap mounts /proc and /sys inside the tree; never let rm walk into them.
  findmnt -rno TARGET | grep -F "$tmp/" | sort -r | xargs -r umount -l || true
  rm -rf --one-file-system "$tmp"
  if [[ $rc -ne 0 ]]; then
    ct_log "[$dist] base image build failed (status $rc); last lines of $log:"
    tail -n 15 "$log" | sed 's/^/    /' >&2
    return 1
  fi
}

# ct_build_module [MODULE-PATH]: the module to install (built with cargo unless given), and the
# pam-otp command when the tree has one and it builds.
ct_build_module() {
  local given=${1:-}
  if [[ -n $given ]]; then
    [[ -f $given ]] || ct_die "no module at $given"
    CT_MODULE=$(readlink -f "$given")
    CT_REDIS_LIBRARY=$(dirname "$CT_MODULE")/libpam_otp_redis.so
    [[ -f $CT_REDIS_LIBRARY ]] ||
      ct_die "no libpam_otp_redis.so beside $given (cargo builds it with the module)"
    [[ -f $(dirname "$CT_MODULE")/pam-otp ]] && CT_CLI=$(dirname "$CT_MODULE")/pam-otp
    [[ -f $(dirname "$CT_MODULE")/pam-otp-deliver ]] && CT_DELIVER=$(dirname "$CT_MODULE")/pam-otp-deliver
    return 0
  fi
  if ! command -v cargo >/dev/null && [[ -x ${HOME:-/root}/.cargo/bin/cargo ]]; then
    PATH=${HOME:-/root}/.cargo/bin:$PATH
  fi
  command -v cargo >/dev/null || ct_die "cargo not found: install a Rust toolchain, or pass --module PATH"
  ct_log "building the module: cargo build --release --lib"
  (cd "$CT_REPO" && cargo build --release --lib --quiet) || ct_die "cargo build --release --lib failed"
  CT_MODULE=$CT_REPO/target/release/libpam_otp.so
  [[ -f $CT_MODULE ]] || ct_die "cargo did not produce $CT_MODULE"
  # The Redis client library the module loads for store=redis (crates/redis-module).
  CT_REDIS_LIBRARY=$CT_REPO/target/release/libpam_otp_redis.so
  [[ -f $CT_REDIS_LIBRARY ]] || ct_die "cargo did not produce $CT_REDIS_LIBRARY"
  # The pam-otp command: the scenarios enroll, unlock and check with it.
  (cd "$CT_REPO" && cargo build --release --bins --quiet) >"$CT_LOGDIR/cargo-bins.log" 2>&1 ||
    ct_die "cargo build --release --bins failed (see $CT_LOGDIR/cargo-bins.log)"
  CT_CLI=$CT_REPO/target/release/pam-otp
  [[ -f $CT_REPO/target/release/pam-otp-deliver ]] && CT_DELIVER=$CT_REPO/target/release/pam-otp-deliver
  return 0
}

# The build context: the Containerfile, tests/container/, and the parts of the repository the
# install step uses, with the built module (and command) under src/target/release/.
ct_stage_context() {
  local p
  CT_STAGE=$(mktemp -d /var/tmp/pam-otp-stage.XXXXXX)
  cp "$CT_REPO/tests/container/Containerfile" "$CT_STAGE/"
  cp -a "$CT_REPO/tests/container" "$CT_STAGE/container"
  # The fake SMS/voice/push providers of the provider-* scenarios, beside the other helpers.
  install -m 0755 "$CT_REPO/crates/testkit/fakes/providers.py" "$CT_STAGE/container/bin/fake-providers"
  mkdir -p "$CT_STAGE/src/target/release"
  for p in scripts/install.sh README.md man pam.d examples packaging; do
    if [[ -e $CT_REPO/$p ]]; then
      (cd "$CT_REPO" && cp -a --parents "$p" "$CT_STAGE/src/")
    fi
  done
  install -m 0644 "$CT_MODULE" "$CT_STAGE/src/target/release/libpam_otp.so"
  install -m 0644 "$CT_REDIS_LIBRARY" "$CT_STAGE/src/target/release/libpam_otp_redis.so"
  if [[ -n $CT_CLI ]]; then install -m 0755 "$CT_CLI" "$CT_STAGE/src/target/release/pam-otp"; fi
  if [[ -n $CT_DELIVER ]]; then
    install -m 0755 "$CT_DELIVER" "$CT_STAGE/src/target/release/pam-otp-deliver"
  fi
  # Modes as the image must have them, whatever the checkout's umask was.
  chmod -R u=rwX,go=rX "$CT_STAGE"
}

ct_cleanup_stage() {
  if [[ -n $CT_STAGE && -d $CT_STAGE ]]; then rm -rf --one-file-system "$CT_STAGE"; fi
  CT_STAGE=
}

# ct_build_image DIST: the test image on top of the base image (cached layers are reused).
ct_build_image() {
  local dist=$1 log=$CT_LOGDIR/image-$1.log
  ct_log "[$dist] test image $CT_IMAGE_REPO:$dist: building (log: $log)"
  if ! ct build "${CT_BUILD_OPTS[@]}" "${CT_RUN_OPTS[@]}" --build-arg "BASE=$CT_BASE_REPO:$dist" \
    -f "$CT_STAGE/Containerfile" -t "$CT_IMAGE_REPO:$dist" "$CT_STAGE" >"$log" 2>&1; then
    ct_log "[$dist] test image build failed; last lines of $log:"
    tail -n 20 "$log" | sed 's/^/    /' >&2
    return 1
  fi
  # The copies this build superseded (untagged now), not other images.
  ct image prune -f --filter label=org.pam-otp.test-image=1 >>"$log" 2>&1 || true
}

# ct_wait_ready NAME: waits for the container's entrypoint to have started syslogd and sshd.
ct_wait_ready() {
  local _
  for _ in $(seq 100); do
    ct exec "$1" test -e "$CT_READY" </dev/null >/dev/null 2>&1 && return 0
    if [[ $(ct container inspect -f '{{.State.Running}}' "$1" 2>/dev/null) != true ]]; then break; fi
    sleep 0.2
  done
  ct_log "container $1 did not become ready; its output:"
  ct logs "$1" 2>&1 | tail -n 20 | sed 's/^/    /' >&2
  return 1
}
