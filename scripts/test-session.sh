#!/usr/bin/env bash
# Inside the test session (scripts/in-session.sh, called by scripts/test.sh): build once, run every check,
# and end with the test runner's own summary.
set -euo pipefail
export CARGO_TERM_COLOR=never
step() { echo; echo "== $*"; }

# `npm install`, not `npm ci`: npm 11 here writes lock files without the other platforms' optional packages
# (@tauri-apps/cli-*, @rollup/rollup-*), which `npm ci` then refuses as out of sync.
step "desktop front end: npm install, Biome (format and lint), Vitest, ui/dist (built before any cargo command touches src-tauri)"
# `npm run lint` is `biome ci`: a file not formatted as `npm run format` would write it, or any lint warning, fails.
(cd ui && npm install --no-audit --no-fund && npm run lint && npx vitest run && npm run build)

step "format and lints"
cargo fmt --all --check
cargo clippy --locked --workspace --all-targets -- -D warnings

step "build (debug profile, shared by tests and the desktop bundle)"
cargo build --locked --workspace --all-targets

for s in scripts/checks/*.sh; do
  [ -e "$s" ] || continue
  step "check: $s"
  bash "$s"
done

if [ -x ../shared/checks/cli-contract.sh ]; then
  step "CLI JSON contract (shared/checks)"
  ../shared/checks/cli-contract.sh target/debug/trousseau
fi

step "tests (cargo nextest, real components)"
if ! command -v cargo-nextest >/dev/null 2>&1; then cargo install cargo-nextest --locked; fi
cargo nextest run --locked --workspace --run-ignored all "$@"
