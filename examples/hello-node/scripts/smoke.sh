#!/bin/sh
# AfterAllowTestTraffic hook: the green task set answers on the test
# listener before it gets production traffic. cutover passes
# CUTOVER_TEST_URL; a non-zero exit rolls the deployment back.
set -eu
url="${CUTOVER_TEST_URL:?CUTOVER_TEST_URL is not set}"
status=$(curl -fsS "$url/status")
echo "smoke test $url/status: $status"
echo "$status" | grep -q '"ok"'
