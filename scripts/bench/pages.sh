#!/usr/bin/env bash
# Page-switch benchmark (issue 15, "pages never wait"; not in CI): the real window under Xvfb, driven through
# tauri-driver/WebKitWebDriver, with a card inserted (vpcd) and a slow PKCS#11 module (SoftHSM2 behind
# tests/modules/slow-pkcs11.c, every slot enumeration and token-information call sleeping SLOW_MS). Clicks the
# navigation links SWITCHES times across every page and prints the time from click to page rendered (median, p95)
# next to the goal (p95 ≤ 100 ms).
# Usage: flock -o /tmp/pcscd.lock bash scripts/bench/pages.sh [SWITCHES=50] [SLOW_MS=3000]
set -euo pipefail
cd "$(dirname "$0")/../.."
switches=${1:-50} slow_ms=${2:-3000}
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
command -v tauri-driver >/dev/null 2>&1 || cargo install --locked tauri-driver@^2
[ -f ui/dist/index.html ] || (cd ui && npm install --no-audit --no-fund && npm run build)
cargo build --locked -p trousseau-desktop
bin=${CARGO_TARGET_DIR:-$PWD/target}/debug/trousseau-desktop

work=$(mktemp -d /tmp/trousseau-bench-pages.XXXXXX)
pcscd_pid=""
trap 'rm -rf "$work"; [ -n "$pcscd_pid" ] && kill "$pcscd_pid" 2>/dev/null || true' EXIT
mkdir -p "$work/home/config" "$work/nssdb" "$work/softhsm"
export TROUSSEAU_HOME=$work/home TROUSSEAU_NSSDB=$work/nssdb TROUSSEAU_LANG=fr
certutil -N -d "sql:$work/nssdb" --empty-password
printf '{"lang":"fr","autostart":false,"notifications":false,"pkcs11_modules":[],"portals":[]}\n' > "$work/home/config/desktop.json"
pcscd_pid=$(bash scripts/pcscd-up.sh --wait-readers 2)

# A SoftHSM2 token with a certificate and its key, seen only through the slow wrapper.
printf 'directories.tokendir = %s\nobjectstore.backend = file\n' "$work/softhsm" > "$work/softhsm2.conf"
export SOFTHSM2_CONF=$work/softhsm2.conf
softhsm2-util --init-token --free --label "Jeton lent" --pin 123456 --so-pin 12345678 >/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/card.key" -outform DER -out "$work/card.crt.der" -days 400 \
  -subj "/CN=Agent Bench/O=Trousseau/C=LU" -addext "keyUsage=critical,digitalSignature,keyEncipherment" 2>/dev/null
openssl pkey -in "$work/card.key" -outform DER -out "$work/card.key.der"
for object in "cert card.crt.der" "privkey card.key.der"; do
  set -- $object
  pkcs11-tool --module /usr/lib/softhsm/libsofthsm2.so --token-label "Jeton lent" --login --pin 123456 \
    --write-object "$work/$2" --type "$1" --id b1 --label "Agent Bench" >/dev/null
done
cc -shared -fPIC -o "$work/libslow-pkcs11.so" tests/modules/slow-pkcs11.c -ldl
export TROUSSEAU_PKCS11_MODULE=$work/libslow-pkcs11.so TROUSSEAU_PKCS11_SYSTEM=0 TROUSSEAU_SLOW_MS=$slow_ms

bash scripts/in-session.sh xvfb-run -a -s "-screen 0 1280x900x24" node scripts/bench/pages.mjs "$bin" "$switches"
