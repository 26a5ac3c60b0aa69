#!/bin/sh
# deploy.three_nodes: the README's 3-node example (deploy/three-nodes --check)
# comes up (every node sees the other two online) and, when it exits, has
# stopped its three cairnd processes (checked by the PIDs it printed). Runs
# on a random BASE_PORT, bounded at 90 s (the script's own deadline is 60 s).
#
#   three_nodes.sh SOURCE_DIR BUILD_DIR
set -u
src=$1
build=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
port=$(shuf -i 20000-29990 -n 1)
CAIRN_BUILD=$build BASE_PORT=$port "$src/deploy/three-nodes" --check "$tmp/nodes" >"$tmp/out" 2>&1 &
script=$!
deadline=$(($(date +%s) + 90))
while kill -0 "$script" 2>/dev/null; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
        kill -TERM "$script" # its EXIT trap stops the nodes by PID
        echo "FAIL: deploy/three-nodes --check still running after 90 s"
        break
    fi
    sleep 0.2 # a poll interval; the deadline bounds the wait
done
wait "$script"
status=$?
cat "$tmp/out"
pids=$(sed -n 's/^node[0-9]: pid \([0-9]*\),.*/\1/p' "$tmp/out")
[ "$(echo "$pids" | wc -w)" = 3 ] || {
    echo "FAIL: three-nodes did not start three nodes"
    exit 1
}
for pid in $pids; do
    if kill -0 "$pid" 2>/dev/null; then
        echo "FAIL: node pid $pid still runs after three-nodes exited"
        kill -TERM "$pid"
        exit 1
    fi
done
[ "$status" = 0 ] || {
    for log in "$tmp"/nodes/node*.log; do
        echo "--- $log"
        tail -20 "$log"
    done
    echo "FAIL: deploy/three-nodes --check exited $status"
    exit 1
}
grep -q '^all three nodes see each other$' "$tmp/out" || {
    echo "FAIL: no 'all three nodes see each other'"
    exit 1
}
