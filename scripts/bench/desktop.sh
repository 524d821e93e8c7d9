#!/usr/bin/env bash
# Desktop benchmark (not in CI): builds Trousseau and the blank reference app (src-tauri/examples/blank.rs) in the
# debug profile with the same tauri features, then runs scripts/bench/desktop.mjs under Xvfb in a D-Bus session.
# Usage: bash scripts/bench/desktop.sh [LAUNCHES=10] [IDLE_SECONDS=30]
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
[ -f ui/dist/index.html ] || (cd ui && npm install --no-audit --no-fund && npm run build)
cargo build --locked -p trousseau-desktop
cargo build --locked -p trousseau-desktop --example blank --features bench-blank
target=${CARGO_TARGET_DIR:-target}
exec bash scripts/in-session.sh xvfb-run -a -s "-screen 0 1280x900x24" \
  node scripts/bench/desktop.mjs "$PWD/$target/debug/trousseau-desktop" "$PWD/$target/debug/examples/blank" "${1:-10}" "${2:-30}"
