#!/usr/bin/env bash
# bench/commit-to-live.sh: from `git push` to 100% of production traffic.
#
# Builds cutover, starts `cutover up` on a temporary copy of
# examples/hello-node made into a git repository (its own cutover.yaml,
# with free ports and a 5s termination wait so the first deployment ends
# sooner), waits for that first deployment to end, then bumps the app's
# version, pushes the commit to cutover's built-in git remote with an API
# token, and measures until the load balancer sends 100% of production
# traffic to the new version. The pipeline runs Source -> Build (the
# buildspec runs `npm test`) -> Deploy (linear 25% every 5s).
#
# It prints the time of each stage and what of it was not cutover's:
#   - the user's build commands (the buildspec's INSTALL..POST_BUILD phases),
#   - the user's hooks (the AfterAllowTestTraffic smoke test),
#   - the configured health wait ((healthy_threshold - 1) x interval),
#   - the configured shift waits (the linear steps' intervals before 100%).
# cutover's overhead is everything else. The last line is exactly:
#
#   commit_to_live_seconds=X cutover_overhead_seconds=Y
#
# Needs git, sqlite3 (to read timings from the store, read-only), node.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

command -v node >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs >/dev/null; }
command -v sqlite3 >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sqlite3 >/dev/null; }

work=$(mktemp -d)
pid=""
cleanup() {
	if [ -n "$pid" ]; then
		kill -INT "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/cutover" ./cmd/cutover
app="$work/hello"
cp -r examples/hello-node "$app"
rm -rf "$app/node_modules"
data="$work/data"
db="$data/cutover.db"
cutover() { "$work/cutover" --data "$data" "$@"; }
q() { sqlite3 -readonly "$db" "$1"; }
# secs A B: seconds from SQL time expression A to B, 3 decimals.
secs() { q "SELECT printf('%.3f', (julianday($2) - julianday($1)) * 86400.0)"; }

prod=$((20000 + RANDOM % 5000))
test=$((prod + 1))
apiport=$((prod + 2))
sed -i -e "s/production: \"127.0.0.1:8080\"/production: \"127.0.0.1:$prod\"/" \
	-e "s/test: \"127.0.0.1:8090\"/test: \"127.0.0.1:$test\"/" \
	-e "s/termination_wait: 30s/termination_wait: 5s/" "$app/cutover.yaml"
grep -q "127.0.0.1:$prod" "$app/cutover.yaml" || { echo "could not set the ports in cutover.yaml" >&2; exit 1; }

export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com
git -C "$app" init -q -b main
git -C "$app" add -A
git -C "$app" commit -q -m "hello-node 1.0.0"

# Not through the cutover function: a backgrounded function is a subshell,
# which would ignore the SIGINT of the cleanup.
"$work/cutover" --data "$data" up "$app" --api-addr "127.0.0.1:$apiport" >"$work/up.log" 2>&1 &
pid=$!

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
	local until=$((SECONDS + $1)) what=$2
	shift 2
	until "$@" >/dev/null 2>&1; do
		if [ $SECONDS -ge $until ] || ! kill -0 "$pid" 2>/dev/null; then
			echo "timed out waiting for $what; cutover's output:" >&2
			cat "$work/up.log" >&2
			exit 1
		fi
		sleep 0.1
	done
}
first_ended() { [ "$(q "SELECT count(*) FROM deployments WHERE status NOT IN ('Created', 'InProgress')")" -ge 1 ]; }
wait_for 120 "the first deployment" first_ended
[ "$(q "SELECT status FROM deployments ORDER BY number LIMIT 1")" = Succeeded ] || { echo "the first deployment failed" >&2; cat "$work/up.log" >&2; exit 1; }

token=$(cutover token create --role deploy --name bench | grep -o 'cot_[^[:space:]]*' | head -1)
[ -n "$token" ] || { echo "could not create an API token" >&2; exit 1; }

sed -i 's/"version": "1.0.0"/"version": "1.0.1"/' "$app/package.json"
git -C "$app" commit -q -am "hello-node 1.0.1"
sha=$(git -C "$app" rev-parse HEAD)

t0=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
git -C "$app" push -q "http://bench:$token@127.0.0.1:$apiport/git/hello.git" main
exec_id=$(q "SELECT id FROM pipeline_executions WHERE git_commit = '$sha' ORDER BY number DESC LIMIT 1")
[ -n "$exec_id" ] || { echo "the push started no execution" >&2; cat "$work/up.log" >&2; exit 1; }

# Live: the production weights give the new task set 100%.
live_at() {
	q "SELECT w.at FROM traffic_weights w JOIN deployments d ON d.id = w.deployment_id
	   WHERE d.id = (SELECT deployment_id FROM pipeline_executions WHERE id = '$exec_id')
	     AND w.listener = 'production'
	     AND json_extract(w.weights, '$.' || json_extract(d.config, '$.green')) = 100
	   ORDER BY w.id LIMIT 1"
}
is_live() { [ -n "$(live_at)" ]; }
failed() { q "SELECT status FROM pipeline_executions WHERE id = '$exec_id'" | grep -qE 'Failed|Stopped|Superseded'; }
until is_live; do
	if failed; then
		echo "execution $exec_id ended $(q "SELECT status || ': ' || error FROM pipeline_executions WHERE id = '$exec_id'")" >&2
		cat "$data/pipelines/hello/$exec_id/execution.log" >&2
		exit 1
	fi
	kill -0 "$pid" 2>/dev/null || { cat "$work/up.log" >&2; exit 1; }
	sleep 0.05
done
live=$(live_at)

body=$(curl -fsS "http://127.0.0.1:$prod/")
echo "$body" | grep -q '"version":"1.0.1"' || { echo "production does not serve 1.0.1: $body" >&2; exit 1; }

stage() { # stage NAME COLUMN
	q "SELECT $2 FROM pipeline_stages WHERE execution_id = '$exec_id' AND name = '$1'"
}
created=$(q "SELECT created_at FROM pipeline_executions WHERE id = '$exec_id'")
dep=$(q "SELECT deployment_id FROM pipeline_executions WHERE id = '$exec_id'")
log="$data/pipelines/hello/$exec_id/execution.log"

push_s=$(secs "'$t0'" "'$created'")
source_s=$(secs "'$(stage Source started_at)'" "'$(stage Source ended_at)'")
build_s=$(secs "'$(stage Build started_at)'" "'$(stage Build ended_at)'")
deploy_s=$(secs "'$(stage Deploy started_at)'" "'$live'")
total_s=$(secs "'$t0'" "'$live'")

# The user's build commands: the phases that run the buildspec's commands.
user_build_s=$(grep -o 'Build phase durations: .*' "$log" | tr ' ' '\n' |
	awk -F= '$1 ~ /^(INSTALL|PRE_BUILD|BUILD|POST_BUILD)$/ { sub(/s$/, "", $2); s += $2 } END { printf "%.3f", s }')
# The user's hooks, as the controller timed them.
hooks_s=$(q "SELECT printf('%.3f', coalesce(sum((julianday(ended_at) - julianday(started_at)) * 86400.0), 0))
	FROM lifecycle_events WHERE deployment_id = '$dep' AND name IN ('BeforeInstall', 'AfterInstall', 'AfterAllowTestTraffic', 'BeforeAllowTraffic')
	AND started_at IS NOT NULL AND ended_at IS NOT NULL")
# Configured waits, from the app's cutover.yaml: (healthy threshold - 1)
# x interval, as the first check runs at once (a task that starts slower
# than that counts as overhead here); linear steps of percent every
# interval before 100%.
interval=$(sed -n 's/^ *interval: \([0-9.]*\)s$/\1/p' "$app/cutover.yaml" | head -1)
threshold=$(sed -n 's/^ *healthy_threshold: \([0-9]*\)$/\1/p' "$app/cutover.yaml" | head -1)
read -r pct every < <(sed -n 's/.*traffic: {type: linear, percent: \([0-9]*\), interval: \([0-9.]*\)s}.*/\1 \2/p' "$app/cutover.yaml")
health_s=$(awk -v i="$interval" -v t="$threshold" 'BEGIN { printf "%.3f", i * (t - 1) }')
shift_s=$(awk -v p="$pct" -v e="$every" 'BEGIN { n = int((100 + p - 1) / p); printf "%.3f", (n - 1) * e }')

overhead_s=$(awk -v t="$total_s" -v b="$user_build_s" -v h="$hooks_s" -v w="$health_s" -v s="$shift_s" \
	'BEGIN { printf "%.3f", t - b - h - w - s }')

printf '%-44s %8ss\n' "git push until the execution is recorded" "$push_s"
printf '%-44s %8ss\n' "Source (checkout of $(echo "$sha" | cut -c1-7))" "$source_s"
printf '%-44s %8ss  (user build commands %ss)\n' "Build (buildspec: npm test)" "$build_s" "$user_build_s"
printf '%-44s %8ss  (hooks %ss, health wait %ss, shift waits %ss)\n' "Deploy until 100% of production traffic" "$deploy_s" "$hooks_s" "$health_s" "$shift_s"
printf '%-44s %8ss\n' "cutover's own overhead" "$overhead_s"
echo "commit_to_live_seconds=$total_s cutover_overhead_seconds=$overhead_s"
