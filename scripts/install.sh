#!/usr/bin/env bash
# Installs (or uninstalls) pam_otp from a release build.
#
#   cargo build --release --locked
#   sudo scripts/install.sh                 # install
#   sudo scripts/install.sh --uninstall     # remove exactly what install put there
#   scripts/install.sh --list               # print the paths it would install
#
# Environment (all optional):
#   DESTDIR       staging root for packagers (nothing outside it is touched)
#   PREFIX        /usr/local by default; binary, man pages and docs go under it
#   PAMDIR        PAM module directory; found from where pam_unix.so lives when unset:
#                 Debian/Ubuntu /usr/lib/<triplet>/security or /lib/<triplet>/security,
#                 Fedora /usr/lib64/security, Arch /usr/lib/security
#   TMPFILESDIR   systemd-tmpfiles directory for the state-directory entry
#                 (/usr/lib/tmpfiles.d with PREFIX=/usr, else /etc/tmpfiles.d)
#   STATEDIR      /var/lib/pam_otp (must match the module's state_dir= default)
#   LIBEXECDIR    /usr/libexec whatever PREFIX is: the delivery helper must be at
#                 /usr/libexec/pam-otp-deliver, the module's deliver_helper= default
#   DELIVERDIR    /etc/security/pam_otp.d, the helper's credentials directory (root 0755)
#
# Without DESTDIR and as root it also creates the helper's unprivileged system user,
# pam-otp-deliver (no home, no login shell); --uninstall removes it once the credentials
# directory is gone (empty). Packagers (DESTDIR) create the user in their own scripts.
#   TARGET_DIR    where cargo put the release build (default: target/release)
set -euo pipefail
cd "$(dirname "$0")/.."

mode=install
case "${1:-}" in
  "") ;;
  --uninstall) mode=uninstall ;;
  --list) mode=list ;;
  *) echo "usage: $0 [--uninstall | --list]" >&2; exit 2 ;;
esac

DESTDIR="${DESTDIR:-}"
PREFIX="${PREFIX:-/usr/local}"
STATEDIR="${STATEDIR:-/var/lib/pam_otp}"
TARGET_DIR="${TARGET_DIR:-target/release}"
LIBEXECDIR="${LIBEXECDIR:-/usr/libexec}"
DELIVERDIR="${DELIVERDIR:-/etc/security/pam_otp.d}"
DELIVER_USER=pam-otp-deliver
if [[ -z "${TMPFILESDIR:-}" ]]; then
  if [[ "$PREFIX" == /usr ]]; then TMPFILESDIR=/usr/lib/tmpfiles.d; else TMPFILESDIR=/etc/tmpfiles.d; fi
fi

find_pamdir() {
  # Where the system's own modules are: next to libpam's own library directory first (exact
  # on multiarch systems), then the usual places.
  local libpam d
  libpam=$(ldconfig -p 2>/dev/null | awk '/libpam\.so\.0 /{print $NF; exit}')
  for d in ${libpam:+"$(dirname "$libpam")/security"} /usr/lib/*-linux-*/security \
           /lib/*-linux-*/security /usr/lib64/security /lib64/security /usr/lib/security \
           /lib/security; do
    if [[ -e "$d/pam_unix.so" ]]; then echo "$d"; return; fi
  done
  echo "cannot find the PAM module directory (no pam_unix.so found); set PAMDIR" >&2
  exit 1
}
PAMDIR="${PAMDIR:-$(find_pamdir)}"

BINDIR="$PREFIX/bin"
MANDIR="$PREFIX/share/man"
DOCDIR="$PREFIX/share/doc/pam_otp"

# source|destination|mode — the single list both install and uninstall use.
files=(
  "$TARGET_DIR/libpam_otp.so|$PAMDIR/pam_otp.so|0644"
  # The Redis client pam_otp.so loads, for store=redis only, from its own directory.
  "$TARGET_DIR/libpam_otp_redis.so|$PAMDIR/pam_otp_redis.so|0644"
  "$TARGET_DIR/pam-otp|$BINDIR/pam-otp|0755"
  "$TARGET_DIR/pam-otp-deliver|$LIBEXECDIR/pam-otp-deliver|0755"
  "man/pam_otp.8|$MANDIR/man8/pam_otp.8|0644"
  "man/pam_otp.5|$MANDIR/man5/pam_otp.5|0644"
  "man/pam_otp.conf.5|$MANDIR/man5/pam_otp.conf.5|0644"
  "man/pam-otp.1|$MANDIR/man1/pam-otp.1|0644"
  "man/pam-otp-deliver.8|$MANDIR/man8/pam-otp-deliver.8|0644"
  "README.md|$DOCDIR/README.md|0644"
  "pam.d/sshd|$DOCDIR/examples/pam.d/sshd|0644"
  "pam.d/sudo|$DOCDIR/examples/pam.d/sudo|0644"
  "pam.d/otp-rollout|$DOCDIR/examples/pam.d/otp-rollout|0644"
  "pam.d/otp-group|$DOCDIR/examples/pam.d/otp-group|0644"
  "pam.d/otp-trusted-network|$DOCDIR/examples/pam.d/otp-trusted-network|0644"
  "pam.d/sshd-password-otp|$DOCDIR/examples/pam.d/sshd-password-otp|0644"
  "pam.d/login-root-console|$DOCDIR/examples/pam.d/login-root-console|0644"
  "examples/security/access-otp.conf|$DOCDIR/examples/security/access-otp.conf|0644"
  "examples/security/access-root-console.conf|$DOCDIR/examples/security/access-root-console.conf|0644"
  "examples/security/pam_otp.d/deliver.conf|$DOCDIR/examples/security/pam_otp.d/deliver.conf|0644"
  "examples/ssh/sshd_config.d/50-otp-password-logins.conf|$DOCDIR/examples/ssh/sshd_config.d/50-otp-password-logins.conf|0644"
  "packaging/tmpfiles.d/pam_otp.conf|$TMPFILESDIR/pam_otp.conf|0644"
)

case $mode in
  list)
    for f in "${files[@]}"; do IFS='|' read -r _ dst _ <<<"$f"; echo "$DESTDIR$dst"; done
    echo "$DESTDIR$STATEDIR/"
    echo "$DESTDIR$DELIVERDIR/"
    ;;
  install)
    for f in "${files[@]}"; do
      IFS='|' read -r src _ _ <<<"$f"
      [[ -f "$src" ]] || { echo "missing $src: run 'cargo build --release --locked' first" >&2; exit 1; }
    done
    for f in "${files[@]}"; do
      IFS='|' read -r src dst perm <<<"$f"
      install -D -m "$perm" "$src" "$DESTDIR$dst"
      echo "installed $DESTDIR$dst"
    done
    # The module creates it too; creating it here makes the owner and mode explicit.
    install -d -m 0700 "$DESTDIR$STATEDIR"
    if [[ $(id -u) -eq 0 ]]; then chown root:root "$DESTDIR$STATEDIR"; fi
    echo "created $DESTDIR$STATEDIR (mode 0700)"
    # The credentials directory: an example deliver.conf is under $DOCDIR, never copied here.
    install -d -m 0755 "$DESTDIR$DELIVERDIR"
    if [[ $(id -u) -eq 0 ]]; then chown root:root "$DESTDIR$DELIVERDIR"; fi
    echo "created $DESTDIR$DELIVERDIR (mode 0755)"
    if [[ -z "$DESTDIR" && $(id -u) -eq 0 ]]; then
      if getent passwd "$DELIVER_USER" >/dev/null; then
        echo "system user $DELIVER_USER exists"
      else
        nologin=$(command -v nologin || echo /bin/false)
        useradd --system --user-group --no-create-home --home-dir /nonexistent \
          --shell "$nologin" -c "pam_otp delivery helper" "$DELIVER_USER"
        echo "created system user $DELIVER_USER"
      fi
    fi
    ;;
  uninstall)
    for f in "${files[@]}"; do
      IFS='|' read -r _ dst _ <<<"$f"
      if [[ -e "$DESTDIR$dst" ]]; then rm -f "$DESTDIR$dst"; echo "removed $DESTDIR$dst"; fi
    done
    rmdir "$DESTDIR$DOCDIR/examples/pam.d" "$DESTDIR$DOCDIR/examples/security/pam_otp.d" \
      "$DESTDIR$DOCDIR/examples/security" \
      "$DESTDIR$DOCDIR/examples/ssh/sshd_config.d" "$DESTDIR$DOCDIR/examples/ssh" \
      "$DESTDIR$DOCDIR/examples" "$DESTDIR$DOCDIR" 2>/dev/null || true
    # User state is data, not software: kept unless empty.
    if rmdir "$DESTDIR$STATEDIR" 2>/dev/null; then
      echo "removed $DESTDIR$STATEDIR"
    elif [[ -d "$DESTDIR$STATEDIR" ]]; then
      echo "kept $DESTDIR$STATEDIR (holds user state; remove it by hand if you are done with pam_otp)"
    fi
    # Credentials are configuration the admin wrote: kept (and the user owning them with
    # them, so that no later uid inherits the files) unless the directory is empty.
    if rmdir "$DESTDIR$DELIVERDIR" 2>/dev/null; then
      echo "removed $DESTDIR$DELIVERDIR"
      if [[ -z "$DESTDIR" && $(id -u) -eq 0 ]] && getent passwd "$DELIVER_USER" >/dev/null; then
        userdel "$DELIVER_USER"
        if getent group "$DELIVER_USER" >/dev/null; then groupdel "$DELIVER_USER" || true; fi
        echo "removed system user $DELIVER_USER"
      fi
    elif [[ -d "$DESTDIR$DELIVERDIR" ]]; then
      echo "kept $DESTDIR$DELIVERDIR and the $DELIVER_USER user (it holds delivery credentials)"
    fi
    ;;
esac
