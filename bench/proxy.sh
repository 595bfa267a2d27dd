#!/usr/bin/env bash
# bench/proxy.sh: cutover's load balancer against nginx and HAProxy, in one run.
#
# Installs nginx, haproxy and wrk from Debian when absent, then measures, on
# loopback, a backend directly and through each proxy with equivalent
# settings: one worker/thread/core each (GOMAXPROCS=1, worker_processes 1,
# nbthread 1), keep-alive to the backend, the proxy pinned to CPU 0 and the
# backend and wrk to CPU 1. cutover's load balancer is measured twice: as the
# standalone `cutover proxy --config lb.yaml` ("cutover"), and as the data
# plane process `cutover up` runs ("dataplane": `cutover dataplane`, given
# the same listener and target group, health check included, by a
# PUT /v1/config on its control socket), each on its own port. Prints
# requests/s, p50 and p99 per path, the CPU time the answering process used
# per request (on a shared machine the rates swing with the other load, the
# CPU per request much less), the memory (RSS) of each proxy holding
# 10,000 and 100,000 idle keep-alive client connections, the data plane
# against the standalone proxy, the standalone proxy's ratios to nginx, and
# as its last line the data plane's ("cutover") against nginx and HAProxy,
# with its idle memory per connection (the larger of the counts' figures):
#
#   cutover/nginx throughput ratio: X.XX p99 ratio: Y.YY cutover/haproxy throughput ratio: Z.ZZ idle KiB per connection: M.M
#
# Idle memory is the growth of a proxy's RSS over its RSS after the
# throughput runs, divided by the connections held; the counts run in
# ascending order, so memory freed after a smaller count is reused, not
# counted twice. 100,000 connections need a limit of open files above
# 100,000 (the script raises it; that needs root with CAP_SYS_RESOURCE when
# the hard limit is lower) and several source addresses: one address has
# about 28,000 ephemeral ports towards a listener, so bench/cmd/idleconns
# spreads them over 127.0.0.1, 127.0.0.2, ... A count the limit cannot hold
# is skipped with a message saying so.
#
# Environment: SECONDS_PER_RUN (default 10) shortens or lengthens each run;
# CONNECTIONS (default 64) is wrk's connection count; IDLE_CONNS (default
# "10000 100000") the idle connection counts of the memory test.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"

secs=${SECONDS_PER_RUN:-10}
conns=${CONNECTIONS:-64}
idle_counts=${IDLE_CONNS:-10000 100000}

source bench/lib.sh
need_packages nginx:nginx-light haproxy:haproxy wrk:wrk
# Each idle connection is a descriptor in the proxy and one in idleconns,
# plus room for the backend connections and the rest.
idle_max=0
for n in $idle_counts; do [ "$n" -gt "$idle_max" ] && idle_max=$n; done
want_fds=$((idle_max + 2000))
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$want_fds" ]; then
	ulimit -Hn "$want_fds" 2>/dev/null || true
fi
ulimit -n "$(ulimit -Hn)"
fds=$(ulimit -n)
counts=()
for n in $idle_counts; do
	if [ "$fds" = unlimited ] || [ "$((n + 2000))" -le "$fds" ]; then
		counts+=("$n")
	else
		echo "bench: skipping $n idle connections: the limit of open files is $fds and cannot be raised here (needs $((n + 2000)); run as root with CAP_SYS_RESOURCE, or raise the hard limit, e.g. LimitNOFILE=)" >&2
		# The most that fits instead, so that a second count still shows
		# whether the cost per connection stays flat as they grow.
		fit=$(((fds - 2000) / 1000 * 1000))
		if [ "$fit" -gt 0 ] && ! printf '%s\n' "${counts[@]}" $idle_counts | grep -qx "$fit"; then
			echo "bench: measuring $fit idle connections instead, the most the limit allows" >&2
			counts+=("$fit")
		fi
	fi
done
[ "${#counts[@]}" -gt 0 ] || { echo "bench: no idle connection count fits the limit of open files ($fds)" >&2; exit 1; }
idle=0
for n in "${counts[@]}"; do [ "$n" -gt "$idle" ] && idle=$n; done

ports_free 18001 18101 18102 18103 18104 18190
go build -o "$work/cutover" ./cmd/cutover
go build -o "$work/backend" ./bench/cmd/backend
go build -o "$work/idleconns" ./bench/cmd/idleconns

backend=127.0.0.1:18001
GOMAXPROCS=1 taskset -c 1 "$work/backend" -addr "$backend" &
pids+=($!)
backend_pid=$!

cat >"$work/nginx.conf" <<EOF
worker_processes 1;
worker_rlimit_nofile $((idle + 1500));
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections $((idle + 1000)); }
http {
	access_log off;
	upstream backend { server $backend; keepalive 256; }
	server {
		listen 127.0.0.1:18101 reuseport;
		location / {
			proxy_pass http://backend;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header Host \$host;
			proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
		}
	}
}
EOF
taskset -c 0 nginx -c "$work/nginx.conf" -g 'daemon off;' &
pids+=($!)
nginx_pid=$!

cat >"$work/haproxy.cfg" <<EOF
global
	nbthread 1
	maxconn $((idle + 500))
	no strict-limits
defaults
	mode http
	timeout connect 5s
	timeout client 60s
	timeout server 60s
	option forwardfor
	http-reuse always
frontend fe
	bind 127.0.0.1:18102
	default_backend be
backend be
	server s1 $backend check inter 5s
EOF
taskset -c 0 haproxy -f "$work/haproxy.cfg" &
pids+=($!)
haproxy_pid=$!

# max_connections (default 10000) stays above the idle-connection test's counts.
cat >"$work/lb.yaml" <<EOF
admin: 127.0.0.1:18190
listeners:
  - {name: bench, address: "127.0.0.1:18103", forward: be, max_connections: $((idle + 1000))}
target_groups:
  - name: be
    targets: ["$backend"]
    health_check: {interval: 5s, timeout: 2s, healthy_threshold: 2}
EOF
GOMAXPROCS=1 taskset -c 0 "$work/cutover" proxy --config "$work/lb.yaml" --log-level warn &
pids+=($!)
cutover_pid=$!

# The same load balancer as the data plane process, given the listener and
# target group of lb.yaml above as the control plane would.
start_dataplane 127.0.0.1:18104 $((idle + 1000)) "$backend"

for port in 18001 18101 18102 18103 18104; do wait_up "http://127.0.0.1:$port/"; done

declare -A rps p50 p99 cpu
tck=$(getconf CLK_TCK)
# measure name url pid...: wrk against url; the CPU time the pids (the
# process answering) used, per request, is the figure that the other
# load on a shared machine moves least.
measure() {
	local name=$1 url=$2
	shift 2
	taskset -c 1 wrk -t1 -c"$conns" -d1s "$url" >/dev/null # warm up pools
	local before after
	before=$(cpu_ticks "$@")
	out=$(taskset -c 1 wrk -t1 -c"$conns" -d"${secs}s" --latency "$url")
	after=$(cpu_ticks "$@")
	errs=$(echo "$out" | awk '/Non-2xx|Socket errors/ {print}')
	rps[$name]=$(echo "$out" | awk '/^Requests\/sec/ {printf "%.0f", $2}')
	p50[$name]=$(to_ms "$(echo "$out" | awk '$1 == "50%" {print $2}')")
	p99[$name]=$(to_ms "$(echo "$out" | awk '$1 == "99%" {print $2}')")
	cpu[$name]=$(echo "$out" | awk -v t=$((after - before)) -v hz="$tck" '/requests in/ {printf "%.1f", t / hz * 1e6 / $1}')
	printf '%-9s %10s req/s   p50 %8s ms   p99 %8s ms   CPU %6s µs/request   %s\n' "$name" "${rps[$name]}" "${p50[$name]}" "${p99[$name]}" "${cpu[$name]}" "$errs"
}

echo "wrk -t1 -c$conns -d${secs}s, proxies on CPU 0 with one worker each, backend and wrk on CPU 1"
measure direct http://$backend/ "$backend_pid"
measure nginx http://127.0.0.1:18101/ "$nginx_pid" $(pgrep -P "$nginx_pid")
measure haproxy http://127.0.0.1:18102/ "$haproxy_pid" $(pgrep -P "$haproxy_pid" || true)
measure cutover http://127.0.0.1:18103/ "$cutover_pid"
measure dataplane http://127.0.0.1:18104/ "$dataplane_pid"

declare -A idle_kib # the largest growth per connection over the counts
idle_rss() { # name port pid...
	local name=$1 port=$2
	shift 2
	local before after n each
	before=$(rss_kb "$@")
	idle_kib[$name]=0
	for n in "${counts[@]}"; do
		# At most 10,000 connections per source address, well below its
		# ~28,000 ports: the previous count's connections to the same
		# port wait out TIME_WAIT on the same addresses (a bench run
		# with 10,000 and then 18,000 on one address ran out of them).
		"$work/idleconns" -addr "127.0.0.1:$port" -n "$n" -sources $(((n + 9999) / 10000)) >"$work/idle.out" &
		local ic=$!
		for _ in $(seq 1 1200); do
			grep -q ready "$work/idle.out" 2>/dev/null && break
			kill -0 "$ic" 2>/dev/null || { echo "bench: idleconns failed against $name" >&2; exit 1; }
			sleep 0.1
		done
		grep -q ready "$work/idle.out" || { echo "bench: idleconns did not open $n connections to $name in 120 s" >&2; exit 1; }
		sleep 2
		after=$(rss_kb "$@")
		kill "$ic"
		wait "$ic" 2>/dev/null || true
		each=$(awk -v a="$after" -v b="$before" -v n="$n" 'BEGIN {printf "%.2f", (a-b)/n}')
		printf '%-9s RSS %7d KiB after the runs, %7d KiB with %6d idle client connections (+%.1f KiB each)\n' \
			"$name" "$before" "$after" "$n" "$each"
		idle_kib[$name]=$(awk -v a="$each" -v b="${idle_kib[$name]}" 'BEGIN {print (a > b) ? a : b}')
		sleep 3 # the proxy notices the resets and closes its side
	done
}
echo
echo "memory with ${counts[*]} idle client connections"
idle_rss nginx 18101 "$nginx_pid" $(pgrep -P "$nginx_pid")
idle_rss haproxy 18102 "$haproxy_pid" $(pgrep -P "$haproxy_pid" || true)
idle_rss cutover 18103 "$cutover_pid"
idle_rss dataplane 18104 "$dataplane_pid"

echo
awk -v d="${rps[dataplane]}" -v c="${rps[cutover]}" -v dp="${p99[dataplane]}" -v cp="${p99[cutover]}" \
	'BEGIN { printf "data plane/standalone throughput ratio: %.2f p99 ratio: %.2f\n", d / c, dp / cp }'
awk -v c="${rps[cutover]}" -v n="${rps[nginx]}" -v cp="${p99[cutover]}" -v np="${p99[nginx]}" \
	-v h="${rps[haproxy]}" -v hp="${p99[haproxy]}" -v k="${idle_kib[cutover]}" \
	'BEGIN { printf "standalone cutover proxy/nginx throughput ratio: %.2f p99 ratio: %.2f /haproxy throughput ratio: %.2f p99 ratio: %.2f idle KiB per connection: %.1f\n", c / n, cp / np, c / h, cp / hp, k }'
awk -v hp="${p99[haproxy]}" -v cp="${p99[dataplane]}" -v hc="${cpu[haproxy]}" -v cc="${cpu[dataplane]}" \
	'BEGIN { printf "data plane/haproxy p99 ratio: %.2f CPU per request ratio: %.2f\n", cp / hp, cc / hc }'
awk -v c="${rps[dataplane]}" -v n="${rps[nginx]}" -v cp="${p99[dataplane]}" -v np="${p99[nginx]}" \
	-v h="${rps[haproxy]}" -v k="${idle_kib[dataplane]}" \
	'BEGIN { printf "cutover/nginx throughput ratio: %.2f p99 ratio: %.2f cutover/haproxy throughput ratio: %.2f idle KiB per connection: %.1f\n", c / n, cp / np, c / h, k }'
