#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine: installs the system packages, then runs every check and test
# inside one D-Bus session with an unlocked gnome-keyring (scripts/in-session.sh). Real components only: pcscd with
# vpcd virtual readers, SoftHSM2, opencryptoki, NSS databases, the sandbox portal, a real window under Xvfb.
# Extra arguments go to `cargo nextest run` (e.g. `-E 'test(/^cert::/)'`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh test
exec bash scripts/in-session.sh bash scripts/test-session.sh "$@"
