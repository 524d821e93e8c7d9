#!/usr/bin/env bash
# Installs what Trousseau needs on Debian 12 (one apt-get line), for running (`run`) or testing (`test`).
set -euo pipefail
what=${1:-test}
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
RUN_PKGS="pkg-config libpcsclite-dev pcscd libnss3-tools gnome-keyring dbus dbus-x11 xauth xvfb openssl
  libssl-dev libdbus-1-dev libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev
  build-essential file curl softhsm2 opensc nodejs desktop-file-utils python3"
TEST_PKGS="vsmartcard-vpcd opencryptoki webkit2gtk-driver gcc-mingw-w64-x86-64 wine64 nsis pcsc-tools chromium
  dunst faketime"
pkgs=$RUN_PKGS; [ "$what" = test ] && pkgs="$RUN_PKGS $TEST_PKGS"
missing=$(for p in $pkgs; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || echo "$p"; done)
if [ -n "$(echo $missing)" ]; then
  echo "== installing system packages: $(echo $missing | tr '\n' ' ')"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends $pkgs
fi
