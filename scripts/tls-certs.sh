#!/usr/bin/env bash
# A certificate authority of your own and the certificates a cluster needs,
# for a laptop or a test run (production certificates come from your own
# CA or cert-manager; the file names are the same, see docs/configuration.md):
#
#   scripts/tls-certs.sh DIR [HOST ...]
#
# writes into DIR:
#   ca.crt                 the CA clients and members trust
#   tls.crt, tls.key       what the Bolt and HTTP ports present to clients:
#                          localhost, 127.0.0.1 and every HOST
#   member.crt, member.key the members' certificate for mutual TLS between
#                          them (client and server use, every HOST)
#
# HOST defaults to the service names of deploy/compose.yaml. The keys are
# left readable by all (0644) inside DIR, which only its owner can open
# (0700): Compose mounts each file into a container running as uid 7474,
# which must read it, while other users of this machine cannot reach it.
# An existing ca.crt/ca.key in DIR is reused, so renewing keeps clients'
# trust, and existing files are rewritten in place: Compose mounts a
# secret file by its inode, so a file replaced by a rename would never
# reach a running container.
set -euo pipefail
dir=${1:?usage: scripts/tls-certs.sh DIR [HOST ...]}
shift
hosts=("$@")
[ ${#hosts[@]} -gt 0 ] || hosts=(core1 core2 core3 replica1 replica2 cores)
command -v openssl >/dev/null || { echo "openssl is needed" >&2; exit 1; }

mkdir -p "$dir"
chmod 700 "$dir"
cd "$dir"
days=${CAUSEWAY_CERT_DAYS:-825}

if [ ! -f ca.crt ] || [ ! -f ca.key ]; then
    openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
        -keyout ca.key -out ca.crt -days 3650 -subj "/CN=Causeway local CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    chmod 600 ca.key
fi

san=""
for h in "${hosts[@]}"; do san+=",DNS:$h"; done

# issue NAME CN SUBJECT_ALT_NAMES EXTENDED_KEY_USAGE
issue() {
    openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
        -keyout "$1.key.new" -out "$1.csr" -subj "/CN=$2" 2>/dev/null
    openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
        -out "$1.crt.new" -days "$days" -extfile <(printf '%s\n' \
            "basicConstraints=critical,CA:FALSE" \
            "keyUsage=critical,digitalSignature,keyEncipherment" \
            "extendedKeyUsage=$4" \
            "subjectAltName=$3") 2>/dev/null
    rm -f "$1.csr"
    # Key first: a member reading between the two writes (or in the middle
    # of one) finds a pair that does not load and keeps serving the old
    # one until its next look.
    for f in "$1.key" "$1.crt"; do
        if [ -f "$f" ]; then
            cat "$f.new" > "$f"
            rm -f "$f.new"
        else
            chmod 644 "$f.new"
            mv "$f.new" "$f"
        fi
    done
}

issue tls localhost "DNS:localhost,IP:127.0.0.1$san" serverAuth
issue member causeway-member "${san#,}" serverAuth,clientAuth
echo "wrote $(pwd)/{ca.crt,tls.crt,tls.key,member.crt,member.key}"
