#!/usr/bin/env bash
# Installs the Debian 12 packages Joulie needs to build, test and run the demo.
# As root: installs them with apt-get. Otherwise: prints the exact command and exits 1.
# Waits up to JOULIE_APT_LOCK_WAIT seconds (default 300) for another apt/dpkg process's lock.
set -euo pipefail

PACKAGES=(
  g++ meson ninja-build pkg-config git
  libssl-dev rapidjson-dev libfmt-dev libcxxopts-dev libyaml-cpp-dev libc-ares-dev catch2
  python3 python3-pytest python3-pytest-xdist python3-matplotlib python3-yaml openssl prometheus umoci tzdata
  clang libclang-rt-14-dev clang-format
)

# python3-pytest-xdist: the integration tests run on several workers (docs/testing.md).
# python3-yaml: test_agent_trust.py and the evaluation read YAML with PyYAML (on a fresh machine it
# came only by chance, through clang-tidy).
# clang-format (14 on Debian 12): test/integration/test_format.py checks src/, include/ and test/
# against .clang-format.
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
# Another apt/dpkg process (unattended-upgrades, a parallel provisioning step) may hold the
# lock: wait for it, bounded, instead of failing at once. DPkg::Lock::Timeout covers the dpkg
# lock; `apt-get update` takes the lists lock, so that step is retried.
lock_wait="${JOULIE_APT_LOCK_WAIT:-300}"  # seconds
apt_get=(apt-get -o "DPkg::Lock::Timeout=$lock_wait")
waited=0
until out=$("${apt_get[@]}" update -qq 2>&1); do
  if ! grep -qi 'lock' <<<"$out" || [ "$waited" -ge "$lock_wait" ]; then
    echo "$out" >&2
    exit 1
  fi
  [ "$waited" -eq 0 ] &&
    echo "joulie: another apt/dpkg process holds the lock; waiting up to ${lock_wait}s" >&2
  sleep 5
  waited=$((waited + 5))
done
"${apt_get[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
