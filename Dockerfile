# syntax=docker/dockerfile:1
# Joulie image: one fully static executable on distroless/static.
#   docker build -t joulie:0.1.0 .
#   docker run --rm joulie:0.1.0 version
# Without a Docker engine, scripts/build-oci-image.sh assembles the same runtime image (an OCI
# image layout) from a locally built binary.

# --- build: Debian 12 packages only, nothing downloaded by the build itself ------------------
FROM debian:12 AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      g++ meson ninja-build pkg-config git binutils ca-certificates tzdata \
      libssl-dev rapidjson-dev libfmt-dev libcxxopts-dev libyaml-cpp-dev libc-ares-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The whole tree (see .dockerignore); .git gives `joulie version` its commit id.
COPY . .
# Fails unless the result is static: distroless/static has no libc and no NSS modules.
RUN meson setup /build --buildtype=release -Dstatic=true -Dtests=false \
 && ninja -C /build joulie \
 && strip /build/joulie \
 && ! ldd /build/joulie >/dev/null 2>&1 \
 && /build/joulie version

# --- runtime --------------------------------------------------------------------------------
# No CA bundle or /etc/nsswitch.conf is needed: the API server CA comes from the kubeconfig or
# the service-account mount, and names are resolved without NSS (c-ares, /etc/hosts,
# /etc/resolv.conf). The :nonroot variant runs as 65532:65532.
FROM gcr.io/distroless/static-debian12:nonroot
LABEL org.opencontainers.image.title="joulie" \
      org.opencontainers.image.description="Energy-aware power management for Kubernetes (operator and agent)" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="0.1.0"
COPY --from=build /build/joulie /joulie
# IANA time zones for the policy file's timeZone (docs/policies.md): distroless/static ships
# tzdata too, but copying the build stage's keeps the data explicit and as fresh as Debian's.
COPY --from=build /usr/share/zoneinfo /usr/share/zoneinfo
USER 65532:65532
# The mode is the argument: `operator` or `agent` (the manifests pass it). The agent DaemonSet
# overrides the user to root (runAsUser: 0) because writing powercap/cpufreq sysfs needs it.
ENTRYPOINT ["/joulie"]
