#!/usr/bin/env bash
# The desktop app for Windows, built from Linux (issue 12): `trousseau-desktop.exe` must compile and link for
# x86_64-pc-windows-gnu (MinGW), with the same debug profile as everything else. Then the NSIS installer is tried with
# Debian's `nsis` (makensis), which Tauri 2's bundler supports from Linux ("experimental" in its own words). The
# installer is not run: WebView2 does not run under Wine.
#
# The bundler needs Tauri's NSIS plugin `nsis_tauri_utils.dll`, which it downloads from github.com and checks by SHA-1
# (cached in ~/.cache/tauri/NSIS/Plugins/x86-unicode/additional/). Where github.com cannot be reached, that download
# fails and this script prints a visible WARNING and skips the installer; a link failure, or a bundler failure for any
# other reason, fails the check. As scripts/checks/cross-targets.sh, a refused `rustup target add` is a WARNING and a
# skip. Cost: ≈ 5½ min on a cold cache on 2 cores (the Tauri stack for Windows; the core crate's Windows build is
# shared with scripts/checks/windows-wine.sh), seconds when warm.
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$SECONDS
warn() { printf '\n**********\nWARNING: %s\n**********\n\n' "$*" >&2; }

target=x86_64-pc-windows-gnu
if ! command -v rustup >/dev/null 2>&1; then
  warn "rustup is not available: the Windows desktop build is SKIPPED"
  exit 0
fi
if ! rustup target list --installed 2>/dev/null | grep -qx "$target" && ! rustup target add "$target"; then
  warn "rustup target add $target was refused: the Windows desktop build is SKIPPED"
  exit 0
fi
[ -x ui/node_modules/.bin/tauri ] || (cd ui && npm install --no-audit --no-fund)
[ -f ui/dist/index.html ] || (cd ui && npm run build)
export AWS_LC_SYS_PREBUILT_NASM=1

echo "== tauri build --debug --target $target --no-bundle (must link)"
ui/node_modules/.bin/tauri build --debug --target "$target" --no-bundle --ci
exe=${CARGO_TARGET_DIR:-target}/$target/debug/trousseau-desktop.exe
# Not `tee /dev/stderr`: reopening stderr truncates the log file it is redirected to (CI lost everything before).
info=$(file "$exe")
echo "$info" >&2
grep -q 'PE32+ executable.*x86-64' <<<"$info" || { echo "$exe is not a Windows x86-64 executable"; exit 1; }
linked=$SECONDS

echo "== tauri build --debug --target $target --bundles nsis (makensis $(makensis -VERSION 2>/dev/null || echo missing))"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ui/node_modules/.bin/tauri build --debug --target "$target" --bundles nsis --ci >"$log" 2>&1; then
  cat "$log"
  installer=$(ls -t "${CARGO_TARGET_DIR:-target}/$target/debug/bundle/nsis/"*-setup.exe | head -1)
  file "$installer" | grep -q 'PE32 executable' || { echo "$installer is not a Windows executable"; exit 1; }
  echo "windows installer: $installer ($(du -h "$installer" | cut -f1))"
elif grep -q 'nsis_tauri_utils' "$log" && grep -qiE 'lookup address|dns|connect|timed out|network' "$log"; then
  cat "$log"
  warn "the NSIS installer is SKIPPED: Tauri's bundler could not download nsis_tauri_utils.dll from github.com (no network)"
else
  cat "$log"
  echo "the NSIS bundling failed"
  exit 1
fi
echo "windows desktop: $((SECONDS - started)) s (link $((linked - started)) s)"
