#!/usr/bin/env bash
# The fleet container test: two real hosts sharing one Redis. Two containers from the container
# suite's image (tests/container/Containerfile), each with its own sshd, its own syslog and its
# own /etc/passwd, on the host's network; one redis-server started here on a free loopback port
# in a temporary directory, with an ACL user whose keys are limited to this run's namespace and
# the anonymous user switched off. Each container's /etc/security/pam_otp.conf says store=redis
# and names a root 0600 password file. Every user exists on both hosts under the same name with
# DIFFERENT uids (state is keyed by name) and the same secret file; codes come from oathtool.
# A real OpenSSH client (key + keyboard-interactive) logs in to either sshd.
#
#   sudo scripts/fleet-container-test.sh                 bookworm
#   sudo scripts/fleet-container-test.sh --module target/debug/libpam_otp.so
#   scripts/fleet-container-test.sh --list               the scenarios
#   CT_IMAGE_REPO=localhost/pam-otp-test-mine sudo -E scripts/fleet-container-test.sh ...
#
# Options:
#   --dist NAME      Debian release of the image (default bookworm)
#   --module PATH    test this pam_otp.so (and the pam-otp and libpam_otp_redis.so beside it)
#                    instead of building with cargo build --release
#   --only REGEX     run only the scenarios whose id matches
#   --rebuild-base   debootstrap the base image again instead of reusing it
#   --keep           leave the containers and redis-server running afterwards, for a look inside
#
# Prints one line per scenario and closes with "N passed, N failed"; exits non-zero when
# anything failed. Containers and redis-server are removed on exit, however it exits.
set -euo pipefail
# shellcheck source=scripts/lib/container.sh
source "$(dirname "$0")/lib/container.sh"

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

FLEET=/run/pam-otp-fleet         # this test's files inside each container
MAX_FAILURES=3
LOCKOUT=300 # long enough that no lock-out ends by itself while the test runs
CODE_PROMPT='One-time code: '
# One value in a pam_otp line (pam_otp(8), LOGGING), as tests/container/bin/run-scenarios has it.
LOG_VALUE='("([^"\]|\\.)*"|[^ "\=]+)'

SCENARIOS=(
  "store-check|pam-otp store check on A and on B: both reach the shared Redis as the ACL user with the password file; anonymous access is refused|sc_store_check"
  "replay-across-hosts|ssh to A with a code logs in; the same code on B is refused (B logs replay); a newer code on B logs in and is then refused on A (replay)|sc_replay_across_hosts"
  "failures-add-up|max_failures=$MAX_FAILURES: 2 wrong codes on A + 1 on B lock the user out (B logs 3 of 3); the right code on A is then refused (A logs locked)|sc_failures_add_up"
  "unlock-on-b|a lock-out caused on A holds on B (locked); pam-otp unlock on B clears it; a fresh code logs in on A|sc_unlock_on_b"
  "state-by-name|Redis holds one hash per user name in this run's namespace; neither host has a local state file for its uid|sc_state_by_name"
  "no-secrets-logged|no code, secret or Redis password in either host's syslog or in the Redis log|sc_no_secrets_logged"
)

dist=bookworm
module=
only=
rebuild_base=false
keep=false
while [[ $# -gt 0 ]]; do
  case $1 in
    --dist) dist=${2:?--dist needs a release name}; shift 2 ;;
    --module) module=${2:?--module needs a path}; shift 2 ;;
    --only) only=${2:?--only needs a regular expression}; shift 2 ;;
    --rebuild-base) rebuild_base=true; shift ;;
    --keep) keep=true; shift ;;
    --list)
      for s in "${SCENARIOS[@]}"; do
        IFS='|' read -r id desc _ <<<"$s"
        printf '%-22s %s\n' "$id" "$desc"
      done
      exit 0
      ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done

ct_require_root "$@"
t0=$(date +%s)
ct_apt_install redis-server redis-tools oathtool iproute2
ct_setup_engine
ct_log "engine: ${CT_ENGINE[*]} ($("${CT_ENGINE[0]}" --version 2>/dev/null | head -n 1))"
ct_build_module "$module"
[[ -n $CT_CLI ]] || ct_die "no pam-otp command beside $CT_MODULE: the fleet test needs it (unlock, store check)"
ct_log "module: $CT_MODULE (with $CT_CLI)"
ct_stage_context

RUN_ID="$$-$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
NAMESPACE="pam_otp_fleet_${RUN_ID}:"
NAME_A=pam-otp-fleet-a-$$
NAME_B=pam-otp-fleet-b-$$
TMP=$(mktemp -d /var/tmp/pam-otp-fleet.XXXXXX)
chmod 0700 "$TMP"
REDIS_PID=
containers=()

cleanup() {
  ct_cleanup_stage
  if [[ $keep == true ]]; then
    ct_log "kept: ${CT_ENGINE[*]} exec -it $NAME_A bash / $NAME_B bash; redis-server pid ${REDIS_PID:-none} in $TMP"
    ct_log "  (then: ${CT_ENGINE[0]} rm -f $NAME_A $NAME_B; kill ${REDIS_PID:-}; rm -rf $TMP)"
    return
  fi
  if [[ ${#containers[@]} -gt 0 ]]; then ct rm -f "${containers[@]}" >/dev/null 2>&1 || true; fi
  if [[ -n $REDIS_PID ]]; then
    kill "$REDIS_PID" 2>/dev/null || true
    wait "$REDIS_PID" 2>/dev/null || true
  fi
  rm -rf --one-file-system "$TMP"
}
trap cleanup EXIT

# A loopback TCP port nobody listens on now (the caller retries when it is taken meanwhile).
free_port() {
  local p
  while :; do
    p=$(shuf -i 20000-60999 -n 1)
    ss -Hltn "sport = :$p" 2>/dev/null | grep -q . || break
  done
  echo "$p"
}

indent() { sed 's/^/    /'; }

random_b32() { head -c "$1" /dev/urandom | base32 | tr -d '=\n'; }

# Every code, secret and password used, one per line: none may appear in any log.
NEVER_LOGGED=$TMP/never-logged
never_log() { printf '%s\n' "$@" >>"$NEVER_LOGGED"; }
touch "$NEVER_LOGGED"

# ---- the shared Redis ------------------------------------------------------------------------

REDIS_USER=pam_otp
REDIS_PASSWORD=$(random_b32 24)
never_log "$REDIS_PASSWORD"
REDIS_DIR=$TMP/redis
mkdir -m 0700 "$REDIS_DIR"

rcli() { REDISCLI_AUTH=$REDIS_PASSWORD redis-cli --no-auth-warning -p "$REDIS_PORT" --user "$REDIS_USER" "$@"; }

start_redis() {
  local _ try
  for try in 1 2 3 4 5; do
    REDIS_PORT=$(free_port)
    # The anonymous user is off; the ACL user may touch only this run's keys.
    cat >"$REDIS_DIR/redis.conf" <<EOF
port $REDIS_PORT
bind 127.0.0.1
protected-mode no
daemonize no
dir $REDIS_DIR
logfile $REDIS_DIR/redis.log
save ""
appendonly no
user default off
user $REDIS_USER on >$REDIS_PASSWORD ~${NAMESPACE}* resetchannels +@all
EOF
    chmod 0600 "$REDIS_DIR/redis.conf"
    redis-server "$REDIS_DIR/redis.conf" </dev/null >>"$REDIS_DIR/redis.out" 2>&1 &
    REDIS_PID=$!
    for _ in $(seq 50); do
      [[ $(rcli PING 2>/dev/null) == PONG ]] && return 0
      kill -0 "$REDIS_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill "$REDIS_PID" 2>/dev/null || true
    wait "$REDIS_PID" 2>/dev/null || true
    REDIS_PID=
    ct_log "redis-server did not start on port $REDIS_PORT (try $try); its log:"
    tail -n 5 "$REDIS_DIR/redis.log" 2>/dev/null | sed 's/^/    /' >&2 || true
  done
  return 1
}

# ---- the two hosts ---------------------------------------------------------------------------

# on HOST CMD...: runs CMD in container A or B (stdin passed through).
on() {
  local host=$1
  shift
  case $host in
    A) ct exec -i "$NAME_A" "$@" ;;
    B) ct exec -i "$NAME_B" "$@" ;;
    *) ct_die "on: no host $host" ;;
  esac
}

# start_host A|B PORT: the container, with its sshd on 127.0.0.1:PORT of the host's network.
start_host() {
  local host=$1 port=$2 name
  [[ $host == A ]] && name=$NAME_A || name=$NAME_B
  ct run -d --name "$name" --hostname "fleet-${host,,}" --network host \
    "${CT_RUN_OPTS[@]}" "$CT_IMAGE_REPO:$dist" -p "$port" -o ListenAddress=127.0.0.1 >/dev/null
  containers+=("$name")
  ct_wait_ready "$name" && return 0
  ct_log "container $name: $(ct container inspect -f 'status {{.State.Status}}, exit code {{.State.ExitCode}} {{.State.Error}}' "$name" 2>&1)"
  return 1
}

# configure_host A|B: the password file (root 0600) and pam_otp.conf (root 0644) naming it.
configure_host() {
  local host=$1
  printf '%s\n' "$REDIS_PASSWORD" | on "$host" sh -c \
    'umask 077; install -d -m 0755 /etc/security && cat >/etc/security/pam_otp.redis &&
     chown root:root /etc/security/pam_otp.redis && chmod 0600 /etc/security/pam_otp.redis'
  on "$host" sh -c 'cat >/etc/security/pam_otp.conf && chmod 0644 /etc/security/pam_otp.conf' <<EOF
# Written by scripts/fleet-container-test.sh: every host of the fleet has this file.
store = redis
redis_url = redis://127.0.0.1:$REDIS_PORT
redis_user = $REDIS_USER
redis_password_file = /etc/security/pam_otp.redis
redis_namespace = $NAMESPACE
fail_mode = closed
max_failures = $MAX_FAILURES
lockout = $LOCKOUT
EOF
  on "$host" install -d -m 0700 "$FLEET"
}

# The client: a key pair made in A, accepted by every fleet user on both hosts, and a small
# ssh wrapper in A that reads the code on stdin (so it is in no command line).
setup_client() {
  on A ssh-keygen -q -t ed25519 -N '' -C pam-otp-fleet-client -f "$FLEET/client_ed25519"
  on A cat "$FLEET/client_ed25519.pub" >"$TMP/client.pub"
  on A sh -c "cat >$FLEET/ssh-login && chmod 0700 $FLEET/ssh-login" <<'EOF'
#!/bin/bash
# ssh-login USER PORT: key + keyboard-interactive to 127.0.0.1:PORT, answering every prompt
# with the code read from stdin; the prompts seen go to /run/pam-otp-fleet/prompts.
set -uo pipefail
IFS= read -r OTP_ANSWER
export OTP_ANSWER OTP_PROMPT_LOG=/run/pam-otp-fleet/prompts
: >"$OTP_PROMPT_LOG"
# shellcheck disable=SC2016 # expanded by the remote shell
SSH_ASKPASS=/usr/local/lib/pam-otp-tests/askpass SSH_ASKPASS_REQUIRE=force DISPLAY=:0 \
  setsid -w timeout 30 ssh -F /dev/null -i /run/pam-otp-fleet/client_ed25519 -o IdentitiesOnly=yes \
  -o BatchMode=no -o PreferredAuthentications=publickey,keyboard-interactive \
  -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
  -o NumberOfPasswordPrompts=1 -o ConnectTimeout=10 -p "$2" "$1@127.0.0.1" \
  'echo "logged in as $(id -un) uid $(id -u) on $(hostname)"' </dev/null
rc=$?
sed 's/^/prompt: /' "$OTP_PROMPT_LOG"
exit "$rc"
EOF
}

# ---- helpers for the scenarios (they run in a subshell: `fail` ends the scenario) ---------

fail() {
  printf '%s\n' "$*" >"$TMP/why"
  printf 'FAILED: %s\n' "$*" >&2
  exit 1
}

UID_A=3000
UID_B=4000
# fleet_user NAME: the account on A (uid 3xxx) and on B (uid 4xxx), the client's key in both,
# ~/.otp written on A with a fresh secret (left in $SECRET) and copied to B byte for byte.
fleet_user() {
  local user=$1 n
  n=$(($(cat "$TMP/users" 2>/dev/null || echo 0) + 1))
  echo "$n" >"$TMP/users"
  SECRET=$(random_b32 20)
  never_log "$SECRET"
  on A useradd -m -u "$((UID_A + n))" -s /bin/bash "$user"
  on B useradd -m -u "$((UID_B + n))" -s /bin/bash "$user"
  for host in A B; do
    on "$host" install -d -m 0700 -o "$user" -g "$user" "/home/$user/.ssh"
    on "$host" sh -c "cat >/home/$user/.ssh/authorized_keys &&
      chown $user: /home/$user/.ssh/authorized_keys && chmod 0600 /home/$user/.ssh/authorized_keys" \
      <"$TMP/client.pub"
  done
  printf '# pam_otp fleet test secret\nsecret = %s\n' "$SECRET" |
    on A sh -c "umask 077; cat >/home/$user/.otp && chown $user: /home/$user/.otp"
  on A cat "/home/$user/.otp" |
    on B sh -c "umask 077; cat >/home/$user/.otp && chown $user: /home/$user/.otp"
  on B cmp -s "/home/$user/.otp" - < <(on A cat "/home/$user/.otp") || fail "the secret file was not copied to B"
  echo "+ $user: uid $((UID_A + n)) on A, uid $((UID_B + n)) on B, same ~/.otp" >&2
}

# code_at SECRET UNIX-TIME: the TOTP code (oathtool, an independent implementation).
code_at() {
  local code
  code=$(oathtool --totp -b "$1" -N "@$2")
  never_log "$code"
  printf '%s\n' "$code"
}
code_now() { code_at "$1" "$(date +%s)"; }
code_next() { code_at "$1" "$(($(date +%s) + 30))"; }

# wrong_code SECRET: six digits that match no code from 3 steps before to 3 steps after now.
wrong_code() {
  local now near code d
  now=$(date +%s)
  near=" "
  for d in -90 -60 -30 0 30 60 90; do near+="$(oathtool --totp -b "$1" -N "@$((now + d))") "; done
  while :; do
    code=$(printf '%06d' "$(shuf -i 0-999999 -n 1)")
    [[ $near == *" $code "* ]] || break
  done
  never_log "$code"
  printf '%s\n' "$code"
}

port_of() { [[ $1 == A ]] && echo "$PORT_A" || echo "$PORT_B"; }

# ssh_login HOST USER CODE: the OpenSSH client (in A) to HOST's sshd; output in $TMP/last.
ssh_login() {
  local host=$1 user=$2 code=$3 rc=0
  echo "+ ssh $user@127.0.0.1 -p $(port_of "$host")   (host $host)" >&2
  printf '%s\n' "$code" | on A "$FLEET/ssh-login" "$user" "$(port_of "$host")" >"$TMP/last" 2>&1 || rc=$?
  sed 's/^/    /' "$TMP/last" >&2
  return "$rc"
}

# login_ok HOST USER CODE: logged in, on that host, as the user with that host's uid.
login_ok() {
  local host=$1 user=$2 uid
  ssh_login "$@" || fail "ssh to $host as $user with the right code was refused"
  uid=$(on "$host" id -u "$user")
  grep -qx "logged in as $user uid $uid on fleet-${host,,}" "$TMP/last" ||
    fail "the remote command did not run as $user (uid $uid) on fleet-${host,,}"
  grep -q "$CODE_PROMPT" "$TMP/last" || fail "$host's sshd never asked for the one-time code"
}

# login_refused HOST USER CODE
login_refused() {
  local host=$1
  if ssh_login "$@"; then fail "ssh to $host as $2 was accepted; expected a refusal"; fi
  grep -q 'Permission denied' "$TMP/last" || fail "ssh did not report 'Permission denied'"
  grep -q "$CODE_PROMPT" "$TMP/last" || fail "$host's sshd never asked for the one-time code"
}

# log_mark: remembers where both hosts' syslogs end now.
log_mark() {
  MARK_A=$(on A sh -c 'wc -l </var/log/messages' </dev/null)
  MARK_B=$(on B sh -c 'wc -l </var/log/messages' </dev/null)
}
log_since_mark() {
  local mark
  [[ $1 == A ]] && mark=$MARK_A || mark=$MARK_B
  on "$1" tail -n +"$((mark + 1))" /var/log/messages </dev/null
}

# expect_log HOST WORD USER [DETAIL-ERE]: pam_otp's line on that host since log_mark (waits up
# to 5 s: syslogd writes asynchronously).
expect_log() {
  local host=$1 word=$2 user=$3 detail=${4:-} re
  re="authpriv\.[a-z]+ [^ ]+: pam_otp\(sshd:auth\): $word rhost=127\.0\.0\.1 user=$user: .*$detail"
  for _ in $(seq 50); do
    log_since_mark "$host" | grep -Eq -- "$re" && return 0
    sleep 0.1
  done
  echo "host $host's syslog since the mark:" >&2
  log_since_mark "$host" | sed 's/^/    /' >&2
  fail "no '$word rhost=127.0.0.1 user=$user: ${detail:-...}' line from pam_otp(sshd:auth) on $host"
}

# no_log_for HOST USER: pam_otp logged nothing about USER on HOST since log_mark.
no_log_for() {
  sleep 0.5
  if log_since_mark "$1" | grep -E "pam_otp\([^)]*\): [a-z_]+ rhost=$LOG_VALUE user=$2: " >&2; then
    fail "pam_otp on $1 logged a line about $2; expected none"
  fi
}

# ---- scenarios -------------------------------------------------------------------------------

sc_store_check() {
  local host out
  for host in A B; do
    echo "+ ($host) pam-otp store check" >&2
    out=$(on "$host" pam-otp store check </dev/null 2>&1) || {
      echo "$out" >&2
      fail "pam-otp store check failed on $host"
    }
    indent <<<"$out" >&2
    grep -q "127.0.0.1:$REDIS_PORT" <<<"$out" || fail "store check on $host did not name the shared Redis"
    grep -q 'The shared store works' <<<"$out" || fail "store check on $host did not say the store works"
  done
  # The password file is what gets the hosts in: without it the server refuses.
  out=$(redis-cli --no-auth-warning -p "$REDIS_PORT" PING 2>&1 || true)
  echo "+ redis-cli PING (anonymous): $out" >&2
  [[ $out != PONG ]] || fail "the shared Redis answers anonymous clients"
}

sc_replay_across_hosts() {
  local code code2
  fleet_user fleetrep
  code=$(code_now "$SECRET")
  log_mark
  login_ok A fleetrep "$code"
  expect_log A ok fleetrep 'accepted time-based code'
  log_mark
  login_refused B fleetrep "$code"
  expect_log B replay fleetrep
  # B itself works, and what B accepted is used on A too.
  code2=$(code_next "$SECRET")
  log_mark
  login_ok B fleetrep "$code2"
  expect_log B ok fleetrep
  log_mark
  login_refused A fleetrep "$code2"
  expect_log A replay fleetrep
}

sc_failures_add_up() {
  fleet_user fleetfail
  log_mark
  login_refused A fleetfail "$(wrong_code "$SECRET")"
  expect_log A bad_code fleetfail "wrong code \(1 of $MAX_FAILURES failures\)"
  log_mark
  login_refused A fleetfail "$(wrong_code "$SECRET")"
  expect_log A bad_code fleetfail "wrong code \(2 of $MAX_FAILURES failures\)"
  log_mark
  login_refused B fleetfail "$(wrong_code "$SECRET")"
  expect_log B bad_code fleetfail "wrong code \($MAX_FAILURES of $MAX_FAILURES failures\)"
  expect_log B bad_code fleetfail 'locked out for [0-9]+ s'
  log_mark
  login_refused A fleetfail "$(code_now "$SECRET")"
  expect_log A locked fleetfail
}

sc_unlock_on_b() {
  local i code out
  fleet_user fleetunl
  log_mark
  for i in $(seq "$MAX_FAILURES"); do
    login_refused A fleetunl "$(wrong_code "$SECRET")"
    expect_log A bad_code fleetunl "\($i of $MAX_FAILURES failures\)"
  done
  expect_log A bad_code fleetunl 'locked out for [0-9]+ s'
  no_log_for B fleetunl
  code=$(code_now "$SECRET")
  log_mark
  login_refused B fleetunl "$code"
  expect_log B locked fleetunl
  echo "+ (B) pam-otp unlock fleetunl" >&2
  out=$(on B pam-otp unlock fleetunl </dev/null 2>&1) || {
    echo "$out" >&2
    fail "pam-otp unlock fleetunl failed on B"
  }
  indent <<<"$out" >&2
  grep -q '^Unlocked fleetunl (was locked out until' <<<"$out" ||
    fail "pam-otp unlock on B did not report the lock-out it cleared"
  log_mark
  login_ok A fleetunl "$code"
  expect_log A ok fleetunl
}

sc_state_by_name() {
  local keys user host uid
  keys=$(rcli --scan --pattern "${NAMESPACE}*" | sort)
  echo "keys in ${NAMESPACE}*:" >&2
  indent <<<"$keys" >&2
  for user in $(on A sh -c "getent passwd | awk -F: '\$1 ~ /^fleet/ {print \$1}'" </dev/null); do
    grep -qxF "${NAMESPACE}user:$user" <<<"$keys" || fail "no Redis key ${NAMESPACE}user:$user"
    [[ $(rcli TYPE "${NAMESPACE}user:$user") == hash ]] || fail "${NAMESPACE}user:$user is not a hash"
    for host in A B; do
      uid=$(on "$host" id -u "$user" </dev/null)
      if on "$host" test -e "/var/lib/pam_otp/$uid" </dev/null; then
        fail "$host has a local state file /var/lib/pam_otp/$uid for $user"
      fi
    done
  done
  if grep -vE "^${NAMESPACE}(user:fleet[a-z]+|decoy)$" <<<"$keys" | grep . >&2; then
    fail "keys in the namespace that are neither a fleet user's record nor the decoy"
  fi
  [[ $(rcli DBSIZE) -eq $(grep -c . <<<"$keys") ]] || fail "the server holds keys outside the namespace"
}

sc_no_secrets_logged() {
  local s found=0 n host
  for host in A B; do on "$host" cat /var/log/messages </dev/null >"$TMP/messages-$host"; done
  cp "$REDIS_DIR/redis.log" "$TMP/messages-redis"
  n=$(sort -u "$NEVER_LOGGED" | grep -c . || true)
  echo "checking $(cat "$TMP"/messages-* | wc -l) log lines for $n codes, secrets and passwords" >&2
  [[ $n -gt 1 ]] || fail "nothing recorded to look for"
  grep -q 'pam_otp(sshd:auth)' "$TMP/messages-A" || fail "A's syslog has no pam_otp line"
  while IFS= read -r s; do
    [[ -n $s ]] || continue
    if [[ $s =~ ^[0-9]+$ ]]; then
      grep -En "(^|[^0-9])$s([^0-9]|\$)" "$TMP"/messages-* >&2 || continue
    else
      grep -inF -- "$s" "$TMP"/messages-* >&2 || continue
    fi
    echo "  ^ contains '${s:0:2}…' (${#s} characters)" >&2
    found=$((found + 1))
  done < <(sort -u "$NEVER_LOGGED")
  [[ $found -eq 0 ]] || fail "$found secrets found in the logs"
}

# ---- run ---------------------------------------------------------------------------------

passed=0
failed=0
report_setup_failure() {
  echo "FAIL setup: $*"
  echo "0 passed, 1 failed"
  exit 1
}

if ! ct_ensure_base "$dist" "$rebuild_base" || ! ct_build_image "$dist"; then
  report_setup_failure "could not build the test image $CT_IMAGE_REPO:$dist (logs in $CT_LOGDIR)"
fi
start_redis || report_setup_failure "redis-server did not start (log: $REDIS_DIR/redis.log)"
ct_log "redis-server $(redis-server --version | grep -o 'v=[^ ]*') on 127.0.0.1:$REDIS_PORT, namespace $NAMESPACE"
# start_host_retry A|B: start_host on a free port, once more (fresh name, fresh port) when the
# container did not come up; sets PORT_A or PORT_B.
start_host_retry() {
  local host=$1 try port
  for try in 1 2; do
    port=$(free_port)
    while [[ $port == "${PORT_A:-}" ]]; do port=$(free_port); done
    if [[ $try -eq 2 ]]; then
      ct rm -f "$([[ $host == A ]] && echo "$NAME_A" || echo "$NAME_B")" >/dev/null 2>&1 || true
    fi
    if start_host "$host" "$port"; then
      [[ $host == A ]] && PORT_A=$port || PORT_B=$port
      return 0
    fi
    ct_log "host $host did not start (try $try)"
  done
  return 1
}
PORT_A=
PORT_B=
start_host_retry A || report_setup_failure "container A did not start"
start_host_retry B || report_setup_failure "container B did not start"
ct_log "host A: $NAME_A, sshd on 127.0.0.1:$PORT_A; host B: $NAME_B, sshd on 127.0.0.1:$PORT_B (--network host)"
{ configure_host A && configure_host B && setup_client; } >"$TMP/setup.log" 2>&1 </dev/null ||
  { cat "$TMP/setup.log" >&2; report_setup_failure "could not configure the hosts"; }

for s in "${SCENARIOS[@]}"; do
  IFS='|' read -r id desc fn <<<"$s"
  [[ -z $only || $id =~ $only ]] || continue
  rm -f "$TMP/why"
  rc=0
  (
    set -eE
    shopt -s inherit_errexit
    trap 'fail "command failed (status $?, line $LINENO): $BASH_COMMAND"' ERR
    "$fn"
  ) >"$TMP/out.$id" 2>&1 </dev/null || rc=$?
  if [[ $rc -eq 0 ]]; then
    printf 'ok   [fleet] %s: %s\n' "$id" "$desc"
    passed=$((passed + 1))
  else
    printf 'FAIL [fleet] %s: %s: %s\n' "$id" "$desc" "$(cat "$TMP/why" 2>/dev/null || echo "exit status $rc")"
    tail -n 60 "$TMP/out.$id" | sed 's/^/    | /'
    failed=$((failed + 1))
  fi
done

ct_log "total time $(($(date +%s) - t0)) s"
echo "$passed passed, $failed failed"
[[ $failed -eq 0 && $passed -gt 0 ]]
