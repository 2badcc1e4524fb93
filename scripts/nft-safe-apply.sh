#!/bin/sh
# Loads a portc host firewall with a timed automatic rollback.
#
#   nft-safe-apply.sh apply FILE [SECONDS]   check FILE with `nft -c`, save the running portc
#                                            table, load FILE, and roll back after SECONDS
#                                            (default 120) unless confirmed
#   nft-safe-apply.sh confirm                keep the new firewall; run it from a NEW login,
#                                            which proves that the operators can still get in
#   nft-safe-apply.sh rollback               put the saved table back now
#
# The rollback runs in a process of its own (setsid), so it happens even when the session that
# ran `apply` is cut off by the new firewall. Rolling back restores the previous portc table, or
# deletes the new one if there was none; no other table (kube-proxy's, the CNI's) is touched.
# PORTC_APPLY_STATE names the directory that holds the saved table (default /run/portc-apply).
set -eu

TABLE=portc
STATE=${PORTC_APPLY_STATE:-/run/portc-apply}

rollback() {
    [ -d "$STATE" ] || { echo "nothing to roll back" >&2; return 1; }
    if [ -f "$STATE/previous.nft" ]; then
        { echo "table inet $TABLE"; echo "delete table inet $TABLE"; cat "$STATE/previous.nft"; } | nft -f -
        echo "rolled back to the previous portc table"
    else
        nft delete table inet "$TABLE" 2>/dev/null || true
        echo "rolled back: removed the portc table"
    fi
    rm -rf "$STATE"
}

apply() {
    file=$1
    seconds=${2:-120}
    [ -e "$STATE" ] && { echo "an apply is pending: confirm or roll it back first ($STATE)" >&2; exit 2; }
    nft -c -f "$file"
    mkdir -p "$STATE"
    if ! nft list table inet "$TABLE" >"$STATE/previous.nft" 2>/dev/null; then
        rm -f "$STATE/previous.nft"
    fi
    nft -f "$file"
    # The watcher outlives this session and rolls back unless `confirm` removed the state; the
    # token keeps a watcher of an earlier, confirmed apply from touching a later one.
    token="$$.$(date +%s)"
    echo "$token" >"$STATE/token"
    setsid sh -c "sleep $seconds; [ \"\$(cat '$STATE/token' 2>/dev/null)\" = '$token' ] && PORTC_APPLY_STATE='$STATE' sh '$0' rollback" \
        </dev/null >/dev/null 2>&1 &
    echo "loaded $file; it is rolled back in ${seconds}s unless you run, from a new login: $0 confirm"
}

confirm() {
    [ -d "$STATE" ] || { echo "nothing to confirm" >&2; exit 1; }
    rm -rf "$STATE"
    echo "confirmed: the new firewall stays"
}

case "${1:-}" in
    apply) [ $# -ge 2 ] || { echo "usage: $0 apply FILE [SECONDS]" >&2; exit 2; }; apply "$2" "${3:-120}" ;;
    confirm) confirm ;;
    rollback) rollback ;;
    *) echo "usage: $0 apply FILE [SECONDS] | confirm | rollback" >&2; exit 2 ;;
esac
