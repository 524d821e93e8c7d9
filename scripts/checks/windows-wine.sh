#!/usr/bin/env bash
# The Windows build runs, not just compiles (issue 12): builds trousseau.exe and the core's unit tests once for
# x86_64-pc-windows-gnu and runs them under Debian's wine64 (8.0) in a fresh Wine prefix — the unit tests; certificate
# and .p12 inspection; a CSR with its pending key (vault key in the Credential Manager Wine emulates), the pending
# list and `cert install --p12-out`; the CurrentUser\MY store (import all or nothing, duplicates, export under a
# password policy re-read by OpenSSL, remove); a CA into CurrentUser\Root; kills during `csr new` that must leave the
# vault intact; the message when the Smart Card service is unavailable; PKCS#11 modules that crash or hang, each in
# its helper process. Fixtures and certificates are made by OpenSSL
# on the Linux side, and every file Trousseau writes is re-read there.
#
# Test support only: Wine 8.0 has no bcryptprimitives.dll (Rust's standard library imports ProcessPrng from it), so
# tests/windows/bcryptprimitives.c is built with MinGW and copied into the prefix. It is never shipped.
# Prints PASS/FAIL per flow, "windows flows passed: N/M" and the seconds taken; fails on any FAIL. If the Windows
# target cannot be installed, a visible WARNING is printed and the step is skipped (as scripts/checks/cross-targets.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$SECONDS

warn() { printf '\n**********\nWARNING: %s\n**********\n\n' "$*" >&2; }

have_target() {
  local target=$1
  if ! command -v rustup >/dev/null 2>&1; then
    warn "rustup is not available: cannot add $target, the Windows run under Wine is SKIPPED"
    return 1
  fi
  if rustup target list --installed 2>/dev/null | grep -qx "$target"; then
    return 0
  fi
  if rustup target add "$target"; then
    return 0
  fi
  warn "rustup target add $target was refused: the Windows run under Wine is SKIPPED"
  return 1
}

WINE=/usr/lib/wine/wine64
WINESERVER=/usr/lib/wine/wineserver
if [ ! -x "$WINE" ]; then
  echo "wine64 is missing ($WINE): install it with scripts/deps.sh" >&2
  exit 1
fi
have_target x86_64-pc-windows-gnu || exit 0

echo "== cargo build --bin trousseau --target x86_64-pc-windows-gnu"
AWS_LC_SYS_PREBUILT_NASM=1 cargo build --locked --target x86_64-pc-windows-gnu --bin trousseau
echo "== cargo test --lib --no-run --target x86_64-pc-windows-gnu (the core's unit tests, run under Wine below)"
UNIT_TESTS=$(AWS_LC_SYS_PREBUILT_NASM=1 cargo test --locked --lib --target x86_64-pc-windows-gnu --no-run \
  --message-format=json | python3 -c '
import json, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "trousseau":
        print(m["executable"])')
[ -n "$UNIT_TESTS" ] || { echo "the Windows unit-test executable was not found"; exit 1; }
built=$SECONDS
target_dir=${CARGO_TARGET_DIR:-target}
EXE=$(realpath "$target_dir/x86_64-pc-windows-gnu/debug/trousseau.exe")

work=$(mktemp -d /tmp/trousseau-wine.XXXXXX)
export WINEPREFIX=$work/prefix WINEARCH=win64 WINEDEBUG=${WINEDEBUG:--all} WINEDLLOVERRIDES="mscoree,mshtml="
cleanup() {
  "$WINESERVER" -k >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== fresh Wine prefix, test-support bcryptprimitives.dll"
x86_64-w64-mingw32-gcc -shared -O2 -o "$work/bcryptprimitives.dll" tests/windows/bcryptprimitives.c -ladvapi32
x86_64-w64-mingw32-gcc -shared -O1 -DFAULT_CRASH_FIND -o "$work/faulty-crash.dll" tests/modules/faulty-pkcs11.c
x86_64-w64-mingw32-gcc -shared -O1 -DFAULT_HANG_LOGIN -o "$work/faulty-hang.dll" tests/modules/faulty-pkcs11.c
"$WINE" wineboot --init >"$work/wineboot.log" 2>&1
"$WINESERVER" -w
cp "$work/bcryptprimitives.dll" "$WINEPREFIX/drive_c/windows/system32/"
# Files shared by both sides: C:\t on Windows, $D here.
D=$WINEPREFIX/drive_c/t
mkdir -p "$D" "$work/log"
cp "$work/faulty-crash.dll" "$work/faulty-hang.dll" "$D/"
prefixed=$SECONDS

# --- fixtures, made by OpenSSL on the Linux side ------------------------------------------------------------------
# Passwords reach both sides through the environment (Wine passes it to Windows processes), never a command line.
export P12_PASSWORD="Wine-$(openssl rand -hex 6)-Pass!" NEW_PASSWORD="Export-$(openssl rand -hex 6)-Pass!" WEAK_PASSWORD=short
export TROUSSEAU_LANG=en
(
  cd "$D"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30 -subj "/CN=Wine Test CA/O=Trousseau/C=LU" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
  openssl req -newkey rsa:2048 -nodes -keyout leaf.key -out leaf.csr -subj "/CN=Marie Wine/O=Trousseau/C=LU"
  printf 'keyUsage=critical,digitalSignature,keyEncipherment\n' >leaf.ext
  openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -extfile leaf.ext -out leaf.pem
  # OpenSSL 3 defaults (PBES2/AES-256-CBC, HMAC-SHA-256) with the chain, and the legacy form (RC2/3DES, SHA-1 MAC).
  openssl pkcs12 -export -inkey leaf.key -in leaf.pem -certfile ca.pem -name "Marie Wine" -out leaf.p12 \
    -passout env:P12_PASSWORD
  openssl pkcs12 -export -legacy -inkey leaf.key -in leaf.pem -name "Marie Wine" -out leaf-legacy.p12 \
    -passout env:P12_PASSWORD
  head -c 700 leaf.p12 >truncated.p12
) >"$work/log/fixtures.log" 2>&1 || { cat "$work/log/fixtures.log"; exit 1; }

# --- helpers (exported: each flow runs in its own `bash -e`, so one failing command fails the flow) ---------------
export WINE EXE UNIT_TESTS D work
# trousseau.exe under Wine.
tw() { "$WINE" "$EXE" "$@"; }
# Asserts a Python expression over the JSON document on stdin (bound to `d`).
jcheck() { python3 -c 'import json,sys; d=json.load(sys.stdin); assert eval(sys.argv[1]), (sys.argv[1], d)' "$1"; }
# Runs trousseau.exe expecting failure with this error code (--json); the message is shown.
expect_error() {
  local code=$1 rc=0; shift
  tw "$@" --json >"$work/out" 2>"$work/err" || rc=$?
  [ "$rc" -eq 1 ] || { echo "expected exit 1 ($code), got $rc"; cat "$work/out" "$work/err"; return 1; }
  jcheck "d['error']['code'] == '$code'" <"$work/err"
  echo "  refused as expected: $(python3 -c 'import json,sys; print(json.load(sys.stdin)["error"]["message"])' <"$work/err")"
}
sha256_of() { openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr 'A-F' 'a-f'; }
modulus() { openssl "$1" -in "$2" -noout -modulus; }
# Reads a .p12 with OpenSSL: the key inside matches the certificate inside, and that key is $3's (PEM).
p12_matches_key() {
  local p12=$1 pass_env=$2 key=$3 dump=$work/dump.pem
  openssl pkcs12 -in "$p12" -passin "env:$pass_env" -nodes -out "$dump" 2>/dev/null
  [ "$(modulus rsa "$dump")" = "$(modulus x509 "$dump")" ] || { echo "key and certificate differ in $p12"; return 1; }
  if [ -n "$key" ]; then
    [ "$(modulus rsa "$dump")" = "$(modulus rsa "$key")" ] || { echo "not the original key in $p12"; return 1; }
  fi
}
store_count() { tw store list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
export -f tw jcheck expect_error sha256_of modulus p12_matches_key store_count
LEAF_SHA=$(sha256_of "$D/leaf.pem")
CA_SHA=$(sha256_of "$D/ca.pem")
export LEAF_SHA CA_SHA

passed=0
total=0
flow() {
  local name=$1 fn=$2 t0=$SECONDS
  total=$((total + 1))
  if bash -euo pipefail -c "$fn" >"$work/log/flow$total.log" 2>&1; then
    passed=$((passed + 1))
    printf 'PASS  %-62s %3d s\n' "$name" $((SECONDS - t0))
    grep -E '^  (logged|refused as expected|unit tests|[0-9]+ of)' "$work/log/flow$total.log" | cut -c1-200 || true
  else
    printf 'FAIL  %-62s %3d s\n' "$name" $((SECONDS - t0))
    sed 's/^/    | /' "$work/log/flow$total.log" | tail -40
  fi
}

# --- flows --------------------------------------------------------------------------------------------------------
f_cert_inspect() {
  tw cert inspect 'C:\t\leaf.pem' --json >"$work/o.json"
  jcheck "d[0]['sha256'] == '$LEAF_SHA' and 'CN=Marie Wine' in d[0]['subject'] and 'keyEncipherment' in d[0]['key_usage']" \
    <"$work/o.json"
  tw cert inspect 'C:\t\ca.pem' --json | jcheck "d[0]['sha256'] == '$CA_SHA' and d[0]['is_ca']"
}

f_p12_inspect() {
  for f in leaf.p12 leaf-legacy.p12; do
    tw p12 inspect "C:\\t\\$f" --password-env P12_PASSWORD --json |
      jcheck "d['private_keys'] == 1 and any(c['sha256'] == '$LEAF_SHA' for c in d['certificates'])"
  done
  tw p12 inspect 'C:\t\leaf.p12' --password-env P12_PASSWORD --json | jcheck "len(d['certificates']) == 2"
  expect_error pkcs12.wrong_password p12 inspect 'C:\t\leaf.p12' --password-env WEAK_PASSWORD
}

f_csr_vault_install() {
  tw csr new --json --subject "CN=Wine Request,O=Trousseau,C=LU" --out 'C:\t\req.csr' >"$work/csr.json"
  id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' <"$work/csr.json")
  openssl req -in "$D/req.csr" -noout -verify
  tw pending list --json | jcheck "any(e['id'] == '$id' and e['status'] == 'ok' for e in d)"
  openssl x509 -req -in "$D/req.csr" -CA "$D/ca.pem" -CAkey "$D/ca.key" -CAcreateserial -days 30 -out "$D/issued.pem" 2>/dev/null
  tw cert install 'C:\t\issued.pem' --p12-out 'C:\t\reunited.p12' --password-env NEW_PASSWORD --json |
    jcheck "d['id'] == '$id' and d['retired']"
  p12_matches_key "$D/reunited.p12" NEW_PASSWORD ""
  [ "$(modulus x509 "$D/issued.pem")" = "$(modulus req "$D/req.csr")" ]
  tw pending list --json | jcheck "not any(e['id'] == '$id' for e in d)"
}

f_store_import() {
  before=$(store_count)
  # All or nothing: a wrong password and a truncated file change nothing.
  expect_error pkcs12.wrong_password p12 import 'C:\t\leaf.p12' --password-env WEAK_PASSWORD
  rc=0; tw p12 import 'C:\t\truncated.p12' --password-env P12_PASSWORD --json >/dev/null 2>&1 || rc=$?
  [ "$rc" -eq 1 ] || { echo "truncated .p12: exit $rc"; exit 1; }
  [ "$(store_count)" = "$before" ] || { echo "a refused import changed the store"; exit 1; }
  TROUSSEAU_LOG=info tw p12 import 'C:\t\leaf.p12' --password-env P12_PASSWORD --json >"$work/imp.json" 2>"$work/imp.err"
  # Where the CNG key storage provider refuses (Wine 8.0), the legacy CSP takes the key and the reason is logged
  # (at info level: the import succeeds).
  grep -h 'PFXImportCertStore' "$work/imp.err" | sed 's/\x1b\[[0-9;]*m//g; s/^/  logged: /' || true
  jcheck "d['sha256'] == '$LEAF_SHA' and not d['already_present']" <"$work/imp.json"
  jcheck "any(i['kind'] == 'private_key' and not i['already_present'] for i in d['items'])" <"$work/imp.json"
  tw store list --json | jcheck "any(c['sha256'] == '$LEAF_SHA' and c['has_private_key'] for c in d)"
}

f_store_duplicate() {
  before=$(store_count)
  tw p12 import 'C:\t\leaf.p12' --password-env P12_PASSWORD --json | jcheck "d['already_present']"
  tw p12 import 'C:\t\leaf-legacy.p12' --password-env P12_PASSWORD --json | jcheck "d['already_present']"
  [ "$(store_count)" = "$before" ] || { echo "a duplicate import added a certificate"; exit 1; }
}

f_store_export() {
  expect_error password.policy store export "$LEAF_SHA" --out 'C:\t\weak.p12' --policy igc-sante \
    --password-env WEAK_PASSWORD
  [ ! -e "$D/weak.p12" ] || { echo "a refused export left a file"; exit 1; }
  tw store export "$LEAF_SHA" --out 'C:\t\exported.p12' --policy igc-sante --password-env NEW_PASSWORD --json
  p12_matches_key "$D/exported.p12" NEW_PASSWORD "$D/leaf.key"
  # The chain comes along: the CA went to CurrentUser\CA at import and is found there again.
  n=$(openssl pkcs12 -in "$D/exported.p12" -passin env:NEW_PASSWORD -nokeys 2>/dev/null | grep -c 'BEGIN CERTIFICATE')
  [ "$n" -eq 2 ] || { echo "exported .p12 holds $n certificates, expected the leaf and its CA"; exit 1; }
  openssl pkcs12 -in "$D/exported.p12" -passin env:NEW_PASSWORD -info -noout 2>&1 | grep -q 'AES-256-CBC'
  tw store export "$LEAF_SHA" --out 'C:\t\exported-legacy.p12' --legacy --password-env NEW_PASSWORD --json
  p12_matches_key "$D/exported-legacy.p12" NEW_PASSWORD "$D/leaf.key"
  openssl pkcs12 -in "$D/exported-legacy.p12" -passin env:NEW_PASSWORD -info -noout 2>&1 | grep -q '3-KeyTripleDES'
}

f_store_remove() {
  tw store remove "$LEAF_SHA" --json
  tw store list --json | jcheck "not any(c['sha256'] == '$LEAF_SHA' for c in d)"
  expect_error store.not_found store remove "$LEAF_SHA"
  # Removed with its key: importing again installs the key afresh.
  tw p12 import 'C:\t\leaf.p12' --password-env P12_PASSWORD --json | jcheck "not d['already_present']"
  # A certificate whose key was deleted behind its back is still removable (Wine keeps CryptoAPI key containers under
  # HKCU\Software\Wine\Crypto\RSA).
  "$WINE" reg delete 'HKCU\Software\Wine\Crypto\RSA' /f >/dev/null
  tw store remove "$LEAF_SHA" --json >/dev/null
  tw store list --json | jcheck "not any(c['sha256'] == '$LEAF_SHA' for c in d)"
}

f_ca_root() {
  expect_error store.not_ca store import-ca 'C:\t\leaf.pem'
  tw store import-ca 'C:\t\ca.pem' --json | jcheck "d[0]['sha256'] == '$CA_SHA' and not d[0]['already_present']"
  tw store import-ca 'C:\t\ca.pem' --json | jcheck "d[0]['already_present']"
}

f_kill_csr_new() {
  # How long one `csr new` takes here, then kills spread over that time (SIGKILL to the Windows process).
  t0=$(date +%s%N)
  tw csr new --subject "CN=Kill Calibration,C=LU" --out 'C:\t\kcal.csr' >/dev/null
  span=$(( ($(date +%s%N) - t0) / 1000000 ))
  runs=16
  # The kill delay adapts as the runs go (the calibration run also creates the vault key, so later runs can be
  # much faster, and the machine's load changes): a run that finished before its kill shortens the next delay, a
  # run killed lengthens it a little, so that kills keep landing mid-run. Each delay is jittered ±30 %.
  kills=0
  delay=$((span / 2))
  for i in $(seq 1 $runs); do
    "$WINE" "$EXE" csr new --subject "CN=Kill $i,C=LU" --out "C:\\t\\k$i.csr" >/dev/null 2>&1 &
    pid=$!
    sleep "$(awk -v d="$delay" -v r="$RANDOM" 'BEGIN { printf "%.3f", d * (0.7 + 0.6 * r / 32768) / 1000 }')"
    kill -9 "$pid" 2>/dev/null || true
    rc=0
    wait "$pid" 2>/dev/null || rc=$?
    if [ "$rc" -eq 137 ]; then # 128 + SIGKILL: killed mid-run (a finished run exits 0)
      kills=$((kills + 1))
      delay=$((delay * 11 / 10 + 1))
    else
      delay=$((delay * 6 / 10 + 1))
    fi
  done
  "$WINESERVER" -w 2>/dev/null || true
  tw pending list --json >"$work/pending.json"
  jcheck "all(e['status'] == 'ok' for e in d)" <"$work/pending.json"
  written=0
  for i in $(seq 1 $runs); do
    [ -e "$D/k$i.csr" ] || continue
    written=$((written + 1))
    id=$(python3 -c 'import json,sys; print(next(e["id"] for e in json.load(sys.stdin) if (e.get("csr_path") or "").endswith(sys.argv[1])))' \
      "\\k$i.csr" <"$work/pending.json")
    tw pending csr "$id" --out "C:\\t\\again$i.csr" >/dev/null
    cmp "$D/k$i.csr" "$D/again$i.csr"
  done
  echo "  $kills of $runs runs killed mid-run (one run: ${span} ms), $written CSRs written, each with its key in the vault"
  [ "$kills" -gt 0 ] || { echo "no run was killed mid-run"; exit 1; }
  tw csr new --subject "CN=After The Kills,C=LU" --out 'C:\t\after.csr' >/dev/null
}
f_unit_tests() {
  # The core's unit tests (pkcs12, cert, csr, vault, i18n, store and card messages…) on Windows.
  "$WINE" "$UNIT_TESTS" --test-threads=2 >"$work/unit.log" 2>&1 || { tail -60 "$work/unit.log"; exit 1; }
  grep 'test result' "$work/unit.log" | sed 's/^/  unit tests: /'
}

f_cards_no_service() {
  # Wine 8.0's winscard is a stub: SCardEstablishContext fails as on a Windows whose Smart Card service is stopped.
  # The user is told that SCardSvr is not running and how to start it, in each language.
  expect_error card.service_unavailable cards
  grep -q 'SCardSvr' "$work/err" && grep -q 'services.msc' "$work/err" && grep -q 'is not running' "$work/err"
  TROUSSEAU_LANG=fr expect_error card.service_unavailable cards
  grep -q "n'est pas démarré" "$work/err"
  TROUSSEAU_LANG=de expect_error card.service_unavailable cards
  grep -q 'läuft nicht' "$work/err"
}
f_faulty_modules() {
  # Vendor PKCS#11 modules run in a helper process each (src/token/host.rs): a DLL that crashes (access violation in
  # C_FindObjects) or hangs (C_Login) is reported, and the tokens of the other module are still listed.
  export TROUSSEAU_PKCS11_MODULE='C:\t\faulty-crash.dll;C:\t\faulty-hang.dll' TROUSSEAU_PKCS11_SYSTEM=0
  tw tokens --json | jcheck "sorted(t['label'] for t in d['tokens']) == ['Carte muette', 'Carte qui plante']"
  # Wine prints its own "Unhandled page fault" line on stderr before ours: the error is the last line.
  local rc=0
  tw token certs --token 'Carte qui plante' --json >"$work/out" 2>"$work/err" || rc=$?
  [ "$rc" -eq 1 ] && tail -n 1 "$work/err" | jcheck "d['error']['code'] == 'token.module_crashed'"
  echo "  refused as expected: $(tail -n 1 "$work/err" | cut -c1-160)"
  TROUSSEAU_PKCS11_TIMEOUT_MS=3000 FAULTY_PIN=0000 expect_error token.timeout token login --token 'Carte muette' \
    --pin-env FAULTY_PIN
  tw token certs --token 'Carte muette' --json | jcheck "d == []"
}
export -f f_unit_tests f_faulty_modules f_cards_no_service f_cert_inspect f_p12_inspect f_csr_vault_install f_store_import f_store_duplicate f_store_export \
  f_store_remove f_ca_root f_kill_csr_new
export WINESERVER

echo "== Windows flows under $("$WINE" --version) (WINEPREFIX=$WINEPREFIX)"
flow "core unit tests (cargo test --lib) on Windows" f_unit_tests
flow "cert inspect (PEM leaf, CA)" f_cert_inspect
flow "p12 inspect (OpenSSL 3 default and -legacy, wrong password)" f_p12_inspect
flow "csr new + vault (Credential Manager) + pending + cert install --p12-out" f_csr_vault_install
flow "store CurrentUser\\MY: .p12 import all-or-nothing, list" f_store_import
flow "store CurrentUser\\MY: duplicates reported, nothing added" f_store_duplicate
flow "store export: password policy, modern and legacy, OpenSSL re-reads" f_store_export
flow "store remove (certificate and key; key already gone)" f_store_remove
flow "CA import into CurrentUser\\Root" f_ca_root
flow "SIGKILL during csr new leaves the vault intact" f_kill_csr_new
flow "cards: Smart Card service (SCardSvr) unavailable, said clearly" f_cards_no_service
flow "PKCS#11: a crashing and a hanging module, each in its helper process" f_faulty_modules

done_at=$SECONDS
echo
echo "windows flows passed: $passed/$total"
echo "windows step: $((done_at - started)) s (build $((built - started)) s, prefix $((prefixed - built)) s, flows $((done_at - prefixed)) s)"
[ "$passed" -eq "$total" ]
