#!/bin/sh
# deploy.install: `cmake --install` puts every file in place, under --prefix
# and under DESTDIR. Checks the file list, that the installed programs run
# (--version), that the man pages are valid groff (no warning from
# `groff -man -ww`, when groff is there) and that the unit's ExecStart names
# the installed cairnd.
#
#   install.sh CMAKE BUILD_DIR MAN_PAGES(ON|OFF)
set -u
cmake=$1
build=$2
man_pages=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() {
    echo "FAIL: $*"
    fail=1
}

# Every file one install must hold, relative to its prefix.
expected() {
    echo bin/cairnd
    echo bin/cairn
    echo bin/cairn-bench
    echo lib/systemd/system/cairnd.service
    echo share/doc/cairn/examples/cairnd.cfg
    echo share/cairn/proto/cairn.proto
    echo share/cairn/proto/common.proto
    echo share/cairn/proto/messages.proto
    if [ "$man_pages" = ON ]; then
        echo share/man/man8/cairnd.8
        echo share/man/man1/cairn.1
    fi
}

# check ROOT PREFIX: the install whose files are at ROOT and which will run
# from PREFIX (the same, or ROOT = DESTDIR + PREFIX).
check() {
    root=$1
    prefix=$2
    for f in $(expected); do
        [ -s "$root/$f" ] || bad "$root/$f is missing"
    done
    # cairn.proto imports the store files: each must be installed beside it.
    for imported in $(sed -n 's/^import "\(.*\)";/\1/p' "$root/share/cairn/proto/cairn.proto"); do
        [ -f "$root/share/cairn/proto/$imported" ] || bad "cairn.proto imports $imported, not installed"
    done
    [ -f "$root/share/cairn/proto/internal.proto" ] && bad "internal.proto (node-internal) is installed"
    for program in cairnd cairn cairn-bench; do
        [ -x "$root/bin/$program" ] || bad "$root/bin/$program is not executable"
    done
    for program in cairnd cairn; do
        out=$("$root/bin/$program" --version 2>&1) || bad "$program --version failed: $out"
        echo "$out" | grep -q "^$program [0-9]" || bad "$program --version said: $out"
    done
    exec_start=$(sed -n 's/^ExecStart=\([^ ]*\) .*/\1/p' "$root/lib/systemd/system/cairnd.service")
    [ "$exec_start" = "$prefix/bin/cairnd" ] ||
        bad "the unit's ExecStart runs '$exec_start', not $prefix/bin/cairnd"
    if [ "$man_pages" = ON ]; then
        for page in man8/cairnd.8 man1/cairn.1; do
            grep -q '^\.TH ' "$root/share/man/$page" || bad "$page has no .TH header"
            if command -v groff >/dev/null 2>&1; then
                warnings=$(groff -man -Tutf8 -ww -z "$root/share/man/$page" 2>&1)
                [ -z "$warnings" ] || bad "groff warns about $page: $warnings"
            fi
        done
        # man -l renders the page as a reader sees it.
        if command -v man >/dev/null 2>&1; then
            MANPAGER="cat" man -l "$root/share/man/man8/cairnd.8" 2>/dev/null | grep -q -- '--data-dir' ||
                bad "man -l cairnd.8 does not show --data-dir"
        fi
    fi
}

out=$("$cmake" --install "$build" --prefix "$tmp/prefix" 2>&1) || {
    echo "$out"
    bad "cmake --install --prefix failed"
}
check "$tmp/prefix" "$tmp/prefix"

# DESTDIR (as a package build does): files under DESTDIR, paths for /usr.
out=$(DESTDIR="$tmp/destdir" "$cmake" --install "$build" --prefix /usr 2>&1) || {
    echo "$out"
    bad "DESTDIR=... cmake --install --prefix /usr failed"
}
check "$tmp/destdir/usr" /usr

[ "$fail" = 0 ] && echo "installed: $(expected | tr '\n' ' ')"
exit "$fail"
