#!/usr/bin/env bash
# Makes `docker compose` (Compose v2) available on a Debian 12 machine, whose
# own packages carry only docker-compose 1.29. Debian 13 packages Compose v2
# as a static Go program; this fetches that package from the Debian mirror,
# checks it through Debian's signed release file (InRelease -> Packages.xz
# -> the .deb, each by SHA-256) and installs its CLI plugin for this user.
# Nothing else from Debian 13 is installed.
set -euo pipefail
if docker compose version >/dev/null 2>&1; then
    docker compose version
    exit 0
fi
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=trixie
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

curl -fsS -o InRelease "$mirror/dists/$suite/InRelease"
gpgv --keyring "$keyring" --output Release InRelease \
    || { echo "InRelease of $suite is not signed by a Debian key" >&2; exit 1; }
index=main/binary-$(dpkg --print-architecture)/Packages.xz
want=$(awk -v f="$index" '/^SHA256:/ {s=1; next} /^[^ ]/ {s=0} s && $3 == f {print $1}' Release)
curl -fsS -o Packages.xz "$mirror/dists/$suite/$index"
echo "$want  Packages.xz" | sha256sum -c --quiet -

# awk reads to the end: an early exit would break xz's pipe under pipefail.
entry=$(xz -dc Packages.xz | awk '/^Package: docker-compose$/ {p=1} p && /^$/ {p=0} p')
file=$(awk '/^Filename:/ {print $2}' <<<"$entry")
sum=$(awk '/^SHA256:/ {print $2}' <<<"$entry")
[ -n "$file" ] && [ -n "$sum" ] || { echo "no docker-compose in $suite" >&2; exit 1; }
curl -fsS -o compose.deb "$mirror/$file"
echo "$sum  compose.deb" | sha256sum -c --quiet -

dpkg-deb -x compose.deb pkg
plugins=${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins
mkdir -p "$plugins"
install -m 0755 pkg/usr/libexec/docker/cli-plugins/docker-compose "$plugins/docker-compose"
docker compose version
