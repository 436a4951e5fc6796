#!/usr/bin/env bash
# Builds the container image (tag `causeway`, or the first argument) on a
# machine that can pull nothing: the image is FROM scratch, holding the
# release binary, the four shared libraries it links (glibc, libm,
# libgcc_s, the loader) and the few files a non-root process needs.
# `docker build .` reads only target/image (see .dockerignore), which this
# script assembles; run it again after each build of the server.
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-causeway}

# The same selection as scripts/test.sh builds, so this reuses that build
# (see the resolver note in Cargo.toml).
cargo build --release --workspace --bins
bin=target/release/causeway
out=target/image
rm -rf "$out"
mkdir -p "$out/rootfs/etc" "$out/data"
strip -o "$out/rootfs/causeway" "$bin"
# Every library the loader would map, at the path it would look for it.
for lib in $(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
    mkdir -p "$out/rootfs$(dirname "$lib")"
    cp -L "$lib" "$out/rootfs$lib"
done
# The server runs as uid 7474 (Neo4j's image uses 7474 too); glibc looks
# names up in these files, and DNS discovery resolves through nsswitch.
cat > "$out/rootfs/etc/passwd" <<'PASSWD'
root:x:0:0:root:/:/sbin/nologin
causeway:x:7474:7474:causeway:/data:/sbin/nologin
PASSWD
cat > "$out/rootfs/etc/group" <<'GROUP'
root:x:0:
causeway:x:7474:
GROUP
echo "hosts: files dns" > "$out/rootfs/etc/nsswitch.conf"

docker build -t "$tag" .
docker image inspect "$tag" --format 'image {{.RepoTags}}: {{.Size}} bytes'
