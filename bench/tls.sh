#!/usr/bin/env bash
# bench/tls.sh: cutover's load balancer on an HTTPS listener against nginx
# and HAProxy, in one run: keep-alive throughput and latency, the memory
# an idle HTTPS client connection costs (HTTP/1.1 and HTTP/2), and
# hand-overs of the data plane under HTTPS load.
#
# Set up as bench/proxy.sh: one worker/thread/core per proxy
# (GOMAXPROCS=1, worker_processes 1, nbthread 1) pinned to CPU 0, the
# backend (plain HTTP, keep-alive) and the client on CPU 1. All three load
# the same self-signed P-256 certificate (bench/cmd/selfcert) and offer h2
# and HTTP/1.1 by ALPN; cutover is the data plane process `cutover up`
# runs, given the listener by PUT /v1/config as in bench/proxy.sh.
#
# Throughput: wrk -t1 -c$CONNECTIONS over HTTPS (HTTP/1.1) for
# SECONDS_PER_RUN seconds (a handshake per connection, then keep-alive
# requests). Idle memory: bench/cmd/idleconns opens IDLE_CONNS connections
# (TLS 1.3, one request each) and holds them, speaking HTTP/1.1 (IDLE_PROTO
# -tls, the default) or HTTP/2 (-h2); the figure is the growth of the
# proxy's RSS while it holds them, divided by the connections held. One
# protocol per run: memory a proxy freed after one would be reused by the
# next, not counted. Hand-overs: the data plane is
# replaced HANDOVERS times (default 3) under HTTPS load, and every request
# must succeed ("hand-overs=N requests=R failed=F").
#
# The last line:
#
#   cutover/haproxy https throughput ratio: X.XX p99 ratio: Y.YY idle tls KiB per connection: A.A vs B.B (nginx C.C)
#
# (idle h2 with IDLE_PROTO=-h2).
#
# Environment: SECONDS_PER_RUN (default 10), CONNECTIONS (default 64),
# IDLE_CONNS (default 10000), IDLE_PROTO (-tls or -h2), CUTOVER (a cutover binary to measure instead
# of building ./cmd/cutover, e.g. an earlier commit's).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"

secs=${SECONDS_PER_RUN:-10}
conns=${CONNECTIONS:-64}
n=${IDLE_CONNS:-10000}
idle_proto=${IDLE_PROTO:--tls}
case $idle_proto in -tls | -h2) ;; *) echo "bench: IDLE_PROTO=$idle_proto: must be -tls or -h2" >&2; exit 2 ;; esac

source bench/lib.sh
need_packages nginx:nginx-light haproxy:haproxy wrk:wrk
want_fds=$((n + 2000))
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$want_fds" ]; then
	ulimit -Hn "$want_fds" 2>/dev/null ||
		{ echo "bench: $n connections need $want_fds open files, the hard limit is $(ulimit -Hn); lower IDLE_CONNS" >&2; exit 1; }
fi
ulimit -n "$(ulimit -Hn)"

if [ -n "${CUTOVER:-}" ]; then
	cp "$CUTOVER" "$work/cutover"
else
	go build -o "$work/cutover" ./cmd/cutover
fi
ports_free 18401 18411 18412 18413
go build -o "$work/backend" ./bench/cmd/backend
go build -o "$work/idleconns" ./bench/cmd/idleconns
go run ./bench/cmd/selfcert -cert "$work/cert.pem" -key "$work/key.pem"
cat "$work/cert.pem" "$work/key.pem" >"$work/haproxy.pem"

backend=127.0.0.1:18401
GOMAXPROCS=1 taskset -c 1 "$work/backend" -addr "$backend" &
pids+=($!)

cat >"$work/nginx.conf" <<CONF
worker_processes 1;
worker_rlimit_nofile $((n + 1500));
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections $((n + 1000)); }
http {
	access_log off;
	upstream backend { server $backend; keepalive 256; }
	server {
		listen 127.0.0.1:18411 ssl http2 reuseport;
		ssl_certificate $work/cert.pem;
		ssl_certificate_key $work/key.pem;
		location / {
			proxy_pass http://backend;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header Host \$host;
			proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
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
	no strict-limits
defaults
	mode http
	timeout connect 5s
	timeout client 60s
	timeout server 60s
	option forwardfor
	http-reuse always
frontend fe
	bind 127.0.0.1:18412 ssl crt $work/haproxy.pem alpn h2,http/1.1
	default_backend be
backend be
	server s1 $backend check inter 5s
CONF
taskset -c 0 haproxy -f "$work/haproxy.cfg" &
pids+=($!)
haproxy_pid=$!

start_dataplane 127.0.0.1:18413 $((n + 1000)) "$backend" \
	"\"TLS\": {\"CertFile\": \"$work/cert.pem\", \"KeyFile\": \"$work/key.pem\"},"
cutover_pid=$dataplane_pid

wait_up "http://$backend/"
for port in 18411 18412 18413; do wait_up "https://127.0.0.1:$port/"; done

declare -A rps p99
measure() { # name url
	taskset -c 1 wrk -t1 -c"$conns" -d1s "$2" >/dev/null # warm up pools
	out=$(taskset -c 1 wrk -t1 -c"$conns" -d"${secs}s" --latency "$2")
	errs=$(echo "$out" | awk '/Non-2xx|Socket errors/ {print}')
	rps[$1]=$(echo "$out" | awk '/^Requests\/sec/ {printf "%.0f", $2}')
	p99[$1]=$(to_ms "$(echo "$out" | awk '$1 == "99%" {print $2}')")
	printf '%-8s %10s req/s   p50 %8s ms   p99 %8s ms   %s\n' "$1" "${rps[$1]}" \
		"$(to_ms "$(echo "$out" | awk '$1 == "50%" {print $2}')")" "${p99[$1]}" "$errs"
}

declare -A kib
idle_rss() { # name port pid...
	local name=$1 port=$2 before after ic
	shift 2
	before=$(rss_kb "$@")
	taskset -c 1 "$work/idleconns" "$idle_proto" -addr "127.0.0.1:$port" -n "$n" >"$work/idle.out" &
	ic=$!
	pids+=($ic)
	for _ in $(seq 1 1200); do
		grep -q ready "$work/idle.out" && break
		kill -0 "$ic" 2>/dev/null || { echo "bench: idleconns failed against $name" >&2; exit 1; }
		sleep 0.1
	done
	grep -q ready "$work/idle.out" || { echo "bench: idleconns did not open $n connections to $name in 120 s" >&2; exit 1; }
	sleep 2
	after=$(rss_kb "$@")
	kill "$ic"
	wait "$ic" 2>/dev/null || true
	kib[$name]=$(awk -v a="$after" -v b="$before" -v n="$n" 'BEGIN {printf "%.1f", (a-b)/n}')
	printf '%-8s RSS %7d KiB before, %7d KiB with %d idle connections (+%s KiB each)\n' \
		"$name" "$before" "$after" "$n" "${kib[$name]}"
	sleep 3 # the proxy notices the resets and closes its side
}

echo "HTTPS: wrk -t1 -c$conns -d${secs}s, proxies on CPU 0 with one worker each, backend and wrk on CPU 1"
measure nginx https://127.0.0.1:18411/
measure haproxy https://127.0.0.1:18412/
measure cutover https://127.0.0.1:18413/
echo
echo "memory with $n idle client connections (idleconns $idle_proto)"
idle_rss nginx 18411 "$nginx_pid" $(pgrep -P "$nginx_pid")
idle_rss haproxy 18412 "$haproxy_pid" $(pgrep -P "$haproxy_pid" || true)
idle_rss cutover 18413 "$cutover_pid"

# Hand-overs under HTTPS load: the data plane is replaced (`cutover
# dataplane --takeover`, what `cutover upgrade` starts) HANDOVERS times
# while wrk keeps 16 keep-alive connections busy; every request must
# succeed.
handovers=${HANDOVERS:-3}
echo
echo "$handovers hand-overs of the data plane under HTTPS load (wrk -t1 -c16)"
taskset -c 1 wrk -t1 -c16 -d"$((handovers * 4 + 4))s" https://127.0.0.1:18413/ >"$work/wrk-handover.out" &
wrk_pid=$!
pids+=($wrk_pid)
sleep 2
old=$cutover_pid
for i in $(seq 1 "$handovers"); do
	GOMAXPROCS=1 taskset -c 0 "$work/cutover" dataplane --data "$work/dp" --takeover --log-level warn &
	cutover_pid=$!
	pids+=($cutover_pid)
	for _ in $(seq 1 300); do kill -0 "$old" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$old" 2>/dev/null && { echo "bench: the data plane $old did not hand over in 30 s" >&2; exit 1; }
	echo "hand-over $i: data plane $old replaced by $cutover_pid"
	old=$cutover_pid
	sleep 2
done
wait "$wrk_pid"
ho_requests=$(awk '/requests in/ {print $1}' "$work/wrk-handover.out")
ho_failed=$(awk '/Non-2xx/ {n += $NF} /Socket errors/ {gsub(",", ""); n += $4 + $6 + $8 + $10} END {print n + 0}' "$work/wrk-handover.out")
echo "hand-overs=$handovers requests=$ho_requests failed=$ho_failed"

echo
awk -v c="${rps[cutover]}" -v h="${rps[haproxy]}" -v cp="${p99[cutover]}" -v hp="${p99[haproxy]}" \
	-v k="${kib[cutover]}" -v kh="${kib[haproxy]}" -v kn="${kib[nginx]}" -v proto="${idle_proto#-}" \
	'BEGIN { printf "cutover/haproxy https throughput ratio: %.2f p99 ratio: %.2f idle %s KiB per connection: %.1f vs %.1f (nginx %.1f)\n", c / h, cp / hp, proto, k, kh, kn }'
