#!/bin/sh
# Loads a portc iptables host firewall (HOST.ipset, HOST.v4.rules, HOST.v6.rules), optionally
# with a timed automatic rollback.
#
#   iptables-apply.sh load PREFIX             load PREFIX.ipset, PREFIX.v4.rules and PREFIX.v6.rules
#                                             and hook portc's chains (for a boot-time unit)
#   iptables-apply.sh apply PREFIX [SECONDS]  the same, after checking the files, and roll back after
#                                             SECONDS (default 120) unless confirmed
#   iptables-apply.sh confirm                 keep the new firewall; run it from a NEW login, which
#                                             proves that the operators can still get in
#   iptables-apply.sh rollback                load the previous files now (or remove portc's rules)
#   iptables-apply.sh remove                  unhook and delete the PORTC-* chains and portc-* sets
#
# Only portc's own chains (PORTC-*) and sets (portc-*) change; kube-proxy's, the CNI's and
# Docker's rules stay. Each rules file replaces its chains in one transaction per table; the jumps
# from PREROUTING (mangle), INPUT and OUTPUT are added once, at the top, and never twice.
# PORTC_IPTABLES_DIR keeps a copy of the files loaded last (default /var/lib/portc-iptables), which
# a rollback loads again; PORTC_APPLY_STATE holds a pending apply (default /run/portc-iptables-apply).
set -eu

KEEP=${PORTC_IPTABLES_DIR:-/var/lib/portc-iptables}
STATE=${PORTC_APPLY_STATE:-/run/portc-iptables-apply}

hook() {
    for tool in iptables ip6tables; do
        $tool -t mangle -C PREROUTING -j PORTC-PREROUTING 2>/dev/null ||
            $tool -t mangle -I PREROUTING 1 -j PORTC-PREROUTING
        $tool -t filter -C INPUT -j PORTC-INPUT 2>/dev/null || $tool -t filter -I INPUT 1 -j PORTC-INPUT
        $tool -t filter -C OUTPUT -j PORTC-OUTPUT 2>/dev/null || $tool -t filter -I OUTPUT 1 -j PORTC-OUTPUT
    done
}

# Sets that no rule uses any more (a peer the new files no longer name); a used set stays.
prune() {
    for set in $(ipset list -n | grep '^portc-' || true); do
        ipset destroy "$set" 2>/dev/null || true
    done
}

# Checks the three files against the running kernel; the ipsets must exist for the rules' check.
check() {
    for file in "$1.ipset" "$1.v4.rules" "$1.v6.rules"; do
        [ -r "$file" ] || { echo "cannot read $file" >&2; exit 2; }
    done
    ipset restore <"$1.ipset"
    iptables-restore --test --noflush <"$1.v4.rules"
    ip6tables-restore --test --noflush <"$1.v6.rules"
}

load() {
    ipset restore <"$1.ipset"
    iptables-restore --noflush <"$1.v4.rules"
    ip6tables-restore --noflush <"$1.v6.rules"
    hook
    prune
    mkdir -p "$KEEP"
    for part in ipset v4.rules v6.rules; do
        [ "$1.$part" -ef "$KEEP/current.$part" ] || cp "$1.$part" "$KEEP/current.$part"
    done
}

remove() {
    for tool in iptables ip6tables; do
        while $tool -t mangle -D PREROUTING -j PORTC-PREROUTING 2>/dev/null; do :; done
        while $tool -t filter -D INPUT -j PORTC-INPUT 2>/dev/null; do :; done
        while $tool -t filter -D OUTPUT -j PORTC-OUTPUT 2>/dev/null; do :; done
        for chain in PORTC-PREROUTING PORTC-INBOUND; do $tool -t mangle -F "$chain" 2>/dev/null || true; done
        for chain in PORTC-PREROUTING PORTC-INBOUND; do $tool -t mangle -X "$chain" 2>/dev/null || true; done
        for chain in PORTC-INPUT PORTC-OUTPUT PORTC-INBOUND PORTC-OUTBOUND; do
            $tool -t filter -F "$chain" 2>/dev/null || true
        done
        for chain in PORTC-INPUT PORTC-OUTPUT PORTC-INBOUND PORTC-OUTBOUND; do
            $tool -t filter -X "$chain" 2>/dev/null || true
        done
    done
    prune
    rm -f "$KEEP/current.ipset" "$KEEP/current.v4.rules" "$KEEP/current.v6.rules"
}

rollback() {
    [ -d "$STATE" ] || { echo "nothing to roll back" >&2; return 1; }
    if [ -f "$STATE/previous.ipset" ]; then
        load "$STATE/previous"
        echo "rolled back to the previous portc rules"
    else
        remove
        echo "rolled back: removed portc's rules"
    fi
    rm -rf "$STATE"
}

apply() {
    prefix=$1
    seconds=${2:-120}
    [ -e "$STATE" ] && { echo "an apply is pending: confirm or roll it back first ($STATE)" >&2; exit 2; }
    mkdir -p "$STATE"
    if [ -f "$KEEP/current.ipset" ]; then
        for part in ipset v4.rules v6.rules; do cp "$KEEP/current.$part" "$STATE/previous.$part"; done
    fi
    if ! check "$prefix"; then
        # The check refreshed the sets; put the previous ones back.
        [ -f "$STATE/previous.ipset" ] && ipset restore <"$STATE/previous.ipset"
        rm -rf "$STATE"
        echo "refused: $prefix does not load; nothing changed" >&2
        exit 1
    fi
    load "$prefix"
    # The watcher outlives this session and rolls back unless `confirm` removed the state; the
    # token keeps a watcher of an earlier, confirmed apply from touching a later one.
    token="$$.$(date +%s)"
    echo "$token" >"$STATE/token"
    setsid sh -c "sleep $seconds; [ \"\$(cat '$STATE/token' 2>/dev/null)\" = '$token' ] && PORTC_APPLY_STATE='$STATE' PORTC_IPTABLES_DIR='$KEEP' sh '$0' rollback" \
        </dev/null >/dev/null 2>&1 &
    echo "loaded $prefix; it is rolled back in ${seconds}s unless you run, from a new login: $0 confirm"
}

confirm() {
    [ -d "$STATE" ] || { echo "nothing to confirm" >&2; exit 1; }
    rm -rf "$STATE"
    echo "confirmed: the new firewall stays"
}

case "${1:-}" in
    load) [ $# -ge 2 ] || { echo "usage: $0 load PREFIX" >&2; exit 2; }; check "$2"; load "$2" ;;
    apply) [ $# -ge 2 ] || { echo "usage: $0 apply PREFIX [SECONDS]" >&2; exit 2; }; apply "$2" "${3:-120}" ;;
    confirm) confirm ;;
    rollback) rollback ;;
    remove) remove ;;
    *) echo "usage: $0 load PREFIX | apply PREFIX [SECONDS] | confirm | rollback | remove" >&2; exit 2 ;;
esac
