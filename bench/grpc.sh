#!/usr/bin/env bash
# bench/grpc.sh: unary gRPC calls to a gRPC target directly and through
# cutover (`cutover proxy`, a protocol: grpc target group), ghz-style, in
# one run: bench/cmd/grpcbench. cutover and the target each get one core's
# worth of Go (GOMAXPROCS=1), pinned to CPU 0 and CPU 1 when taskset is
# there; the load generator runs unpinned. The last line is
#
#   cutover/direct throughput ratio: X.XX p99 ratio: Y.YY
#
# Environment: SECONDS_PER_RUN (default 10), CONCURRENCY (default 50, as
# ghz), CONNECTIONS (default 1, as ghz).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/cutover" ./cmd/cutover
go build -o "$work/grpcbench" ./bench/cmd/grpcbench
pin=()
if command -v taskset >/dev/null; then pin=(-proxy-cpu 0 -target-cpu 1); fi
"$work/grpcbench" -cutover "$work/cutover" -duration "${SECONDS_PER_RUN:-10}s" \
	-c "${CONCURRENCY:-50}" -connections "${CONNECTIONS:-1}" "${pin[@]}"
