#!/bin/sh
# Packages the static joulie binary for krew: an archive holding it as kubectl-joulie (plus
# LICENSE) and the manifest plugins/krew/joulie.yaml with the archive's version, URI and sha256
# filled in. Install locally with:
#   kubectl krew install --manifest=OUT/joulie.yaml --archive=OUT/kubectl-joulie_linux_amd64.tar.gz
# Usage: scripts/krew-package.sh [BINARY [OUT_DIR [URI]]]
#   BINARY   the static build (build/joulie)
#   OUT_DIR  where the archive and manifest go (dist/krew)
#   URI      where the archive will be downloaded from (default: a file:// URI to OUT_DIR, for
#            a local install; a release sets its download URL)
# JOULIE_HOMEPAGE: the project's public page for the manifest's homepage (left out when unset).
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
binary=${1:-$repo/build/joulie}
out=${2:-$repo/dist/krew}
[ -x "$binary" ] || { echo "krew-package: $binary is not an executable (build it first)" >&2; exit 2; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
archive=kubectl-joulie_linux_amd64.tar.gz
uri=${3:-file://$out/$archive}
version=$(sed -n "s/^ *version *: *'\([0-9.]*\)'.*/\1/p" "$repo/meson.build" | head -n 1)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
install -m 0755 "$binary" "$stage/kubectl-joulie"
install -m 0644 "$repo/LICENSE" "$stage/LICENSE"
# Reproducible: fixed owner, order and times, so the same binary gives the same sha256.
tar --owner=0 --group=0 --numeric-owner --mtime=@0 --sort=name -C "$stage" -cf - \
  kubectl-joulie LICENSE | gzip -n > "$out/$archive"
sha=$(sha256sum "$out/$archive" | cut -d' ' -f1)
# The project's public page, when it has one (JOULIE_HOMEPAGE); without it the line is left out.
homepage=${JOULIE_HOMEPAGE:-}
sed -e "s|@VERSION@|v$version|" -e "s|@URI@|$uri|" -e "s|@SHA256@|$sha|" \
    -e "s|@HOMEPAGE@|$homepage|" -e '/^  homepage: ""$/d' \
    "$repo/plugins/krew/joulie.yaml" > "$out/joulie.yaml"
echo "$out/$archive"
echo "$out/joulie.yaml"
