#!/usr/bin/env bash
# Makes a Docker image named TAG (default node:20) from this machine's own
# Node.js, for machines that cannot pull node images from a registry: a root
# file system with node, npm, /bin/sh and /usr/bin/env and the shared
# libraries ldd lists for them, the machine's CA certificates and npm's
# global npmrc, imported with `docker import`. A Dockerfile
# that starts `FROM TAG` then builds offline (docs/coming-from-aws.md).
#
# Usage: bash scripts/node-image.sh [TAG]
set -euo pipefail
tag=${1:-node:20}
node=$(readlink -f "$(command -v node)")
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

# copy copies each file to the same path under the root, following links.
copy() {
	for f in "$@"; do
		mkdir -p "$root$(dirname "$f")"
		cp -L "$f" "$root$f"
	done
}
# libs lists the shared libraries a program links, and its loader.
libs() {
	ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'
}

copy "$node" $(libs "$node")
copy /bin/sh $(libs /bin/sh) /usr/bin/env $(libs /usr/bin/env)
[ "$node" = /usr/bin/node ] || ln -s "$node" "$root/usr/bin/node"
npm=$(dirname "$node")/../lib/node_modules/npm
if [ -d "$npm" ]; then
	mkdir -p "$root/usr/lib/node_modules"
	cp -a "$npm" "$root/usr/lib/node_modules/npm"
	ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/bin/npm"
fi
# The machine's CA certificates and npm's global configuration, so that
# npm in the image reaches the registry the way npm on the machine does.
env=(PATH=/usr/local/bin:/usr/bin:/bin HOME=/root)
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
	copy /etc/ssl/certs/ca-certificates.crt
	env+=(NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt)
fi
npmrc=$(dirname "$node")/../etc/npmrc
[ ! -f "$npmrc" ] || copy "$(readlink -f "$npmrc")"
mkdir -p "$root/etc" "$root/root" "$root/tmp"
chmod 1777 "$root/tmp"
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
echo 'root:x:0:' >"$root/etc/group"

tar -C "$root" -c . | docker import \
	--change "ENV ${env[*]}" \
	--change 'CMD ["node"]' - "$tag" >/dev/null
echo "$tag: $("$node" --version) from $node"
