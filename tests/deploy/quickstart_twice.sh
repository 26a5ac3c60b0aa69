#!/bin/sh
# deploy.quickstart_twice: the README's promise that a second
# `./deploy/quickstart` only rebuilds what changed. Runs the real quickstart
# of this source tree twice into a fresh build dir (CAIRN_BUILD_DIR), with
# --print-config so that cairnd prints its settings and exits; the first
# run compiles the tree, the second must compile nothing (no "Building C"
# line: configuring again once moved -isystem flags and recompiled all).
#
#   quickstart_twice.sh SOURCE_DIR
set -u
src=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
had_data=0
[ -e "$src/cairn-data" ] && had_data=1

for run in 1 2; do
    if ! CAIRN_BUILD_DIR="$tmp/build" "$src/deploy/quickstart" --print-config >"$tmp/run$run" 2>&1; then
        tail -40 "$tmp/run$run"
        echo "FAIL: quickstart run $run failed"
        exit 1
    fi
    if ! grep -q '^client' "$tmp/run$run" || ! grep -q 'endpoint = ' "$tmp/run$run"; then
        tail -20 "$tmp/run$run"
        echo "FAIL: quickstart run $run did not end with cairnd --print-config"
        exit 1
    fi
    echo "run $run: $(grep -c 'Building C' "$tmp/run$run") objects compiled"
done
grep -q 'Building C' "$tmp/run1" || {
    echo "FAIL: the first run compiled nothing: did it build in $tmp/build?"
    exit 1
}
if grep 'Building C' "$tmp/run2"; then
    echo "FAIL: the second quickstart compiled the objects above again"
    exit 1
fi
if [ "$had_data" = 0 ] && [ -e "$src/cairn-data" ]; then
    echo "FAIL: cairnd --print-config created $src/cairn-data"
    exit 1
fi
