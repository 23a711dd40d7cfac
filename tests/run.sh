#!/bin/sh
# The project's one test command (README, .ci/run): installs what tests need,
# then format check, clippy, and every test in the workspace.
set -eu
cd "$(dirname "$0")/.."
sh tests/setup.sh
# pip may install into a directory not yet on PATH (pyenv shims are).
hash -r 2>/dev/null || true
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace -- --test-threads=2
