#!/usr/bin/env bash
# Runs Trousseau on a fresh Debian 12 machine: installs what it needs, builds the window (ui/) and the app, starts
# the reference portal (sandbox/) on 127.0.0.1 BESIDE the app — not as its child, so the app's memory is measured
# over its own process tree — and then the desktop app. Extra arguments go to the app (e.g. `--tray`).
# Without a display (SSH, CI) the app runs under Xvfb; without a session bus, inside dbus-run-session.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

bash scripts/deps.sh run
(cd ui && npm install --no-audit --no-fund && npm run build)
cargo build --locked -p trousseau-desktop -p trousseau-sandbox -p trousseau

# The PC/SC service: systemd starts it on demand on a desktop; without systemd (container, WSL) start it here.
if ! bash scripts/pcscd-up.sh >/dev/null; then
  echo "== le service des cartes (pcscd) n'a pas pu démarrer : Trousseau fonctionne, mais sans lecteur de cartes"
fi

portal_addr=${TROUSSEAU_SANDBOX_ADDR:-127.0.0.1:8750}
portal_dir=${XDG_DATA_HOME:-$HOME/.local/share}/trousseau-sandbox
mkdir -p "$portal_dir"
if (exec 3<>"/dev/tcp/${portal_addr%:*}/${portal_addr##*:}") 2>/dev/null; then
  echo "== portail de test déjà lancé sur http://$portal_addr"
else
  # Double fork + setsid: the portal is re-parented to init, never a child of the app started below.
  (setsid target/debug/trousseau-sandbox serve --listen "$portal_addr" --db "$portal_dir/portal.sqlite" \
     >"$portal_dir/portal.log" 2>&1 < /dev/null &)
  echo "== portail de test lancé sur http://$portal_addr (journal : $portal_dir/portal.log)"
fi

app=(target/debug/trousseau-desktop "$@")
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "== pas d'écran : Trousseau démarre sous Xvfb"
  app=(xvfb-run -a -s "-screen 0 1280x900x24" "${app[@]}")
fi
if [ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ]; then
  app=(dbus-run-session -- "${app[@]}")
fi
exec "${app[@]}"
