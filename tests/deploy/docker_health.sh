#!/bin/bash
# deploy.docker_health: the Dockerfile's ENTRYPOINT and HEALTHCHECK commands
# against a real cairnd set up as the container is (no Docker needed): the
# Dockerfile's own ENV (CURVE on: all interfaces, client_auth auto), the
# data dir in a temp dir, a random port. The health check passes through
# CURVE with the key the entry point made; a client without an allowed key
# gets nothing; the health check fails (exit 1) once the node is gone; a
# restart keeps one allow-list line for the key. The node is stopped by its
# PID.
#
#   docker_health.sh SOURCE_DIR BUILD_DIR
set -u
src=$1
build=$2
dockerfile=$src/deploy/Dockerfile
tmp=$(mktemp -d)
pid=""
stop_node() {
    if [ -n "$pid" ]; then
        kill -TERM "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        pid=""
    fi
}
trap 'stop_node; rm -rf "$tmp"' EXIT
fail() {
    echo "FAIL: $*"
    [ -f "$tmp/node.log" ] && { echo "--- node log"; cat "$tmp/node.log"; }
    exit 1
}

# The commands as the Dockerfile names them (exec form), run from a bin dir
# holding what the image's /usr/local/bin holds.
entrypoint=$(sed -n 's/^ENTRYPOINT \["\([^"]*\)"\]$/\1/p' "$dockerfile")
healthcheck=$(sed -n 's/^ *CMD \["\([^"]*\)"\]$/\1/p' "$dockerfile")
grep -q '^HEALTHCHECK .*\\$' "$dockerfile" || fail "no HEALTHCHECK line continued by its CMD"
if [ -z "$entrypoint" ] || [ -z "$healthcheck" ]; then
    fail "no exec-form ENTRYPOINT/HEALTHCHECK CMD in $dockerfile"
fi
mkdir "$tmp/bin"
ln -s "$build/cairnd" "$build/cairn" "$tmp/bin/"
for script in "$entrypoint" "$healthcheck"; do
    name=$(basename "$script")
    grep -q "^COPY deploy/.*$name.* $(dirname "$script")/\$" "$dockerfile" ||
        fail "the Dockerfile does not COPY deploy/$name to $(dirname "$script")/"
    ln -s "$src/deploy/$name" "$tmp/bin/$name"
done
export PATH="$tmp/bin:$PATH"
entrypoint=$tmp/bin/$(basename "$entrypoint")
healthcheck=$tmp/bin/$(basename "$healthcheck")

# The Dockerfile's ENV, then this test's data dir and port.
while read -r assignment; do
    export "${assignment?}"
done < <(sed -n '/^ENV /,/[^\\]$/p' "$dockerfile" | grep -o 'CAIRN_[A-Z_]*=[^ \\]*')
[ "${CAIRN_CLIENT_ENDPOINT:-}" ] || fail "the Dockerfile sets no CAIRN_CLIENT_ENDPOINT"
case $CAIRN_CLIENT_ENDPOINT in tcp://\*:*) ;; *) fail "the container's endpoint is not tcp://*:PORT: $CAIRN_CLIENT_ENDPOINT" ;; esac
port=$(shuf -i 20000-29999 -n 1)
export CAIRN_DATA_DIR=$tmp/data
export CAIRN_CLIENT_ENDPOINT="tcp://*:$port"
echo "container env: $(env | grep '^CAIRN_' | sort | tr '\n' ' ')"

start_node() {
    "$entrypoint" >>"$tmp/node.log" 2>&1 &
    pid=$!
}
# Polls the health check until it passes (deadline 30 s, the node alive).
wait_healthy() {
    local deadline=$((SECONDS + 30))
    until out=$("$healthcheck" 2>&1); do
        kill -0 "$pid" 2>/dev/null || fail "cairnd (via $entrypoint) exited: $out"
        [ $SECONDS -lt $deadline ] || fail "not healthy within 30 s: $out"
        sleep 0.2 # a poll interval; the deadline bounds the wait
    done
    echo "$out"
    echo "$out" | grep -q '^healthy: ' || fail "health check said: $out"
}

start_node
wait_healthy
[ "$(stat -c %a "$CAIRN_DATA_DIR/curve/healthcheck.key")" = 600 ] || fail "healthcheck.key is not 0600"
[ "$(stat -c %a "$CAIRN_DATA_DIR/curve")" = 700 ] || fail "DATA_DIR/curve is not 0700"
grep -q 'CURVE' "$tmp/node.log" || fail "the node's log does not mention CURVE"

# CURVE is on: no key, or a key not in the allow-list, gets no answer (3).
server_key=$(cairnd server-key)
cairn --endpoint "tcp://127.0.0.1:$port" --timeout 1000 health >/dev/null 2>&1
[ $? = 3 ] || fail "a client without a key got an answer"
cairn keygen "$tmp/stranger.key" >/dev/null 2>&1
cairn --endpoint "tcp://127.0.0.1:$port" --client-key "$tmp/stranger.key" --server-key "$server_key" \
    --timeout 1000 health >/dev/null 2>&1
[ $? = 3 ] || fail "a key not in the allow-list got an answer"

# A restart (docker restart): same key, still one allow-list line.
stop_node
"$healthcheck" >/dev/null 2>&1
[ $? = 1 ] || fail "the health check of a stopped node does not exit 1"
# A key pair without its public half is refused with what to do, not
# allowed as an empty line.
mv "$CAIRN_DATA_DIR/curve/healthcheck.pub" "$tmp/healthcheck.pub"
said=$("$entrypoint" 2>&1)
[ $? = 1 ] || fail "the entry point ran without healthcheck.pub"
echo "$said" | grep -q 'delete .*healthcheck.key' || fail "the entry point said: $said"
mv "$tmp/healthcheck.pub" "$CAIRN_DATA_DIR/curve/healthcheck.pub"

start_node
wait_healthy
lines=$(grep -c 'container health check' "$CAIRN_DATA_DIR/curve/clients")
[ "$lines" = 1 ] || fail "the allow-list holds $lines health check lines after a restart"
stop_node
echo "ok: HEALTHCHECK passes through CURVE, strangers are refused, a stopped node is unhealthy"
