#!/usr/bin/env bash
# Differential check against OpenSSL (the acceptance rule: what OpenSSL reads we read with the same fingerprints;
# the rest we refuse cleanly). Not run in CI; run it on any corpus directory, e.g. after a fuzzing session:
#   bash fuzz/differential.sh cert   DIR...   # openssl x509 (PEM then DER) vs `trousseau cert inspect`
#   bash fuzz/differential.sh pkcs12 DIR...   # openssl pkcs12 -legacy (password FUZZ_PW or empty) vs `p12 inspect`
# Prints MISMATCH (OpenSSL reads, we differ or refuse), WEONLY (we read, OpenSSL refuses; expected for PKCS#7
# bags, which `openssl x509` does not read) and a summary.
set -u
T=${TROUSSEAU:-target/debug/trousseau}
kind=$1; shift
export FUZZ_PW=${FUZZ_PW:-Fixture#Passw0rd}
agree=0; both_refuse=0; we_only=0; mismatch=0
for f in $(find "$@" -type f | sort); do
  case $kind in
  cert)
    o=$( (openssl x509 -in "$f" -noout -fingerprint -sha256 2>/dev/null || openssl x509 -inform DER -in "$f" -noout -fingerprint -sha256 2>/dev/null) | sed -n 's/.*=//p' | tr -d : | tr A-F a-f)
    t=$("$T" --json cert inspect "$f" 2>/dev/null | python3 -c "import json,sys; print(' '.join(c['sha256'] for c in json.load(sys.stdin)))" 2>/dev/null)
    ok() { [[ " $t " == *" $o "* ]]; } ;;
  pkcs12)
    o=""; t=""
    for pw in "$FUZZ_PW" ""; do
      out=$(P="$pw" timeout 30 openssl pkcs12 -in "$f" -passin env:P -nodes -legacy 2>/dev/null) || continue
      o="$(grep -c "BEGIN CERTIFICATE" <<<"$out") $(grep -c "PRIVATE KEY-----" <<<"$out")"; break
    done
    for pw in "$FUZZ_PW" ""; do
      out=$(printf '%s' "$pw" | timeout 30 "$T" --json p12 inspect "$f" --password-stdin 2>/dev/null) || continue
      t=$(python3 -c "import json,sys; d=json.load(sys.stdin); print(len(d['certificates']), d['private_keys'])" <<<"$out"); break
    done
    # OpenSSL prints each key's BEGIN and END line: halve the count.
    [ -n "$o" ] && o="${o% *} $(( ${o#* } / 2 ))"
    ok() { [ "$o" = "$t" ]; } ;;
  *) echo "usage: $0 cert|pkcs12 DIR..."; exit 2 ;;
  esac
  if [ -n "$o" ]; then
    if ok; then agree=$((agree+1)); else mismatch=$((mismatch+1)); echo "MISMATCH $f openssl=$o ours=${t:-refused}"; fi
  elif [ -n "$t" ]; then we_only=$((we_only+1)); echo "WEONLY $f"; else both_refuse=$((both_refuse+1)); fi
done
echo "agree=$agree both_refuse=$both_refuse we_only=$we_only mismatch=$mismatch"
