#!/usr/bin/env bash
# Runs cutover's whole test suite on a fresh Debian machine: installs what
# the tests need (git, Docker Engine, ...), starts dockerd when it is not
# running, then runs `go test -race ./...`.
#
# Usage: bash scripts/test.sh [go test flags...]
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"

need=()
command -v git >/dev/null || need+=(git)
command -v dockerd >/dev/null || need+=(docker.io)
command -v ip >/dev/null || need+=(iproute2)
command -v nsenter >/dev/null || need+=(util-linux) # the two-node swarm test
command -v curl >/dev/null || need+=(curl)
command -v bwrap >/dev/null || need+=(bubblewrap) # the sandbox of builds, hooks and tasks
command -v node >/dev/null || need+=(nodejs) # examples/hello-node
command -v npm >/dev/null || need+=(npm) # e2e: the Express app's npm ci
[ -x /usr/bin/python3 ] || need+=(python3) # e2e: the Python app, on Debian's python3
command -v chromium >/dev/null || need+=(chromium) # the dashboard's browser tests (internal/web)
if [ "${#need[@]}" -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "scripts/test.sh: missing ${need[*]}; run as root to install them" >&2
		exit 1
	fi
	echo "installing: ${need[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# The docker driver's tests need a real engine. Start one when none answers.
if ! docker info >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ]; then
		echo "starting dockerd"
		mkdir -p /var/log
		nohup dockerd >/var/log/cutover-test-dockerd.log 2>&1 &
		for _ in $(seq 1 60); do
			docker info >/dev/null 2>&1 && break
			sleep 1
		done
	fi
	docker info >/dev/null 2>&1 || { echo "scripts/test.sh: dockerd did not start; see /var/log/cutover-test-dockerd.log" >&2; exit 1; }
fi

# The swarm driver's tests need a swarm. Made here, once, so that no test
# package makes or leaves one while another package's tests use it; left at
# the end. The two-node swarm test replaces it with its own while it runs,
# so it runs only when the swarm is one made here.
if [ "$(docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null)" = inactive ]; then
	docker swarm init --advertise-addr 127.0.0.1 >/dev/null
	trap 'docker swarm leave --force >/dev/null || echo "scripts/test.sh: could not leave the test swarm" >&2' EXIT
	export CUTOVER_SWARM_MULTINODE=1
else
	echo "scripts/test.sh: the Engine is in a swarm already; skipping the two-node swarm test, which would replace it (docker swarm leave --force to run it)" >&2
fi

go version
go vet ./...
# The docker driver's tests fail instead of skipping when the engine is missing.
export CUTOVER_REQUIRE_DOCKER=1
# The dashboard's browser tests fail instead of skipping when Chromium is missing.
export CUTOVER_REQUIRE_CHROMIUM=1
# The sandbox's tests fail instead of skipping when there is no full sandbox.
export CUTOVER_REQUIRE_SANDBOX=1
# The swarm driver's tests run on their own, after the rest: Debian's
# docker.io 20.10 (swarmkit) can crash dockerd when several test processes
# remove swarm services at the same moment (a nil task in
# SetServiceTasksRemove), and the two-node test replaces the swarm the
# other packages' tests use.
# The e2e package alone takes 20-25 minutes on 2 cores (every test drives
# the built binary under load); the timeout leaves it room on a slow machine.
go test -race -count=1 -timeout 45m "$@" $(go list ./... | grep -v '/internal/runtime/swarm$')
go test -race -count=1 -timeout 10m "$@" ./internal/runtime/swarm
