#!/usr/bin/env bash
# Installs the Debian 12 packages Joulie needs to build, test and run the demo.
# As root: installs them with apt-get. Otherwise: prints the exact command and exits 1.
set -euo pipefail

PACKAGES=(
  g++ meson ninja-build pkg-config git
  libssl-dev rapidjson-dev libfmt-dev libcxxopts-dev libyaml-cpp-dev libc-ares-dev catch2
  python3 python3-pytest python3-matplotlib openssl prometheus umoci tzdata
  clang libclang-rt-14-dev
)

# clang + libclang-rt-14-dev: libFuzzer for the fuzz smoke of scripts/test.sh and scripts/fuzz.sh.
# kubectl: Debian 12's kubernetes-client is kubectl 1.20, too old for the manifests (kustomize
# labels/components, server-side field validation); it is not installed from here. Tests that need
# kubectl skip with a message when it is absent (docs/testing.md).
wanted=("${PACKAGES[@]}")

missing=()
for p in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "joulie: missing Debian packages. Install them with:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "joulie: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
