#!/usr/bin/env bash
# Type-checks and lints the core crate for Windows and macOS: the certificate-store backends (src/store/windows.rs,
# src/store/macos.rs) and everything else behind cfg(windows)/cfg(target_os = "macos") must compile and pass the same
# `clippy -D warnings` as the host code. `cargo clippy` checks as `cargo check` does (no codegen, no linking) into the
# shared target/ dir, so it costs no more than the check it replaces. (Windows also *runs*: scripts/checks/windows-wine.sh.)
# If a target cannot be installed (no network to static.rust-lang.org), a visible WARNING is printed and that target
# is skipped; a compile error fails the check.
set -euo pipefail
cd "$(dirname "$0")/../.."

warn() { printf '\n**********\nWARNING: %s\n**********\n\n' "$*" >&2; }

have_target() {
  local target=$1
  if ! command -v rustup >/dev/null 2>&1; then
    warn "rustup is not available: cannot add $target, cross-target check skipped"
    return 1
  fi
  if rustup target list --installed 2>/dev/null | grep -qx "$target"; then
    return 0
  fi
  if rustup target add "$target"; then
    return 0
  fi
  warn "rustup target add $target was refused: the $target type-check is SKIPPED"
  return 1
}

# Windows: every default feature (the portal client too). aws-lc-sys builds with MinGW (gcc-mingw-w64-x86-64) and
# uses its prebuilt NASM objects.
if have_target x86_64-pc-windows-gnu; then
  echo "== cargo clippy --lib --target x86_64-pc-windows-gnu -- -D warnings"
  AWS_LC_SYS_PREBUILT_NASM=1 cargo clippy --locked --lib --target x86_64-pc-windows-gnu -- -D warnings
fi

# macOS: without default features, which compile C for the target (aws-lc-sys, bundled SQLite) and need an Apple
# SDK; store/cert/pkcs12/token/card/password are all checked.
if have_target aarch64-apple-darwin; then
  echo "== cargo clippy --lib --no-default-features --target aarch64-apple-darwin -- -D warnings"
  cargo clippy --locked --lib --no-default-features --target aarch64-apple-darwin -- -D warnings
fi
