#!/usr/bin/env bash
# bench/restart-under-load.sh: restarts, kill -9 and upgrades of cutover
# itself under load, measured.
#
# Installs wrk and nodejs from Debian when absent. Runs examples/hello-node
# (3 tasks, its listeners moved to free ports below 32768) behind
# `cutover up`, and puts constant load on its production listener with wrk
# (2 threads, 16 keep-alive connections). Then, each kind under a load run
# of its own so that failures can be attributed to it:
#
#   restart  RESTARTS times (default 5): SIGTERM to the control plane
#            (`cutover up`), start it again on the same data directory;
#   kill     RESTARTS times: kill -9 of the control plane, start it again;
#   upgrade  RESTARTS times: install the other of two binaries (this tree,
#            version "dev", and the same built with -X main.version=bench-next)
#            at the path `cutover up` was started from (write to a temporary
#            file, rename over), then `cutover upgrade`; the data plane hands
#            its sockets over and the control plane re-executes the new binary.
#
# For each restart it prints the seconds from the signal (or from starting
# `cutover upgrade`) until `cutover status` answers again, and per kind the
# requests, non-2xx answers, socket errors and those times (min/median/max).
# At the end it stops everything with SIGINT to `cutover up`, checks that no
# process it started is left (control plane, data plane, tasks), and prints
# as its last line:
#
#   restarts=N kills=K upgrades=U requests=R failed=F
#
# requests = complete responses wrk received; failed = non-2xx + socket
# errors over all three kinds. wrk is used rather than bench/cmd/load because
# it counts more strictly: Go's HTTP client silently retries a GET whose
# reused keep-alive connection broke before the answer, where wrk counts a
# read error. Non-2xx are counted by a Lua response() hook (every status
# outside 200-299, also 1xx and 3xx, which wrk's own "Non-2xx or 3xx" line
# leaves out); socket errors are wrk's connect + read + write + timeout
# (a request still unanswered after 10 s, bench/cmd/load's timeout).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
restarts=${RESTARTS:-5}

need=()
command -v node >/dev/null || need+=(nodejs)
command -v wrk >/dev/null || need+=(wrk)
if [ "${#need[@]}" -gt 0 ]; then
	echo "installing ${need[*]}" >&2
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

work=$(mktemp -d)
data="$work/data"
up_pid=""
wrk_pid=""
task_pids=()
dataplane_pids=()
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
cleanup() {
	alive "$wrk_pid" && kill -INT "$wrk_pid" 2>/dev/null
	if alive "$up_pid"; then
		kill -INT "$up_pid" 2>/dev/null || true
		for _ in $(seq 1 300); do alive "$up_pid" || break; sleep 0.1; done
	fi
	# Only if `cutover up` could not stop them (it died, or was killed last):
	[ -f "$data/dataplane.pid" ] && dataplane_pids+=("$(cat "$data/dataplane.pid")")
	for p in "${dataplane_pids[@]}" "${task_pids[@]}"; do alive "$p" && kill -TERM "$p" 2>/dev/null; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/bin"
go build -o "$work/bin/cutover-dev" ./cmd/cutover
go build -ldflags "-X main.version=bench-next" -o "$work/bin/cutover-bench-next" ./cmd/cutover
bin="$work/cutover" # the path `cutover up` runs from, and that upgrades replace
install_bin() {     # version: write to a temporary file, rename over the path
	cp "$work/bin/cutover-$1" "$bin.new"
	mv -f "$bin.new" "$bin"
}
install_bin dev
cutover() { "$work/bin/cutover-dev" --data "$data" "$@"; } # the CLI: never replaced

app="$work/hello"
cp -r examples/hello-node "$app"
prod=$((20000 + RANDOM % 5000))
test=$((prod + 1))
sed -i -e "s/^\(  production: \).*/\1\"127.0.0.1:$prod\"/" -e "s/^\(  test: \).*/\1\"127.0.0.1:$test\"/" "$app/cutover.yaml"
grep -q "127.0.0.1:$prod" "$app/cutover.yaml" || { echo "bench: could not move the listeners" >&2; exit 1; }

# json_field NAME: the first "NAME": "value" of a JSON document on stdin.
json_field() { sed -n 's/.*"'"$1"'": *"\([^"]*\)".*/\1/p' | head -1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.3f", b - a}'; }

n_up=0
start_up() {
	n_up=$((n_up + 1))
	"$bin" --data "$data" up "$app" --api-addr "" >"$work/up-$n_up.log" 2>&1 &
	up_pid=$!
}
# wait_status: wait until `cutover status` answers (30 s at most).
wait_status() {
	for _ in $(seq 1 1500); do
		cutover status >/dev/null 2>&1 && return 0
		sleep 0.02
	done
	echo "bench: the control plane did not answer within 30 s; its log:" >&2
	cat "$work/up-$n_up.log" >&2
	exit 1
}

start_up
for _ in $(seq 1 600); do
	curl -fsS -o /dev/null "http://127.0.0.1:$prod/" 2>/dev/null && break
	sleep 0.1
done
curl -fsS -o /dev/null "http://127.0.0.1:$prod/" || { cat "$work/up-1.log"; echo "bench: hello-node did not come up" >&2; exit 1; }
for _ in $(seq 1 600); do
	st=$(cutover history hello --json | json_field status)
	[ "$st" != InProgress ] && [ "$st" != Created ] && break
	sleep 0.1
done
echo "hello-node serves on 127.0.0.1:$prod; first deployment: $st"
for h in $(cutover tasks hello --json | sed -n 's/.*"handle": *"\([0-9]*\)".*/\1/p'); do task_pids+=("$h"); done
dataplane_pids+=("$(cat "$data/dataplane.pid")")
echo "control plane pid $up_pid, data plane pid ${dataplane_pids[0]}, task pids ${task_pids[*]}"

cat >"$work/count.lua" <<'EOF'
-- Counts every answer outside 200-299 (wrk's own count leaves out 1xx and 3xx).
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) non2xx = 0 end
function response(status, headers, body)
	if status < 200 or status > 299 then non2xx = non2xx + 1 end
end
function done(summary, latency, requests)
	local n = 0
	for _, t in ipairs(threads) do n = n + t:get("non2xx") end
	local e = summary.errors
	io.write(string.format("totals: requests=%d non2xx=%d connect=%d read=%d write=%d timeout=%d wrk_status=%d\n",
		summary.requests, n, e.connect, e.read, e.write, e.timeout, e.status))
end
EOF

total_req=0 total_failed=0
declare -A kind_summary
# run_kind KIND: one wrk run around RESTARTS restarts of that kind.
run_kind() {
	local kind=$1 i t0 took answered out times=()
	wrk -t2 -c16 -d1h --timeout 10s -s "$work/count.lua" "http://127.0.0.1:$prod/" >"$work/wrk-$kind.out" 2>&1 &
	wrk_pid=$!
	sleep 2
	for i in $(seq 1 "$restarts"); do
		case $kind in
		restart | kill)
			t0=$(now)
			if [ "$kind" = restart ]; then kill -TERM "$up_pid"; else kill -KILL "$up_pid"; fi
			wait "$up_pid" 2>/dev/null || true
			local stopped
			stopped=$(since "$t0")
			local t1
			t1=$(now)
			start_up
			wait_status
			answered=$(since "$t1")
			took=$(since "$t0")
			local dp
			dp=$(cat "$data/dataplane.pid")
			[ "$dp" = "${dataplane_pids[-1]}" ] || { echo "bench: the data plane changed from ${dataplane_pids[-1]} to $dp" >&2; exit 1; }
			printf '  %-7s %d: stopped after %6ss, new control plane answered after %6ss: %6ss in all (data plane %s kept)\n' "$kind" "$i" "$stopped" "$answered" "$took" "$dp"
			;;
		upgrade)
			local want=bench-next
			[ $((i % 2)) -eq 0 ] && want=dev
			install_bin "$want"
			t0=$(now)
			out=$(cutover upgrade) || { echo "$out"; echo "bench: cutover upgrade failed" >&2; exit 1; }
			wait_status
			took=$(since "$t0")
			echo "$out" | grep -q "now running: control plane $want, data plane $want" ||
				{ echo "$out"; echo "bench: upgrade $i did not end on version $want" >&2; exit 1; }
			printf '  upgrade %d to %-10s: %6ss until status answered (%s; %s)\n' "$i" "$want" "$took" \
				"$(echo "$out" | sed -n 's/^data plane: \(pid .*\)/data plane \1/p')" \
				"$(echo "$out" | sed -n 's/^control plane: restarted .* and \(answered after .*\)/control plane \1/p')"
			dataplane_pids+=("$(cat "$data/dataplane.pid")")
			;;
		esac
		times+=("$took")
		sleep 1
	done
	sleep 1
	kill -INT "$wrk_pid"
	wait "$wrk_pid" || true
	wrk_pid=""
	local totals req non2xx sockerr stats
	totals=$(grep '^totals:' "$work/wrk-$kind.out") || { cat "$work/wrk-$kind.out"; echo "bench: no totals from wrk" >&2; exit 1; }
	req=$(echo "$totals" | sed -n 's/.*requests=\([0-9]*\).*/\1/p')
	non2xx=$(echo "$totals" | sed -n 's/.*non2xx=\([0-9]*\).*/\1/p')
	sockerr=$(echo "$totals" | awk '{for (i = 1; i <= NF; i++) if ($i ~ /^(connect|read|write|timeout)=/) {split($i, kv, "="); s += kv[2]}} END {print s + 0}')
	stats=$(printf '%s\n' "${times[@]}" | sort -n | awk '{v[NR] = $1} END {m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "min %.3fs median %.3fs max %.3fs", v[1], m, v[NR]}')
	kind_summary[$kind]=$(printf '%-8s requests %8d  non-2xx %d  socket errors %d  until status answered: %s' "$kind" "$req" "$non2xx" "$sockerr" "$stats")
	echo "  wrk: $(grep -E 'Requests/sec|Non-2xx|Socket errors' "$work/wrk-$kind.out" | tr -s ' ' | paste -sd ';' -)"
	echo "  $totals"
	echo "${kind_summary[$kind]}"
	total_req=$((total_req + req))
	total_failed=$((total_failed + non2xx + sockerr))
}

echo "load: wrk -t2 -c16 --timeout 10s (keep-alive) on http://127.0.0.1:$prod/, one run per kind; uptime:$(uptime | sed 's/.*load average/ load average/')"
for kind in restart kill upgrade; do
	echo "$kind x $restarts"
	run_kind "$kind"
done

# Stop everything with Ctrl-C's signal and check that nothing is left: the
# control plane, every data plane seen, every task seen, and any other
# process running from the work directory.
for h in $(cutover tasks hello --json | sed -n 's/.*"handle": *"\([0-9]*\)".*/\1/p'); do task_pids+=("$h"); done
dataplane_pids+=("$(cat "$data/dataplane.pid")")
# leftovers: "pid:state:command" of each such process still there, zombies
# (exited, not yet reaped by their new parent, pid 1) included.
leftovers() {
	local p f
	{
		for p in "$up_pid" "${dataplane_pids[@]}" "${task_pids[@]}"; do alive "$p" && echo "$p"; done
		for f in /proc/[0-9]*/cmdline; do
			grep -qF "$work" "$f" 2>/dev/null && basename "$(dirname "$f")"
		done
	} | sort -un | while read -r p; do
		[ -r "/proc/$p/stat" ] && echo "$p:$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null):$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-60)"
	done
	return 0
}
running() { leftovers | grep -v '^[0-9]*:Z:' || true; }
t0=$(now)
kill -INT "$up_pid"
for _ in $(seq 1 600); do alive "$up_pid" || break; sleep 0.05; done
wait "$up_pid" 2>/dev/null || true
up_exit=$(since "$t0")
at_exit=$(leftovers | paste -sd ' ' -)
for _ in $(seq 1 600); do [ -z "$(running)" ] && break; sleep 0.05; done
all_gone=$(since "$t0")
left=$(running | paste -sd ' ' -)
echo
echo "SIGINT to cutover up: it exited after ${up_exit}s; then still there (pid:state, Z = exited, not yet reaped): ${at_exit:-none}"
if [ -z "$left" ]; then
	echo "no process left running after ${all_gone}s (control plane, data planes $(printf '%s\n' "${dataplane_pids[@]}" | sort -un | paste -sd ' ' -), tasks $(printf '%s\n' "${task_pids[@]}" | sort -un | paste -sd ' ' -))"
else
	echo "LEFT RUNNING 30 s after SIGINT: $left"
fi
echo "uptime:$(uptime | sed 's/.*load average/ load average/')"
for kind in restart kill upgrade; do echo "${kind_summary[$kind]}"; done
[ -z "$left" ] || exit 1
echo "restarts=$restarts kills=$restarts upgrades=$restarts requests=$total_req failed=$total_failed"
