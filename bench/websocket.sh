#!/usr/bin/env bash
# bench/websocket.sh: the memory an idle WebSocket costs in cutover's load
# balancer, nginx and HAProxy, in one run.
#
# bench/cmd/wsbackend is the upstream (it echoes a client's first frame,
# then holds the connection). Each proxy runs as in bench/proxy.sh: one
# worker/thread/core (GOMAXPROCS=1, worker_processes 1, nbthread 1), pinned
# to CPU 0, the backend and the client on CPU 1; nginx with
# proxy_http_version 1.1 and the Upgrade and Connection headers set as its
# WebSocket docs say, HAProxy in plain http mode, and cutover twice: the
# standalone `cutover proxy --config lb.yaml` ("cutover") and the data
# plane process `cutover up` runs ("dataplane"), configured as in
# bench/proxy.sh. Against each, bench/cmd/idlews opens IDLE_WS (default
# 5000) WebSocket connections, sends one small frame on each and reads its
# echo, and holds them idle. A figure is the growth of the proxy's RSS
# over its RSS after a warm-up (100 WebSockets opened and closed), divided
# by the connections held. Each WebSocket is two descriptors in the proxy
# (client and target side), so the count is limited to about half the
# limit of open files.
#
# The last line puts the data plane (as bench/proxy.sh's last line does)
# against nginx and HAProxy:
#
#   cutover/nginx idle WebSocket KiB per connection: A.A vs B.B (haproxy C.C)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"

n=${IDLE_WS:-5000}

source bench/lib.sh
need_packages nginx:nginx-light haproxy:haproxy
want_fds=$((2 * n + 2000))
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$want_fds" ]; then
	ulimit -Hn "$want_fds" 2>/dev/null ||
		{ echo "bench: $n WebSockets need $want_fds open files, the hard limit is $(ulimit -Hn); lower IDLE_WS" >&2; exit 1; }
fi
ulimit -n "$(ulimit -Hn)"

ports_free 18201 18301 18302 18303 18304 18390
go build -o "$work/cutover" ./cmd/cutover
go build -o "$work/wsbackend" ./bench/cmd/wsbackend
go build -o "$work/idlews" ./bench/cmd/idlews

backend=127.0.0.1:18201
GOMAXPROCS=1 taskset -c 1 "$work/wsbackend" -addr "$backend" &
pids+=($!)

cat >"$work/nginx.conf" <<CONF
worker_processes 1;
worker_rlimit_nofile $((2 * n + 1500));
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections $((2 * n + 1000)); }
http {
	access_log off;
	map \$http_upgrade \$connection_upgrade { default upgrade; '' close; }
	upstream backend { server $backend; }
	server {
		listen 127.0.0.1:18301 reuseport;
		location / {
			proxy_pass http://backend;
			proxy_http_version 1.1;
			proxy_set_header Upgrade \$http_upgrade;
			proxy_set_header Connection \$connection_upgrade;
			proxy_set_header Host \$host;
			proxy_read_timeout 1h;
		}
	}
}
CONF
taskset -c 0 nginx -c "$work/nginx.conf" -g 'daemon off;' &
pids+=($!)
nginx_pid=$!

cat >"$work/haproxy.cfg" <<CONF
global
	nbthread 1
	maxconn $((n + 500))
defaults
	mode http
	timeout connect 5s
	timeout client 60s
	timeout server 60s
	timeout tunnel 1h
frontend fe
	bind 127.0.0.1:18302
	default_backend be
backend be
	server s1 $backend check inter 5s
CONF
taskset -c 0 haproxy -f "$work/haproxy.cfg" &
pids+=($!)
haproxy_pid=$!

cat >"$work/lb.yaml" <<CONF
admin: 127.0.0.1:18390
listeners:
  - {name: bench, address: "127.0.0.1:18303", forward: be, max_connections: $((n + 1000))}
target_groups:
  - name: be
    targets: ["$backend"]
    health_check: {interval: 5s, timeout: 2s, healthy_threshold: 2}
CONF
GOMAXPROCS=1 taskset -c 0 "$work/cutover" proxy --config "$work/lb.yaml" --log-level warn &
pids+=($!)
cutover_pid=$!

# The data plane, given the listener and target group of lb.yaml as the
# control plane would.
start_dataplane 127.0.0.1:18304 $((n + 1000)) "$backend"

for port in 18201 18301 18302 18303 18304; do wait_up "http://127.0.0.1:$port/"; done
sleep 5 # cutover sends no request to its target before two health checks pass

hold() { # port count: runs idlews until it holds count WebSockets; its PID in $ws
	taskset -c 1 "$work/idlews" -addr "127.0.0.1:$1" -n "$2" >"$work/idle.out" &
	ws=$!
	pids+=($ws)
	for _ in $(seq 1 1200); do
		grep -q ready "$work/idle.out" && return 0
		kill -0 "$ws" 2>/dev/null || { echo "bench: idlews failed against port $1" >&2; exit 1; }
		sleep 0.1
	done
	echo "bench: idlews did not open $2 WebSockets to port $1 in 120 s" >&2
	exit 1
}
release() { # stops the idlews in $ws
	kill "$ws"
	wait "$ws" 2>/dev/null || true
	sleep 3 # the proxy notices the resets and closes both sides
}
declare -A kib
measure() { # name port pid...
	local name=$1 port=$2 before after upstream
	shift 2
	hold "$port" 100
	release
	before=$(rss_kb "$@")
	hold "$port" "$n"
	sleep 2
	after=$(rss_kb "$@")
	upstream=$(ss -Htn state established "( dport = :${backend##*:} )" | wc -l)
	release
	kib[$name]=$(awk -v a="$after" -v b="$before" -v n="$n" 'BEGIN {printf "%.1f", (a-b)/n}')
	printf '%-9s RSS %7d KiB after warm-up, %7d KiB with %d idle WebSockets (+%s KiB each; %d connections to the backend)\n' \
		"$name" "$before" "$after" "$n" "${kib[$name]}" "$upstream"
}

echo "idle WebSockets, proxies on CPU 0 with one worker each, backend and client on CPU 1"
measure nginx 18301 "$nginx_pid" $(pgrep -P "$nginx_pid")
measure haproxy 18302 "$haproxy_pid" $(pgrep -P "$haproxy_pid" || true)
measure cutover 18303 "$cutover_pid"
measure dataplane 18304 "$dataplane_pid"

echo
echo "standalone cutover proxy/nginx idle WebSocket KiB per connection: ${kib[cutover]} vs ${kib[nginx]} (haproxy ${kib[haproxy]})"
echo "cutover/nginx idle WebSocket KiB per connection: ${kib[dataplane]} vs ${kib[nginx]} (haproxy ${kib[haproxy]})"
