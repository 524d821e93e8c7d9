#!/usr/bin/env bash
# Desktop benchmark (not in CI): builds Trousseau and the blank reference app (src-tauri/examples/blank.rs) in the
# same profile with the same tauri features, then runs scripts/bench/desktop.mjs under Xvfb in a D-Bus session.
# Usage: [BENCH_PROFILE=release] bash scripts/bench/desktop.sh [LAUNCHES=10] [IDLE_SECONDS=30]
# The default is the debug profile that CI, the tests and the .deb of scripts/checks share; BENCH_PROFILE=release
# measures what the release matrix (.github/workflows/release.yml) ships (a long build: not for CI).
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
[ -f ui/dist/index.html ] || (cd ui && npm install --no-audit --no-fund && npm run build)
profile=${BENCH_PROFILE:-debug}
export BENCH_PROFILE=$profile
flag=(); [ "$profile" = release ] && flag=(--release)
cargo build --locked "${flag[@]}" -p trousseau-desktop
cargo build --locked "${flag[@]}" -p trousseau-desktop --example blank --features bench-blank
target=${CARGO_TARGET_DIR:-target}
exec bash scripts/in-session.sh xvfb-run -a -s "-screen 0 1280x900x24" \
  node scripts/bench/desktop.mjs "$PWD/$target/$profile/trousseau-desktop" "$PWD/$target/$profile/examples/blank" "${1:-10}" "${2:-30}"
