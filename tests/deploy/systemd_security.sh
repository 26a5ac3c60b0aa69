#!/bin/sh
# deploy.systemd_security: the unit in deploy/ keeps its sandbox. Passes
# when `systemd-analyze security` rates deploy/cairnd.service at most 2.0
# (Debian's redis-server.service: 1.2); skipped (exit 77) where
# systemd-analyze is missing or too old for --offline.
set -u
unit="$1"
if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "systemd-analyze is not installed: skipped"
    exit 77
fi
out=$(systemd-analyze security --offline=true "$unit" 2>&1)
line=$(echo "$out" | grep "Overall exposure level")
if [ -z "$line" ]; then
    echo "$out"
    echo "systemd-analyze gave no exposure level (no --offline?): skipped"
    exit 77
fi
echo "$line"
score=$(echo "$line" | sed -E 's/.*: ([0-9]+\.[0-9]+) .*/\1/')
if awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'; then
    exit 0
fi
echo "$out" | grep "✗"
echo "deploy/cairnd.service is rated $score, above 2.0: restore its sandbox settings"
exit 1
