#!/usr/bin/env bash
# Try cutover's standalone load balancer: starts three demo backends
# (blue on :9001 and :9002, green on :9003) and serves examples/proxy/lb.yaml
# with production on 127.0.0.1:8080 and test on 127.0.0.1:8090.
#
#   curl 127.0.0.1:8080/        # blue answers
#   curl 127.0.0.1:8090/        # green answers
#   edit the weights in lb.yaml, then: kill -HUP <pid> or
#   go run ./cmd/cutover proxy reload --config examples/proxy/lb.yaml
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:/usr/local/go/bin"
bin=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$bin"' EXIT
go build -o "$bin/cutover" ./cmd/cutover
go build -o "$bin/backend" ./examples/proxy/backend
NAME=blue-1 PORT=9001 "$bin/backend" &
NAME=blue-2 PORT=9002 "$bin/backend" &
NAME=green-1 PORT=9003 "$bin/backend" &
"$bin/cutover" proxy --config examples/proxy/lb.yaml
