#!/usr/bin/env bash
# Packaging checks: reproducible release build, install/uninstall with DESTDIR, man-page lint,
# the Debian package (cargo-deb) and the RPM (rpmbuild). One line per check, then a closing
# "N passed, N failed" line; exits non-zero if any check failed.
#
# Needs: cargo-deb (cargo install cargo-deb --locked), rpm, mandoc, dpkg-dev — installed by
# scripts/install-deps.sh --all.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=$(mktemp -d /tmp/pam_otp-package.XXXXXX)
trap 'rm -rf "$work"' EXIT

passed=0 failed=0
check() { # name, command...
  local name=$1; shift
  if out=$("$@" 2>&1); then
    passed=$((passed + 1)); echo "ok    $name"
  else
    failed=$((failed + 1)); echo "FAIL  $name"; printf '%s\n' "$out" | sed 's/^/      /' | tail -n 30
  fi
}

echo "== release build"
cargo build --release --locked --quiet

release_members() {
  # A plain release build (default-members) makes all three programs the packages ship.
  ls -l target/release/libpam_otp.so target/release/pam-otp target/release/pam-otp-deliver
}

reproducible() {
  # Two clean builds at the same path must give the same bytes.
  local dir=$repo/target/repro sums=()
  for _ in 1 2; do
    rm -rf "$dir"
    CARGO_TARGET_DIR=$dir cargo build --release --locked --quiet --lib
    sums+=("$(sha256sum "$dir/release/libpam_otp.so" | cut -d' ' -f1)")
  done
  rm -rf "$dir"
  echo "build 1: ${sums[0]}"; echo "build 2: ${sums[1]}"
  [[ "${sums[0]}" == "${sums[1]}" ]]
}

release_profile() {
  # Stripped, no libgcc_s, unwinding kept (an abort-on-panic build would lack .eh_frame_hdr use):
  # the module and the Redis client library it loads. Into files first: with pipefail,
  # `readelf | grep -q` fails when grep quits early and readelf gets SIGPIPE.
  local so
  for so in target/release/libpam_otp.so target/release/libpam_otp_redis.so; do
    readelf -S "$so" >"$work/sections"; readelf -d "$so" >"$work/dynamic"
    ! grep -q '\.symtab' "$work/sections" || { echo "$so: not stripped"; return 1; }
    ! grep -q 'libgcc_s' "$work/dynamic" || { echo "$so: needs libgcc_s"; return 1; }
    grep -q '\.eh_frame_hdr' "$work/sections" || { echo "$so: no unwind tables"; return 1; }
    ls -l "$so"
  done
  # The module links no TLS or Redis code (it loads libpam_otp_redis.so for store=redis).
  cargo tree -p pam_otp -e normal --locked >"$work/tree"
  ! grep -Eq '\b(rustls|ring) ' "$work/tree" || { echo "pam_otp depends on rustls/ring"; return 1; }
  grep -A4 '^\[profile.release\]' Cargo.toml | grep -q 'panic = "unwind"'
}

install_uninstall() {
  local dest=$work/destdir
  DESTDIR=$dest PREFIX=/usr PAMDIR=/usr/lib/x86_64-linux-gnu/security scripts/install.sh >/dev/null
  local expected
  expected=$(DESTDIR=$dest PREFIX=/usr PAMDIR=/usr/lib/x86_64-linux-gnu/security scripts/install.sh --list)
  for f in $expected; do
    [[ -e "$f" ]] || { echo "missing after install: $f"; return 1; }
  done
  [[ $(stat -c %a "$dest/usr/lib/x86_64-linux-gnu/security/pam_otp.so") == 644 ]]
  [[ $(stat -c %a "$dest/usr/lib/x86_64-linux-gnu/security/pam_otp_redis.so") == 644 ]]
  [[ $(stat -c %a "$dest/usr/bin/pam-otp") == 755 ]]
  [[ $(stat -c %a "$dest/var/lib/pam_otp") == 700 ]]
  # The delivery helper at the module's fixed default path whatever PREFIX is, its
  # credentials directory made but left empty (the example goes under the docs).
  [[ $(stat -c %a "$dest/usr/libexec/pam-otp-deliver") == 755 ]]
  [[ $(stat -c %a "$dest/etc/security/pam_otp.d") == 755 ]]
  [[ -z $(ls -A "$dest/etc/security/pam_otp.d") ]] || { echo "pam_otp.d not empty"; return 1; }
  [[ -f "$dest/usr/share/doc/pam_otp/examples/security/pam_otp.d/deliver.conf" ]]
  # Exactly the listed files, nothing else.
  local listed actual
  listed=$(printf '%s\n' "$expected" | grep -v '/$' | sed "s:^$dest::" | sort)
  actual=$(cd "$dest" && find . -type f | sed 's:^\.::' | sort)
  [[ "$listed" == "$actual" ]] || { diff <(echo "$listed") <(echo "$actual"); return 1; }
  DESTDIR=$dest PREFIX=/usr PAMDIR=/usr/lib/x86_64-linux-gnu/security scripts/install.sh --uninstall >/dev/null
  local left
  left=$(find "$dest" -type f)
  [[ -z "$left" ]] || { echo "left behind: $left"; return 1; }
}

pamdir_detection() {
  # Without PAMDIR the script finds the directory holding pam_unix.so on this system.
  local found
  found=$(scripts/install.sh --list | head -n1)
  [[ -e "$(dirname "$found")/pam_unix.so" ]] || { echo "wrong PAM dir: $found"; return 1; }
}

man_pages() {
  for m in man/*.[0-9]; do
    mandoc -T lint -W warning "$m"
  done
  ls man/pam_otp.8 man/pam_otp.5 man/pam_otp.conf.5 man/pam-otp.1 man/pam-otp-deliver.8 >/dev/null
}

deb_package() {
  rm -rf target/debian
  cargo deb --no-build --multiarch=same --quiet >/dev/null
  local deb
  deb=$(ls target/debian/*.deb)
  dpkg-deb -c "$deb" | awk '{print $6}' > "$work/deb-files"
  for f in ./usr/lib/x86_64-linux-gnu/security/pam_otp.so \
           ./usr/lib/x86_64-linux-gnu/security/pam_otp_redis.so ./usr/bin/pam-otp \
           ./usr/share/pam-configs/pam_otp ./usr/share/man/man8/pam_otp.8.gz \
           ./usr/share/man/man5/pam_otp.5.gz ./usr/share/man/man5/pam_otp.conf.5.gz \
           ./usr/share/man/man1/pam-otp.1.gz \
           ./usr/share/doc/libpam-otp/examples/pam.d/sshd \
           ./usr/libexec/pam-otp-deliver ./usr/share/man/man8/pam-otp-deliver.8.gz \
           ./usr/share/doc/libpam-otp/examples/pam_otp.d/deliver.conf; do
    grep -qx "$f" "$work/deb-files" || { echo "deb lacks $f"; cat "$work/deb-files"; return 1; }
  done
  # The helper: root:root 0755 at the path oob::spawn::DEFAULT_HELPER names (the module
  # refuses a helper that is not root-owned or is writable by others).
  dpkg-deb -c "$deb" >"$work/deb-listing"
  grep -Eq '^-rwxr-xr-x (root/root|0/0) .* \./usr/libexec/pam-otp-deliver$' "$work/deb-listing" ||
    { echo "helper not root:root 0755"; dpkg-deb -c "$deb" | grep deliver; return 1; }
  # No live credentials file: nothing under /etc/security/pam_otp.d in the archive.
  ! grep -q '^\./etc/security/pam_otp\.d/.' "$work/deb-files" || { echo "deb ships a deliver.conf"; return 1; }
  dpkg-deb -I "$deb" postinst |
    grep -q 'adduser --quiet --system --group --no-create-home --home /nonexistent'
  dpkg-deb -I "$deb" postinst | grep -q 'install -d -m 0755 -o root -g root /etc/security/pam_otp.d'
  dpkg-deb -I "$deb" postrm | grep -q 'deluser --quiet --system pam-otp-deliver'
  dpkg-deb -I "$deb" control | grep -q '^Depends:.*adduser'
  dpkg-deb -I "$deb" postinst | grep -q 'pam-auth-update --package'
  dpkg-deb -I "$deb" prerm | grep -q 'pam-auth-update --package --remove pam_otp'
  dpkg-deb -I "$deb" control | grep -q '^Depends:.*libpam0g'
  dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/share/pam-configs/pam_otp | grep -q '^Default: no'
}

rpm_package() {
  local top=$work/rpm
  rpmbuild -bb --nodeps --quiet --define "_topdir $top" --define "prebuilt_dir $repo" \
    packaging/rpm/pam_otp.spec >/dev/null
  local rpm
  rpm=$(find "$top/RPMS" -name 'pam_otp-*.rpm')
  rpm -qlp "$rpm" > "$work/rpm-files"
  # Man pages are gzipped by brp-compress where it works (not with Debian's rpm).
  for f in '/usr/lib64/security/pam_otp\.so' '/usr/bin/pam-otp' \
           '/usr/share/man/man8/pam_otp\.8(\.gz)?' '/usr/share/man/man5/pam_otp\.5(\.gz)?' \
           '/usr/share/man/man1/pam-otp\.1(\.gz)?' '/usr/lib/tmpfiles\.d/pam_otp\.conf' \
           '/usr/share/doc/pam_otp/examples/pam\.d/sshd' '/var/lib/pam_otp' \
           '/usr/libexec/pam-otp-deliver' '/usr/share/man/man8/pam-otp-deliver\.8(\.gz)?' \
           '/etc/security/pam_otp\.d' \
           '/usr/share/doc/pam_otp/examples/security/pam_otp\.d/deliver\.conf'; do
    grep -Eqx "$f" "$work/rpm-files" || { echo "rpm lacks $f"; cat "$work/rpm-files"; return 1; }
  done
  rpm -qp --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' "$rpm" | grep -q '^drwx------ /var/lib/pam_otp$'
  rpm -qp --qf '[%{FILEMODES:perms} %{FILEUSERNAME} %{FILENAMES}\n]' "$rpm" |
    grep -q '^-rwxr-xr-x root /usr/libexec/pam-otp-deliver$'
  rpm -qp --scripts "$rpm" | grep -q 'useradd -r -g pam-otp-deliver'
}

check "release build makes the module, pam-otp and pam-otp-deliver" release_members
check "release build is reproducible" reproducible
check "release profile: stripped, unwinding, no libgcc_s" release_profile
check "install.sh: DESTDIR install, then uninstall removes it all" install_uninstall
check "install.sh finds the PAM module directory" pamdir_detection
check "man pages lint clean" man_pages
check "Debian package: layout, pam-auth-update profile off by default" deb_package
check "RPM package: Fedora layout" rpm_package

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
