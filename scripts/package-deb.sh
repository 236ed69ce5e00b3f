#!/usr/bin/env bash
# Builds Debian packages of balanced with dpkg-deb, version from package.json, laid out by
# install.sh (--prefix /usr, the unit in /lib/systemd/system, /etc/default/balanced a conffile):
#   amd64, arm64  the single executable dist/balanced-linux-<x64|arm64>: nothing else needed
#   all           dist/balanced.js, depending on nodejs (>= 20)
# Usage: package-deb.sh [--arch amd64,arm64,all] (default: every one that is built)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
version="$(node -p "require('$repo/package.json').version")"
arches=""
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arches="${2:?--arch needs a list}"; shift 2 ;;
    --arch=*) arches="${1#*=}"; shift ;;
    *) echo "package-deb.sh: unknown option: $1" >&2; exit 2 ;;
  esac
done

artifact() {
  case "$1" in
    amd64) echo "$repo/dist/balanced-linux-x64" ;;
    arm64) echo "$repo/dist/balanced-linux-arm64" ;;
    all) echo "$repo/dist/balanced.js" ;;
    *) echo "package-deb.sh: no such architecture: $1 (amd64, arm64 or all)" >&2; exit 2 ;;
  esac
}

if [ -z "$arches" ]; then
  for a in amd64 arm64 all; do [ -f "$(artifact "$a")" ] && arches="$arches${arches:+,}$a"; done
  [ -n "$arches" ] || { echo "package-deb.sh: nothing built: run npm run build (and build:exe)" >&2; exit 1; }
fi

for arch in ${arches//,/ }; do
  from="$(artifact "$arch")"
  [ -f "$from" ] || { echo "package-deb.sh: $from is missing: run npm run build / build:exe" >&2; exit 1; }
  stage="$(mktemp -d)"
  chmod 0755 "$stage"
  bash "$here/install.sh" --root "$stage" --prefix /usr --unit-dir /lib/systemd/system --from "$from" >/dev/null
  mkdir -p "$stage/DEBIAN"
  depends=""
  [ "$arch" = all ] && depends="Depends: nodejs (>= 20)"
  cat >"$stage/DEBIAN/control" <<CONTROL
Package: balanced
Version: $version
Architecture: $arch
Maintainer: balanced developers <balanced@localhost>
Section: admin
Priority: optional
Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)
${depends:+$depends
}Description: take this EC2 host out of its load balancers safely, and put it back
 balanced out moves the host to Standby in its Auto Scaling group and waits until every
 load balancer has drained it, refusing with a distinct exit code when that is unsafe;
 balanced in returns it and waits until it is healthy everywhere. The systemd unit drains
 the host on shutdown and returns it at boot.
CONTROL
  echo /etc/default/balanced >"$stage/DEBIAN/conffiles"
  cat >"$stage/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
# Enabled and active, the unit drains this host at the next shutdown. Starting it runs
# `balanced in --after-shutdown`, which does nothing unless a shutdown took the host out.
# Never restarted on upgrade: a restart would take the host out and back in.
if [ "$1" = configure ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload || true
  systemctl enable balanced.service balanced-watch.service || true
  systemctl start balanced.service || true
  # The watch loop is stateless: (re)starting it on upgrade is safe.
  systemctl restart balanced-watch.service || true
fi
POSTINST
  cat >"$stage/DEBIAN/prerm" <<'PRERM'
#!/bin/sh
set -e
# Disabled, not stopped: stopping would drain the host. The binary is gone once removed, so the
# unit's stop at the next shutdown runs nothing.
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
  systemctl disable balanced.service || true
  systemctl disable --now balanced-watch.service || true
fi
PRERM
  cat >"$stage/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
POSTRM
  chmod 0755 "$stage/DEBIAN/postinst" "$stage/DEBIAN/prerm" "$stage/DEBIAN/postrm"
  out="$repo/dist/balanced_${version}_${arch}.deb"
  dpkg-deb --root-owner-group -Zgzip --build "$stage" "$out" >/dev/null
  rm -rf "$stage"
  echo "built dist/$(basename "$out") ($(du -k "$out" | cut -f1) KiB)"
done
