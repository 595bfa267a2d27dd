#!/usr/bin/env bash
# bench/deploy-under-load.sh: zero downtime, measured.
#
# Runs examples/hello-node with 3 tasks behind cutover, puts it under
# constant load (bench/cmd/load: 16 keep-alive workers), and makes DEPLOYS
# consecutive deployments (default 20), cycling through: all-at-once,
# canary, linear, rolling, a version whose health check fails (automatic
# rollback) and a manual rollback during the termination wait. For each it
# prints the time taken against its configured minimum (health threshold x
# interval + shift waits + termination wait). At the end it prints the
# requests sent, non-2xx answers and socket errors, and as its last line:
#
#   deployments=N requests=R failed=F worst_overrun_seconds=S
#
# failed = non-2xx + socket errors seen by the clients.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
deploys=${DEPLOYS:-20}

command -v node >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs >/dev/null; }

work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/cutover" ./cmd/cutover
go build -o "$work/load" ./bench/cmd/load
app="$work/hello"
cp -r examples/hello-node "$app"
data="$work/data"
cutover() { "$work/cutover" --data "$data" "$@"; }

prod=$((20000 + RANDOM % 5000))
test=$((prod + 1))
interval=1 healthy=2 termination=2 canary_wait=4 linear_pct=25 linear_every=2

# write_config STRATEGY TRAFFIC TERMINATION_WAIT
write_config() {
	cat >"$app/cutover.yaml" <<EOF
name: hello
service:
  command: [node, app.js]
  port: 3000
  count: 3
  stop_timeout: 10s
health: {path: /status, interval: ${interval}s, timeout: 500ms, healthy_threshold: $healthy, unhealthy_threshold: 2}
listeners: {production: "127.0.0.1:$prod", test: "127.0.0.1:$test"}
deploy:
  strategy: $1
$( [ -n "$2" ] && echo "  traffic: $2" )
  termination_wait: ${3}s
  deregistration_delay: 2s
  progress_deadline: 30s
  rollback:
    alarms: []
EOF
}

# json_field NAME: the first "NAME": "value" of a JSON document on stdin.
json_field() { sed -n 's/.*"'"$1"'": *"\([^"]*\)".*/\1/p' | head -1; }
# last_deployment FIELD: a field of the app's newest deployment.
last_deployment() { cutover history hello --json | json_field "$1"; }

write_config blue_green all_at_once "$termination"
"$work/cutover" --data "$data" up "$app" --api-addr "" >"$work/up.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 600); do
	curl -fsS -o /dev/null "http://127.0.0.1:$prod/" 2>/dev/null && break
	sleep 0.1
done
curl -fsS -o /dev/null "http://127.0.0.1:$prod/" || { cat "$work/up.log"; echo "bench: hello-node did not come up" >&2; exit 1; }
for _ in $(seq 1 600); do
	st=$(last_deployment status)
	[ "$st" != InProgress ] && [ "$st" != Created ] && break
	sleep 0.1
done

"$work/load" -url "http://127.0.0.1:$prod/" -c 16 >"$work/load.json" &
load_pid=$!
sleep 1

kinds=(all_at_once canary linear rolling rollback_health rollback_manual)
worst=0
printf '%-3s %-16s %-11s %8s %8s %8s\n' "#" kind result took minimum overrun
for i in $(seq 1 "$deploys"); do
	kind=${kinds[$(((i - 1) % ${#kinds[@]}))]}
	args=(--env "APP_VERSION=1.0.$i")
	min=$(((healthy - 1) * interval + termination))
	case $kind in
	all_at_once) write_config blue_green all_at_once "$termination" ;;
	canary)
		write_config blue_green "{type: canary, percent: 10, wait: ${canary_wait}s}" "$termination"
		min=$((min + canary_wait))
		;;
	linear)
		write_config blue_green "{type: linear, percent: $linear_pct, interval: ${linear_every}s}" "$termination"
		min=$((min + (100 / linear_pct - 1) * linear_every))
		;;
	rolling)
		write_config rolling "" 0
		min=$(((healthy - 1) * interval))
		;;
	rollback_health)
		write_config blue_green all_at_once "$termination"
		args+=(--env BROKEN=1)
		min=$((2 * interval)) # unhealthy_threshold checks
		;;
	rollback_manual) write_config blue_green all_at_once 60 ;;
	esac
	start=$(date +%s.%N)
	if [ "$kind" = rollback_manual ]; then
		# Roll back by hand once all traffic moved and the termination wait began.
		id=$(cutover deploy "$app" "${args[@]}" --wait=false --json | json_field id)
		for _ in $(seq 1 600); do
			[ "$(last_deployment step)" = TerminationWait ] && break
			sleep 0.1
		done
		cutover rollback "$id" >/dev/null
		for _ in $(seq 1 600); do
			result=$(last_deployment status)
			[ "$result" != InProgress ] && [ "$result" != Created ] && break
			sleep 0.1
		done
		min=$(((healthy - 1) * interval))
	else
		cutover deploy "$app" "${args[@]}" >"$work/deploy-$i.log" 2>&1 || true
		result=$(last_deployment status)
	fi
	end=$(date +%s.%N)
	took=$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.1f", b - a}')
	over=$(awk -v t="$took" -v m="$min" 'BEGIN {o = t - m; if (o < 0) o = 0; printf "%.1f", o}')
	worst=$(awk -v w="$worst" -v o="$over" 'BEGIN {print (o > w) ? o : w}')
	printf '%-3s %-16s %-11s %7ss %7ss %7ss\n' "$i" "$kind" "$result" "$took" "$min" "$over"
done

kill -TERM "$load_pid"
wait "$load_pid" || true
totals=$(tail -1 "$work/load.json")
requests=$(echo "$totals" | sed -n 's/.*"requests":\([0-9]*\).*/\1/p')
non2xx=$(echo "$totals" | sed -n 's/.*"non_2xx":\([0-9]*\).*/\1/p')
sockerr=$(echo "$totals" | sed -n 's/.*"socket_errors":\([0-9]*\).*/\1/p')
echo
echo "load: $totals"
echo "requests sent: $requests, non-2xx: $non2xx, socket errors: $sockerr"
echo "deployments=$deploys requests=$requests failed=$((non2xx + sockerr)) worst_overrun_seconds=$worst"
