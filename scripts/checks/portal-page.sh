#!/usr/bin/env bash
# The sandbox portal page in headless Chromium (Debian's chromium, playwright-core; no browser download): pairing
# approved on the page, "Etat de Mon Assistant : Connecté" appears when `trousseau portal run` starts and
# "Déconnecté" when it stops; the wizard lists the workstation's certificate; axe-core on every page.
# Needs the keyring session (scripts/in-session.sh) and built binaries (cargo build --workspace).
set -euo pipefail
cd "$(dirname "$0")/../.."
target=${CARGO_TARGET_DIR:-$PWD/target}/debug
[ -x "$target/trousseau" ] && [ -x "$target/trousseau-sandbox" ] || cargo build --locked -p trousseau -p trousseau-sandbox
[ -x /usr/bin/chromium ] || { echo "chromium missing: run scripts/deps.sh test"; exit 1; }
(cd tests/portal-page && { [ -d node_modules/playwright-core ] || npm install --no-audit --no-fund; })

work=$(mktemp -d /tmp/trousseau-portal-page.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/home" "$work/nssdb"
export TROUSSEAU_HOME=$work/home TROUSSEAU_NSSDB=$work/nssdb TROUSSEAU_LANG=fr
certutil -N -d "sql:$work/nssdb" --empty-password
# one encryption certificate with its key in the workstation's store
printf 'Page-%s!' "$(openssl rand -hex 6)" > "$work/pw"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" -days 30 \
  -subj "/CN=Agent Page/O=Trousseau/C=LU" -addext "keyUsage=digitalSignature,keyEncipherment" 2>/dev/null
openssl pkcs12 -export -inkey "$work/key.pem" -in "$work/cert.pem" -name "Agent Page" -out "$work/agent.p12" \
  -passout "file:$work/pw"
"$target/trousseau" p12 import --password-stdin "$work/agent.p12" < "$work/pw" >/dev/null
node tests/portal-page/check.mjs "$target/trousseau" "$target/trousseau-sandbox" "$work"
