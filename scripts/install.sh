#!/usr/bin/env bash
# Installs balanced on this host: the agent as PREFIX/bin/balanced (the single executable, or a link
# to the Node.js bundle in PREFIX/lib/balanced/), the systemd unit that drains the host on shutdown
# and returns it at boot, and /etc/default/balanced (every setting, commented out).
# Idempotent: run it again to upgrade; an edited /etc/default/balanced is kept.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: install.sh [options]

  --prefix DIR     install the agent as DIR/bin/balanced (default /usr/local)
  --root DIR       install under DIR as if it were / (packaging, tests): no root needed,
                   no systemctl
  --exe            install the single executable dist/balanced-linux-<arch> (no Node.js
                   needed on the host) instead of the bundle dist/balanced.js and dist/lib/
                   (needs Node.js 20+)
  --from FILE      install this build of the agent (packaging for another architecture): a
                   single executable, or a bundle's balanced.js (its lib/ goes with it)
  --unit-dir DIR   where the systemd unit goes (default /etc/systemd/system)
  --no-start       do not enable and start balanced.service
  --uninstall      remove what install.sh installed; /etc/default/balanced stays
  --purge          with --uninstall, remove /etc/default/balanced too
  -h, --help       this help
EOF
}

die() {
  echo "install.sh: $*" >&2
  exit 1
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
prefix=/usr/local
root=""
exe=false
from=""
unit_dir=/etc/systemd/system
start=true
uninstall=false
purge=false

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="${2:?--prefix needs a directory}"; shift 2 ;;
    --prefix=*) prefix="${1#*=}"; shift ;;
    --root) root="${2:?--root needs a directory}"; shift 2 ;;
    --root=*) root="${1#*=}"; shift ;;
    --unit-dir) unit_dir="${2:?--unit-dir needs a directory}"; shift 2 ;;
    --unit-dir=*) unit_dir="${1#*=}"; shift ;;
    --exe) exe=true; shift ;;
    --from) from="${2:?--from needs a file}"; shift 2 ;;
    --from=*) from="${1#*=}"; shift ;;
    --no-start) start=false; shift ;;
    --uninstall) uninstall=true; shift ;;
    --purge) purge=true; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
done

case "$prefix" in /*) ;; *) die "--prefix must be an absolute path: $prefix" ;; esac
root="${root%/}"
if [ -z "$root" ] && [ "$(id -u)" -ne 0 ]; then
  die "must run as root to install into / (try: sudo $0${*:+ $*}), or stage elsewhere with --root DIR"
fi
# systemctl only on a live install into / on a host that runs systemd.
live=false
if [ -z "$root" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then live=true; fi

bin="$root$prefix/bin/balanced"
# The bundle's home: its entry point and the chunks it loads on demand, replaced as one.
libdir="$root$prefix/lib/balanced"
unit="$root$unit_dir/balanced.service"
watch_unit="$root$unit_dir/balanced-watch.service"
defaults="$root/etc/default/balanced"
doc="$root$prefix/share/doc/balanced"

say() { echo "install.sh: $*"; }

if $uninstall; then
  # The binary goes first: stopping the unit then runs no `out` (ExecStop's "-" ignores the missing
  # binary), so uninstalling never drains the host.
  rm -f "$bin"
  rm -rf "$libdir"
  if $live; then systemctl disable --now balanced.service balanced-watch.service >/dev/null 2>&1 || true; fi
  rm -f "$unit" "$watch_unit"
  rm -rf "$doc"
  if $live; then systemctl daemon-reload; fi
  if $purge; then
    rm -f "$defaults"
    say "removed $bin, $libdir, $unit, $watch_unit, $doc and $defaults"
  else
    say "removed $bin, $libdir, $unit, $watch_unit and $doc; kept $defaults (--purge removes it)"
  fi
  exit 0
fi

if [ -n "$from" ]; then
  source="$from"
  [ -f "$source" ] || die "$source is missing"
elif $exe; then
  case "$(uname -m)" in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) die "no single executable for $(uname -m); install the bundle (without --exe) and Node.js 20+" ;;
  esac
  source="$repo/dist/balanced-linux-$arch"
  [ -f "$source" ] || die "$source is missing: run npm run build:exe first"
else
  source="$repo/dist/balanced.js"
  [ -f "$source" ] || die "$source is missing: run npm run build first"
  if [ -z "$root" ]; then
    major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
    [ "$major" -ge 20 ] || die "dist/balanced.js needs Node.js 20+ on this host; install it, or use --exe"
  fi
fi

# Copies a file into place only when it differs, and says which.
place() {
  local mode="$1" from="$2" to="$3"
  if [ -f "$to" ] && cmp -s "$from" "$to"; then
    say "unchanged $to"
  else
    install -D -m "$mode" "$from" "$to"
    say "installed $to"
  fi
}

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

case "$source" in
  *.js)
    # The bundle: balanced.js imports its chunks from lib/ beside it. Node follows the link from
    # bin/ to the real file, and resolves the chunks from there.
    [ -d "$(dirname "$source")/lib" ] || die "$(dirname "$source")/lib is missing: run npm run build"
    if [ -d "$libdir" ] && diff -r -q "$(dirname "$source")/lib" "$libdir/lib" >/dev/null 2>&1 &&
      cmp -s "$source" "$libdir/balanced.js"; then
      say "unchanged $libdir"
    else
      rm -rf "$libdir"
      install -D -m 0755 "$source" "$libdir/balanced.js"
      cp -R "$(dirname "$source")/lib" "$libdir/lib"
      chmod -R u=rwX,go=rX "$libdir/lib"
      say "installed $libdir"
    fi
    if [ -L "$bin" ] && [ "$(readlink "$bin")" = "../lib/balanced/balanced.js" ]; then
      say "unchanged $bin"
    else
      rm -f "$bin"
      mkdir -p "$(dirname "$bin")"
      ln -s ../lib/balanced/balanced.js "$bin"
      say "installed $bin -> ../lib/balanced/balanced.js"
    fi
    ;;
  *)
    # A single executable replaces a bundle installed before it.
    [ -L "$bin" ] && rm -f "$bin"
    rm -rf "$libdir"
    place 0755 "$source" "$bin"
    ;;
esac
# The unit names the binary and the docs where this install puts them.
sed -e "s|/usr/local/bin/balanced|$prefix/bin/balanced|g" \
  -e "s|/usr/local/share/doc/balanced|$prefix/share/doc/balanced|g" \
  "$repo/systemd/balanced.service" >"$tmp/balanced.service"
place 0644 "$tmp/balanced.service" "$unit"
sed -e "s|/usr/local/bin/balanced|$prefix/bin/balanced|g" \
  -e "s|/usr/local/share/doc/balanced|$prefix/share/doc/balanced|g" \
  "$repo/systemd/balanced-watch.service" >"$tmp/balanced-watch.service"
place 0644 "$tmp/balanced-watch.service" "$watch_unit"
place 0644 "$repo/README.md" "$doc/README.md"
# What the README links to, beside it as in the repository.
for page in "$repo"/docs/*.md; do place 0644 "$page" "$doc/docs/$(basename "$page")"; done
if [ -f "$defaults" ]; then
  if cmp -s "$repo/systemd/balanced.default" "$defaults"; then
    say "unchanged $defaults"
  else
    say "kept your $defaults (the shipped one is $repo/systemd/balanced.default)"
  fi
else
  place 0644 "$repo/systemd/balanced.default" "$defaults"
fi

if $live; then
  systemctl daemon-reload
  if $start; then
    # Starting runs `balanced in --after-shutdown`: nothing, unless a shutdown took this host out.
    # Enabled and active, the unit's stop drains the host at the next shutdown.
    systemctl enable --now balanced.service balanced-watch.service
    say "balanced.service and balanced-watch.service enabled and active: this host drains on shutdown, and before AWS takes it away"
  fi
elif [ -z "$root" ]; then
  say "systemd is not running here: balanced.service installed but not started"
fi
say "done: $("$bin" --version 2>/dev/null || echo "balanced") at $bin; try: balanced status"
