#!/usr/bin/env bash
# Builds the Debian package: the release binary, its man pages and shell completions
# (generated from the binary's own definitions), the service unit and the commented
# configuration file. The package lands in target/debian/.
set -euo pipefail
cd "$(dirname "$0")/../.."
target=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --release --locked --bin palisade
assets=$target/assets
rm -rf "$assets" && mkdir -p "$assets/man" "$assets/completions"
"$target/release/palisade" man "$assets/man" >/dev/null
gzip -9n "$assets"/man/*.1
"$target/release/palisade" completions bash > "$assets/completions/palisade"
"$target/release/palisade" completions zsh > "$assets/completions/_palisade"
"$target/release/palisade" completions fish > "$assets/completions/palisade.fish"
cargo deb --no-build --locked -p palisade-cli "$@"
