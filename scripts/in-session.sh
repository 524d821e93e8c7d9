#!/usr/bin/env bash
# Runs a command inside the session the tests need (DESIGN.md "Session services"): one D-Bus session, a fresh 0700
# HOME and XDG_RUNTIME_DIR, gnome-keyring's Secret Service unlocked. Usage: scripts/in-session.sh CMD [ARGS...]
set -euo pipefail
export CARGO_HOME=${CARGO_HOME:-$HOME/.cargo} RUSTUP_HOME=${RUSTUP_HOME:-$HOME/.rustup}
export PATH="$CARGO_HOME/bin:$PATH"
if [ -z "${TROUSSEAU_IN_SESSION:-}" ]; then
  session=$(mktemp -d /tmp/trousseau-session.XXXXXX)
  mkdir -m 700 "$session/home" "$session/run"
  export TROUSSEAU_IN_SESSION=$session TROUSSEAU_REAL_HOME=$HOME HOME="$session/home" XDG_RUNTIME_DIR="$session/run"
  rc=0
  dbus-run-session -- "$0" "$@" || rc=$?
  rm -rf "$session"
  exit $rc
fi
printf 'trousseau-test-keyring' | gnome-keyring-daemon --unlock --components=secrets >/dev/null
exec "$@"
