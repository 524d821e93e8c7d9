#!/usr/bin/env bash
# Makes sure a pcscd answers on its socket, as systemd's socket activation does on a desktop Debian: containers,
# WSL and CI machines have no systemd, and Debian's package scripts then leave pcscd stopped.
# A socket file alone proves nothing: a killed pcscd leaves it behind (and pcscd refuses to start over it), so the
# check is a real connection. Prints the pid of the pcscd it started, nothing when one was already answering.
# With --wait-readers N, also waits until N readers are listed (vpcd's virtual readers appear a moment after
# the socket).
set -euo pipefail
SOCK=/run/pcscd/pcscd.comm
want_readers=0
[ "${1:-}" = "--wait-readers" ] && want_readers=${2:-1}

answers() {
  python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except OSError:
    sys.exit(1)' "$SOCK" 2>/dev/null
}

readers() {
  # One line per reader, from pcsc-lite itself (pcsc-tools' pcsc_scan has no one-shot mode).
  python3 - <<'PY' 2>/dev/null || echo 0
import ctypes, ctypes.util
lib = ctypes.CDLL(ctypes.util.find_library("pcsclite") or "libpcsclite.so.1")
ctx = ctypes.c_long()
if lib.SCardEstablishContext(2, None, None, ctypes.byref(ctx)) != 0:
    print(0)
else:
    n = ctypes.c_ulong(0)
    rc = lib.SCardListReaders(ctx, None, None, ctypes.byref(n))
    if rc != 0:
        print(0)
    else:
        buf = ctypes.create_string_buffer(n.value)
        lib.SCardListReaders(ctx, None, buf, ctypes.byref(n))
        print(len([r for r in buf.raw[: n.value].split(b"\0") if r]))
    lib.SCardReleaseContext(ctx)
PY
}

started=""
if ! answers; then
  [ -x /usr/sbin/pcscd ] || { echo "pcscd n'est pas installé (paquet Debian pcscd) : lancez scripts/deps.sh" >&2; exit 1; }
  rm -f "$SOCK" /run/pcscd/pcscd.pid
  # Its own session, re-parented to init: it outlives this script and is never a child of the app.
  setsid /usr/sbin/pcscd --foreground >/dev/null 2>&1 </dev/null &
  started=$!
  for _ in $(seq 100); do answers && break; sleep 0.1; done
  answers || { echo "pcscd did not open $SOCK within 10 s" >&2; exit 1; }
fi
if [ "$want_readers" -gt 0 ]; then
  for _ in $(seq 100); do [ "$(readers)" -ge "$want_readers" ] && break; sleep 0.1; done
  n=$(readers)
  [ "$n" -ge "$want_readers" ] || { echo "pcscd lists $n reader(s), expected $want_readers (vpcd)" >&2; exit 1; }
fi
echo "$started"
