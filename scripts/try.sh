#!/usr/bin/env bash
# Try pam_otp in a throw-away container: builds the module and the Debian test image, starts
# sshd (pam.d/sshd: public key + one-time code) on a loopback port, enrolls a demo user
# (QR code for your phone) and prints the exact ssh command to log in with a code.
# Nothing on this machine's own PAM or sshd configuration is touched: the container has its
# own /etc, and its sshd listens on 127.0.0.1 only.
#
#   sudo scripts/try.sh              start; follows pam_otp's log until Ctrl-C, which cleans up
#   sudo scripts/try.sh --detach     start and leave it running in the background
#   sudo scripts/try.sh --stop       stop and remove it (container and demo key)
#
# Options:
#   --port N         loopback port for sshd (default 2222)
#   --dist NAME      Debian release of the container: bookworm (default) or trixie
#   --module PATH    use this pam_otp.so instead of building with cargo build --release
set -euo pipefail
# shellcheck source=scripts/lib/container.sh
source "$(dirname "$0")/lib/container.sh"

NAME=pam-otp-try
USER_NAME=demo
# The demo's private key and known_hosts; only root can create entries in /run.
STATE=/run/pam-otp-try
HELPERS=/usr/local/lib/pam-otp-tests

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

action=start
detach=false
port=2222
dist=bookworm
module=
while [[ $# -gt 0 ]]; do
  case $1 in
    --stop) action=stop; shift ;;
    --detach) detach=true; shift ;;
    --port) port=${2:?--port needs a number}; shift 2 ;;
    --dist) dist=${2:?--dist needs a release name}; shift 2 ;;
    --module) module=${2:?--module needs a path}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
[[ $port =~ ^[0-9]+$ && $port -ge 1 && $port -le 65535 ]] || ct_die "--port: not a port number: $port"

ct_require_root "$@"

stop() {
  if ct_container_exists "$NAME"; then
    ct rm -f "$NAME" >/dev/null
    echo "removed container $NAME"
  fi
  rm -rf --one-file-system "$STATE"
}

if [[ $action == stop ]]; then
  if ! command -v podman >/dev/null && ! command -v docker >/dev/null; then
    rm -rf --one-file-system "$STATE"
    exit 0
  fi
  ct_setup_engine
  stop
  exit 0
fi

# Who will run ssh: the user behind sudo, so that the key is theirs to read.
owner=root
if [[ -n ${SUDO_USER:-} ]] && id "$SUDO_USER" >/dev/null 2>&1; then owner=$SUDO_USER; fi

ct_setup_engine
if ct_container_exists "$NAME"; then
  echo "an earlier $NAME is still there: replacing it"
  stop
fi
if ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
  ct_die "port $port is in use on this machine; choose another with --port N"
fi

ct_build_module "$module"
ct_stage_context
trap ct_cleanup_stage EXIT
ct_ensure_base "$dist" || ct_die "could not build the $dist base image"
ct_build_image "$dist" || ct_die "could not build the test image"
ct_cleanup_stage

# From here on, a failure removes what was started.
started=false
# shellcheck disable=SC2317 # run by the EXIT trap
on_exit() {
  local rc=$?
  if [[ $started == false || $detach == false ]]; then stop >/dev/null 2>&1 || true; fi
  exit "$rc"
}
trap on_exit EXIT

# The host's network namespace, so that sshd can listen on this machine's loopback without
# any port forwarding (no bridge, no firewall rules); it binds 127.0.0.1:$port and nothing else.
# (Docker refuses a hostname of its own with the host's network.)
hostname_opt=()
[[ $ENGINE == podman ]] && hostname_opt=(--hostname "$NAME")
ct run -d --name "$NAME" "${hostname_opt[@]}" --network host "${CT_RUN_OPTS[@]}" \
  "$CT_IMAGE_REPO:$dist" -p "$port" -o ListenAddress=127.0.0.1 >/dev/null
ct_wait_ready "$NAME" || ct_die "the container did not start"

in_container() { ct exec "$NAME" "$@" </dev/null; }

password=$(head -c 12 /dev/urandom | base64 | tr -d '/+=' | cut -c1-12)
in_container useradd -m -s /bin/bash -G sudo "$USER_NAME"
printf '%s:%s\n' "$USER_NAME" "$password" | ct exec -i "$NAME" chpasswd
# A key pair for the demo only: the public half authorised in the container, the private half
# copied out for you (and kept in the container for the ssh client there).
in_container ssh-keygen -q -t ed25519 -N '' -C "pam-otp-try demo" -f /root/demo_key
in_container install -d -m 0700 -o "$USER_NAME" -g "$USER_NAME" "/home/$USER_NAME/.ssh"
in_container install -m 0600 -o "$USER_NAME" -g "$USER_NAME" /root/demo_key.pub \
  "/home/$USER_NAME/.ssh/authorized_keys"
rm -rf --one-file-system "$STATE"
install -d -m 0700 -o "$owner" "$STATE"
in_container cat /root/demo_key >"$STATE/id_ed25519"
chmod 0600 "$STATE/id_ed25519"
chown "$owner" "$STATE/id_ed25519"

echo
echo "== Enrolling user '$USER_NAME'"
tty_opt=()
[[ -t 0 && -t 1 ]] && tty_opt=(-t)
ct exec "${tty_opt[@]}" "$NAME" "$HELPERS/enroll-demo" "$USER_NAME" </dev/null
started=true

engine=${CT_ENGINE[0]}
cat <<EOF

== pam_otp demo is running: container $NAME, sshd on 127.0.0.1:$port ($dist)

1. Scan the QR code above with an authenticator app (Aegis, FreeOTP, Google Authenticator, ...).
2. Log in with the demo key, then type the code your app shows:

     ssh -p $port -i $STATE/id_ed25519 -o IdentitiesOnly=yes -o UserKnownHostsFile=$STATE/known_hosts -o StrictHostKeyChecking=accept-new $USER_NAME@127.0.0.1

   (no ssh client here? sudo $engine exec -it $NAME ssh -p $port -i /root/demo_key -o StrictHostKeyChecking=accept-new $USER_NAME@127.0.0.1)
   No phone at hand? The current code: sudo $engine exec $NAME $HELPERS/otp-code $USER_NAME
3. Inside, "sudo -k true" asks for $USER_NAME's password ($password), then a code (pam.d/sudo).
   Each code works once: a second login needs the app's next code.

All of the container's log: sudo $engine exec $NAME tail -f /var/log/messages
EOF

if [[ $detach == true ]]; then
  echo "Stop and remove it with: sudo $0 --stop"
  exit 0
fi

echo "pam_otp's log lines follow. Ctrl-C stops and removes the container (or: sudo $0 --stop)."
echo
follow_pid=
cleanup_and_exit() {
  trap - INT TERM EXIT
  [[ -n $follow_pid ]] && kill "$follow_pid" 2>/dev/null
  echo
  stop
  exit 0
}
trap cleanup_and_exit INT TERM
trap on_exit EXIT
ct exec "$NAME" sh -c 'tail -n 0 -F /var/log/messages | grep --line-buffered -E "pam_otp|Accepted keyboard|Failed "' \
  </dev/null &
follow_pid=$!
# Until Ctrl-C, or until someone runs --stop (the log follower then ends).
wait "$follow_pid" || true
follow_pid=
if ! ct_container_exists "$NAME"; then
  trap - EXIT
  echo "the container was removed"
  exit 0
fi
cleanup_and_exit
