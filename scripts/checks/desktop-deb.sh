#!/usr/bin/env bash
# Packages the desktop app as a .deb from the debug build the tests already made (same features, same profile:
# nothing is compiled twice) and checks the package with dpkg-deb: metadata, binary, icons, desktop entry with the
# trousseau:// scheme. (`npx tauri build` uses the prebuilt Tauri CLI from npm, pinned to major 2.)
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -x ui/node_modules/.bin/tauri ] || (cd ui && npm install --no-audit --no-fund)
[ -f ui/dist/index.html ] || (cd ui && npm run build)
ui/node_modules/.bin/tauri build --debug --bundles deb --ci
target=${CARGO_TARGET_DIR:-target}
deb=$(ls -t "$target"/debug/bundle/deb/*.deb | head -1)
dpkg-deb -I "$deb"
info=$(dpkg-deb -f "$deb" Package Version Architecture Depends)
echo "$info" | grep -q '^Package: trousseau$' || { echo "unexpected package name"; exit 1; }
echo "$info" | grep -q 'pcscd' || { echo "pcscd missing from Depends"; exit 1; }
files=$(dpkg-deb -c "$deb")
for f in usr/bin/trousseau-desktop usr/share/applications/Trousseau.desktop usr/share/icons/hicolor/128x128/apps/trousseau-desktop.png; do
  echo "$files" | grep -q " $f\$" || { echo "missing in the package: $f"; exit 1; }
done
x=$(mktemp -d); trap 'rm -rf "$x"' EXIT
dpkg-deb -x "$deb" "$x"
grep -q '^MimeType=x-scheme-handler/trousseau;' "$x/usr/share/applications/Trousseau.desktop"
grep -q '^Exec=trousseau-desktop %u' "$x/usr/share/applications/Trousseau.desktop"
echo "desktop deb: $deb checked"
