#!/usr/bin/env bash
# Builds the Debian package: the release binary, its man pages and shell completions
# (generated from the binary's own definitions), the service unit and the commented
# configuration file. The package lands in target/debian/.
set -euo pipefail
cd "$(dirname "$0")/../.."
# PALISADE_DEB_PROFILE=dev packages the debug build instead (CI: the tests built it already;
# the package's contents and behaviour are the same, only slower).
target=${CARGO_TARGET_DIR:-$PWD/target}
profile=${PALISADE_DEB_PROFILE:-release}
case "$profile" in
  release) cargo build --release --locked --bin palisade; built=$target/release ;;
  dev) cargo build --locked --bin palisade; built=$target/debug ;;
  *) echo "PALISADE_DEB_PROFILE must be release or dev" >&2; exit 2 ;;
esac
assets=$target/assets
rm -rf "$assets" && mkdir -p "$assets/man" "$assets/completions"
"$built/palisade" man "$assets/man" >/dev/null
gzip -9n "$assets"/man/*.1
"$built/palisade" completions bash > "$assets/completions/palisade"
"$built/palisade" completions zsh > "$assets/completions/_palisade"
"$built/palisade" completions fish > "$assets/completions/palisade.fish"
cargo deb --no-build --locked -p palisade-cli --profile "$profile" "$@"
