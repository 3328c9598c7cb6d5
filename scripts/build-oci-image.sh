#!/usr/bin/env bash
# Assembles the Joulie runtime image as an OCI image layout, without Docker or a registry:
# plain tar + gzip + sha256sum + JSON. The image holds /joulie (the static binary, mode 0755,
# owner 0:0, alone in the first layer) and, in a second layer, the IANA time-zone files under
# /usr/share/zoneinfo (the policy file's timeZone, docs/policies.md; without `right/` and
# `posix/`); it runs as 65532:65532 with Entrypoint ["/joulie"]; the mode (operator|agent) is
# the argument, as in the Dockerfile.
#
# No CA bundle, /etc/passwd or NSS files are added: the binary is fully static, gets the API
# server's CA from the kubeconfig or the service-account mount, and resolves names itself
# (c-ares reading /etc/hosts and /etc/resolv.conf, which the kubelet mounts). An https
# TelemetryProfile endpoint signed by a public CA would need a bundle: use the Dockerfile
# (distroless/static ships one) for that case.
#
# usage: scripts/build-oci-image.sh [--binary PATH] [--tag TAG] [--arch amd64|arm64] [--zoneinfo DIR|none] [--strip] OUT_DIR
#   --binary  the joulie executable (default: build/joulie, or $JOULIE_BIN)
#   --zoneinfo  the tzdata tree to ship (default /usr/share/zoneinfo; `none`: no zone layer, the
#             policy file's timeZone can then only be UTC)
#   --tag     org.opencontainers.image.ref.name in index.json (default: the project version)
#   --strip   put a stripped copy of the binary in the image (the input is not modified)
# Output: OUT_DIR is (re)created as an OCI layout; the manifest digest (sha256:…) is printed on
# stdout. Reproducible: the same binary and commit give the same digests (timestamps come from
# SOURCE_DATE_EPOCH, else the commit time, else 0).
# Load it with e.g. `skopeo copy oci:OUT_DIR:TAG docker://registry/joulie:TAG`,
# `podman load -i` of a tar of OUT_DIR, or `ctr image import`.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
binary=${JOULIE_BIN:-$root/build/joulie}
tag=""
arch=amd64
strip_binary=0
zoneinfo=/usr/share/zoneinfo
out=""

die() { echo "build-oci-image: $*" >&2; exit 1; }
usage() { sed -n '/^# usage:/,/^#   --strip/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --binary) [ $# -ge 2 ] || usage; binary=$2; shift 2 ;;
    --binary=*) binary=${1#*=}; shift ;;
    --tag) [ $# -ge 2 ] || usage; tag=$2; shift 2 ;;
    --tag=*) tag=${1#*=}; shift ;;
    --arch) [ $# -ge 2 ] || usage; arch=$2; shift 2 ;;
    --arch=*) arch=${1#*=}; shift ;;
    --zoneinfo) [ $# -ge 2 ] || usage; zoneinfo=$2; shift 2 ;;
    --zoneinfo=*) zoneinfo=${1#*=}; shift ;;
    --strip) strip_binary=1; shift ;;
    -h|--help) usage ;;
    -*) echo "build-oci-image: unknown option $1" >&2; usage ;;
    *) [ -z "$out" ] || usage; out=$1; shift ;;
  esac
done
[ -n "$out" ] || usage

for tool in tar gzip sha256sum stat od; do
  command -v "$tool" >/dev/null || die "missing tool: $tool"
done
if [ "$zoneinfo" != none ]; then
  [ -f "$zoneinfo/Europe/Rome" ] || die "no time-zone data at $zoneinfo (install tzdata, or pass --zoneinfo none)"
fi
[ -f "$binary" ] || die "binary not found: $binary (build it first: meson setup build && ninja -C build joulie)"

# The image has no libc: refuse a dynamically linked binary, and one for another architecture.
elf_magic=$(od -An -tx1 -N4 "$binary" | tr -d ' \n')
[ "$elf_magic" = "7f454c46" ] || die "$binary is not an ELF executable"
if command -v ldd >/dev/null && ldd "$binary" >/dev/null 2>&1; then
  die "$binary is dynamically linked; build with -Dstatic=true (the image has no libc)"
fi
machine=$(od -An -tu2 -j18 -N2 --endian=little "$binary" | tr -d ' ')
case "$arch:$machine" in
  amd64:62|arm64:183) ;;
  amd64:*|arm64:*) die "$binary (ELF machine $machine) does not match --arch $arch" ;;
  *) die "unsupported --arch $arch (amd64 or arm64)" ;;
esac

version=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" "$root/meson.build" | head -n1)
version=${version:-unknown}
revision=$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)
[ -n "$tag" ] || tag=$version
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git -C "$root" log -1 --format=%ct 2>/dev/null || echo 0)
fi
created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)

# Output directory: created, or replaced when it already holds an OCI layout; anything else
# is refused rather than deleted.
if [ -e "$out" ]; then
  if [ -d "$out" ] && { [ -f "$out/oci-layout" ] || [ -z "$(ls -A "$out")" ]; }; then
    rm -rf "$out"
  else
    die "$out exists and is not an OCI layout; refusing to overwrite it"
  fi
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out/blobs/sha256" "$work/rootfs"

# JSON string escaping for the few values that come from outside (tag, paths are not used).
json_str() {
  local s=$1
  s=${s//\\/\\\\}; s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}; s=${s//$'\t'/\\t}; s=${s//$'\r'/\\r}
  printf '"%s"' "$s"
}
sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }
# Moves a file into blobs/sha256/<digest>; prints the digest.
add_blob() {
  local digest
  digest=$(sha "$1")
  mv "$1" "$out/blobs/sha256/$digest"
  printf '%s' "$digest"
}

# --- layer: one regular file, /joulie ---------------------------------------------------------
cp "$binary" "$work/rootfs/joulie"
if [ "$strip_binary" = 1 ]; then
  strip "$work/rootfs/joulie"
fi
chmod 0755 "$work/rootfs/joulie"
tar --format=ustar --numeric-owner --owner=0 --group=0 --mode=0755 \
    --mtime="@$SOURCE_DATE_EPOCH" -C "$work/rootfs" -cf "$work/layer.tar" joulie
diff_id=$(sha "$work/layer.tar")
gzip -n -9 "$work/layer.tar"
layer_size=$(size "$work/layer.tar.gz")
layer_digest=$(add_blob "$work/layer.tar.gz")
diff_ids="\"sha256:$diff_id\""
layers=$(printf '{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}' "$layer_digest" "$layer_size")
history=$(printf '{"created":%s,"created_by":"scripts/build-oci-image.sh: /joulie"}' "$(json_str "$created")")

# --- layer: /usr/share/zoneinfo (reproducible: sorted names, fixed owner, mode and mtime) -------
if [ "$zoneinfo" != none ]; then
  mkdir -p "$work/tzroot/usr/share"
  cp -R "$zoneinfo" "$work/tzroot/usr/share/zoneinfo"
  rm -rf "$work/tzroot/usr/share/zoneinfo/right" "$work/tzroot/usr/share/zoneinfo/posix"
  tar --format=ustar --sort=name --numeric-owner --owner=0 --group=0 --mode='u=rwX,go=rX' \
      --mtime="@$SOURCE_DATE_EPOCH" -C "$work/tzroot" -cf "$work/tz.tar" usr
  tz_diff_id=$(sha "$work/tz.tar")
  gzip -n -9 "$work/tz.tar"
  tz_size=$(size "$work/tz.tar.gz")
  tz_digest=$(add_blob "$work/tz.tar.gz")
  diff_ids="$diff_ids,\"sha256:$tz_diff_id\""
  layers="$layers,$(printf '{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}' "$tz_digest" "$tz_size")"
  history="$history,$(printf '{"created":%s,"created_by":"scripts/build-oci-image.sh: /usr/share/zoneinfo"}' "$(json_str "$created")")"
fi

# --- config -----------------------------------------------------------------------------------
labels=$(printf '{"org.opencontainers.image.title":"joulie","org.opencontainers.image.description":"Energy-aware power management for Kubernetes (operator and agent)","org.opencontainers.image.licenses":"Apache-2.0","org.opencontainers.image.version":%s,"org.opencontainers.image.revision":%s,"org.opencontainers.image.created":%s}' \
  "$(json_str "$version")" "$(json_str "$revision")" "$(json_str "$created")")
printf '{"created":%s,"architecture":"%s","os":"linux","config":{"User":"65532:65532","Entrypoint":["/joulie"],"Env":["PATH=/"],"WorkingDir":"/","Labels":%s},"rootfs":{"type":"layers","diff_ids":[%s]},"history":[%s]}' \
  "$(json_str "$created")" "$arch" "$labels" "$diff_ids" "$history" >"$work/config.json"
config_size=$(size "$work/config.json")
config_digest=$(add_blob "$work/config.json")

# --- manifest, index, layout marker -----------------------------------------------------------
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s],"annotations":%s}' \
  "$config_digest" "$config_size" "$layers" "$labels" >"$work/manifest.json"
manifest_size=$(size "$work/manifest.json")
manifest_digest=$(add_blob "$work/manifest.json")

printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":%s},"platform":{"architecture":"%s","os":"linux"}}]}' \
  "$manifest_digest" "$manifest_size" "$(json_str "$tag")" "$arch" >"$out/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' >"$out/oci-layout"

echo "build-oci-image: $out (tag $tag, layer $layer_size bytes)" >&2
echo "sha256:$manifest_digest"
