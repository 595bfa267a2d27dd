# bench/lib.sh: what bench/proxy.sh, bench/websocket.sh and bench/tls.sh
# share. Sourced, not run: it sets up $work (a temporary directory) and
# $pids (processes to stop at exit), and defines the helpers below.

# need_packages command:package...: installs from Debian the packages
# whose command is missing.
need_packages() {
	local need=() pair
	for pair in "$@"; do
		command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}")
	done
	if [ "${#need[@]}" -gt 0 ]; then
		echo "installing ${need[*]}" >&2
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
	fi
}

work=$(mktemp -d)
pids=()
# stop_all stops the processes in $pids and their children, says which is
# still running half a second later, and removes $work.
stop_all() {
	local all=("${pids[@]}") p
	for p in "${pids[@]}"; do all+=($(pgrep -P "$p" || true)); done
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	sleep 0.5
	for p in "${all[@]}"; do
		kill -0 "$p" 2>/dev/null && echo "bench: process $p is still running" >&2
	done
	rm -rf "$work"
}
trap stop_all EXIT

# ports_free port...: ends the script when something already listens on
# one of the loopback ports it is about to bind (a process an earlier run
# left behind would answer in place of the one measured).
ports_free() {
	local p
	for p in "$@"; do
		if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "bench: something already listens on 127.0.0.1:$p (left from an earlier run?); stop it and run again" >&2
			exit 1
		fi
	done
}

# wait_up url: waits up to 10 s for url to answer 2xx (certificates are
# not checked), or ends the script.
wait_up() {
	for _ in $(seq 1 100); do
		curl -kfsS -o /dev/null "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "bench: $1 did not come up" >&2
	exit 1
}

# to_ms converts wrk's "1.23ms" / "850.00us" / "1.02s" to milliseconds.
to_ms() {
	awk -v v="$1" 'BEGIN {
		n = v + 0
		if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000
		printf "%.3f", n
	}'
}

# rss_kb pid...: the summed VmRSS of the processes, in KiB.
rss_kb() {
	local sum=0 p
	for p in "$@"; do sum=$((sum + $(awk '/^VmRSS/ {print $2}' "/proc/$p/status"))); done
	echo "$sum"
}

# cpu_ticks pid...: the CPU time (user and system) the processes have used,
# in clock ticks (getconf CLK_TCK a second).
cpu_ticks() {
	local sum=0 p
	for p in "$@"; do sum=$((sum + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
	echo "$sum"
}

# start_dataplane address max_connections backend [listener fields]: runs
# `$work/cutover dataplane` on CPU 0 with GOMAXPROCS=1 and gives it, as the
# control plane would (PUT /v1/config, proxy.Config as JSON: Go field
# names, durations in nanoseconds), one listener "bench" at address in
# front of backend, health-checked every 5 s; extra listener fields (e.g.
# '"TLS": {...},') go in as they are. Its PID is in $dataplane_pid.
start_dataplane() {
	local address=$1 max=$2 backend=$3 fields=${4:-}
	mkdir -p "$work/dp"
	GOMAXPROCS=1 taskset -c 0 "$work/cutover" dataplane --data "$work/dp" --log-level warn &
	dataplane_pid=$!
	pids+=($dataplane_pid)
	for _ in $(seq 1 100); do [ -S "$work/dp/dataplane.sock" ] && break; sleep 0.1; done
	curl -fsS --unix-socket "$work/dp/dataplane.sock" -X PUT http://dataplane/v1/config -o "$work/dp-ack.json" -d @- <<CONF
{"Version": 1, "Config": {
	"Listeners": [{"Name": "bench", "Address": "$address", "MaxConnections": $max, $fields
		"Default": {"TargetGroups": [{"Name": "be", "Weight": 1}]}}],
	"TargetGroups": [{"Name": "be", "Targets": ["$backend"],
		"HealthCheck": {"Interval": 5000000000, "Timeout": 2000000000, "HealthyThreshold": 2}}]
}}
CONF
	grep -q "\"bench\":\"$address\"" "$work/dp-ack.json" ||
		{ cat "$work/dp-ack.json"; echo "bench: the data plane did not take its configuration" >&2; exit 1; }
	[ "$(cat "$work/dp/dataplane.pid")" = "$dataplane_pid" ] ||
		{ echo "bench: the data plane runs as another process than started" >&2; exit 1; }
}
