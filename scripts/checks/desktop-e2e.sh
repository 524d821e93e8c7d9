#!/usr/bin/env bash
# End to end in the real desktop app: tauri-driver + WebKitWebDriver under Xvfb, a temporary TROUSSEAU_HOME and NSS
# database, a .p12 made here with OpenSSL. Screenshots land in docs/screenshots/. The installed certificate is
# re-checked with certutil (a second implementation). Run inside scripts/in-session.sh (D-Bus for single-instance).
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

if ! command -v tauri-driver >/dev/null 2>&1; then
  cargo install --locked tauri-driver@^2
fi
[ -d ui/node_modules ] || (cd ui && npm install --no-audit --no-fund)
[ -f ui/dist/index.html ] || (cd ui && npm run build)
cargo build --locked -p trousseau-desktop -p trousseau-sandbox
bin=${CARGO_TARGET_DIR:-$PWD/target}/debug/trousseau-desktop

work=$(mktemp -d /tmp/trousseau-e2e.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/home" "$work/nssdb"
export TROUSSEAU_HOME=$work/home TROUSSEAU_NSSDB=$work/nssdb TROUSSEAU_LANG=fr
certutil -N -d "sql:$work/nssdb" --empty-password

# pcscd with vpcd's virtual readers (one pcscd per machine; started here when none answers — a socket file left by
# a killed pcscd does not count); the test's virtual card uses the second reader's port.
pcscd_pid=$(bash scripts/pcscd-up.sh --wait-readers 2)
trap 'rm -rf "$work"; [ -n "$pcscd_pid" ] && kill "$pcscd_pid" 2>/dev/null || true' EXIT
export VPCD_PORT=35964

# A SoftHSM2 token (its own configuration) for the Cartes et jetons page; no system module scan.
mkdir -p "$work/softhsm"
printf 'directories.tokendir = %s\nobjectstore.backend = file\n' "$work/softhsm" > "$work/softhsm2.conf"
export SOFTHSM2_CONF=$work/softhsm2.conf TROUSSEAU_PKCS11_MODULE=/usr/lib/softhsm/libsofthsm2.so TROUSSEAU_PKCS11_SYSTEM=0
softhsm2-util --init-token --free --label "Jeton E2E" --pin 123456 --so-pin 12345678 >/dev/null
# A LuxTrust-like certificate (signature and encryption usages) with its key pair on the token, for the page's
# certificate table and the Bi-clés list ("carte « Jeton E2E »").
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/card.key" -outform DER -out "$work/card.crt.der" -days 400 \
  -subj "/CN=Carte Agent E2E/O=LuxTrust S.A./C=LU" \
  -addext "keyUsage=critical,digitalSignature,nonRepudiation,keyEncipherment,dataEncipherment" \
  -addext "basicConstraints=critical,CA:FALSE" 2>/dev/null
openssl pkey -in "$work/card.key" -outform DER -out "$work/card.key.der"
openssl pkey -in "$work/card.key" -pubout -outform DER -out "$work/card.pub.der"
for object in "cert card.crt.der" "privkey card.key.der" "pubkey card.pub.der"; do
  set -- $object
  pkcs11-tool --module "$TROUSSEAU_PKCS11_MODULE" --token-label "Jeton E2E" --login --pin 123456 \
    --write-object "$work/$2" --type "$1" --id c1 --label "Carte Agent E2E" >/dev/null
done

# The reference portal on a free loopback port, in the portal list (portals.json, shared by the window and the CLI).
SANDBOX_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export SANDBOX_PORT SANDBOX_BIN=${CARGO_TARGET_DIR:-$PWD/target}/debug/trousseau-sandbox
mkdir -p "$work/home/config"
cat > "$work/home/config/desktop.json" <<JSON
{"lang":"fr","autostart":false,"notifications":true,"pkcs11_modules":[],"portals":[]}
JSON
cat > "$work/home/config/portals.json" <<JSON
{"portals":[{"name":"Portail de test (e2e)","url":"http://127.0.0.1:$SANDBOX_PORT"}]}
JSON

# The fixture: an RSA key and a certificate usable for encryption, in a modern (AES-256) .p12.
password="E2e-$(openssl rand -hex 8)!"
printf '%s' "$password" > "$work/p12-password"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" -days 20 \
  -subj "/CN=Agent Trousseau E2E/O=Trousseau/C=LU" -addext "keyUsage=digitalSignature,keyEncipherment" 2>/dev/null
openssl pkcs12 -export -inkey "$work/key.pem" -in "$work/cert.pem" -name "Agent Trousseau E2E" \
  -out "$work/agent.p12" -passout "file:$work/p12-password"
# A bid encrypted by OpenSSL to that certificate (AES-256-GCM), opened on the "Ouvrir un pli" page.
printf 'Offre de prix — lot 3 : 12 500 EUR HT\n' > "$work/offre.txt"
openssl cms -encrypt -binary -in "$work/offre.txt" -outform DER -out "$work/offre.txt.p7m" -aes-256-gcm "$work/cert.pem"
# A test CA that "withdraws" the certificate for the CSR made in the window.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/ca.key" -out "$work/ca.pem" -days 30 \
  -subj "/CN=AC de test IGC-SANTE E2E/O=Trousseau/C=FR" 2>/dev/null

xvfb-run -a -s "-screen 0 1280x900x24" node tests/desktop-e2e/run.mjs "$bin" "$work"

# Second implementation: NSS itself lists the imported certificate with its key.
certutil -L -d "sql:$work/nssdb" | grep -q "Agent Trousseau E2E" || { echo "certutil does not list the imported certificate"; exit 1; }
certutil -K -d "sql:$work/nssdb" </dev/null | grep -qi "rsa" || { echo "certutil does not list the imported private key"; exit 1; }
echo "desktop e2e: certificate and key found by certutil"
# The .p12 exported from the window, re-read by OpenSSL with its password: key and certificate, 3DES (legacy).
openssl pkcs12 -in "$work/export.p12" -passin "pass:Cheval-Agrafe-Batterie-42!" -legacy -nodes 2>/dev/null | grep -q "BEGIN PRIVATE KEY" \
  || { echo "openssl cannot read the exported .p12 with its key"; exit 1; }
openssl pkcs12 -in "$work/export.p12" -passin "pass:Cheval-Agrafe-Batterie-42!" -legacy -info -noout 2>&1 | grep -q "3DES\|pbeWithSHA1And3-KeyTripleDES" \
  || { echo "the exported .p12 is not 3DES"; exit 1; }
if certutil -L -d "sql:$work/nssdb" | grep -q "AC de test IGC-SANTE E2E"; then echo "certutil still lists the CA removed in the window"; exit 1; fi
echo "desktop e2e: exported .p12 read by openssl; the CA installed then removed in the window is gone for certutil"
# The CSR made by the wizard, re-read by OpenSSL: signature valid, RSA 2048, the subject typed in the window.
openssl req -in "$work/demande.csr" -noout -verify 2>&1 | grep -qi "verify ok" || { echo "openssl does not verify the CSR"; exit 1; }
openssl req -in "$work/demande.csr" -noout -text | grep -q "Public-Key: (2048 bit)" || { echo "CSR key is not RSA 2048"; exit 1; }
openssl req -in "$work/demande.csr" -noout -subject -nameopt RFC2253 | grep -q "SN=Dupont" || { echo "CSR subject lacks SN=Dupont"; exit 1; }
openssl req -in "$work/generique.csr" -noout -verify 2>&1 | grep -qi "verify ok" || { echo "openssl does not verify the generic CSR"; exit 1; }
openssl req -in "$work/generique.csr" -noout -text | grep -q "email:jean.dupont@exemple.lu" || { echo "generic CSR lacks its e-mail SAN"; exit 1; }
echo "desktop e2e: CSR verified by openssl"
keys=$(certutil -K -d "sql:$work/nssdb" </dev/null | grep -ci "rsa" || true)
[ "$keys" -ge 2 ] || { echo "certutil lists $keys private key(s), expected the imported one and the reunited one"; exit 1; }
echo "desktop e2e: reunited certificate's key found by certutil ($keys RSA keys)"
# The imported certificate expires in 20 days: reopening the window announced it once (J-30).
grep -q '"cert:[0-9a-f]*:30"' "$work/home/data/reminders.json" || { echo "no J-30 reminder recorded"; exit 1; }
echo "desktop e2e: J-30 reminder recorded"
