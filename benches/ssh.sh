#!/usr/bin/env bash
# SSH transport speed: drydock against OpenSSH's own client, on a private sshd
# on 127.0.0.1.
#
#   bash benches/ssh.sh            # builds target/release/drydock if needed
#   DRYDOCK=path/to/drydock RUNS=7 bash benches/ssh.sh
#
# Needs: openssh-server (/usr/sbin/sshd) and openssh-client. Run as root, or
# as a user sshd lets in with a key (the script starts sshd itself, on a free
# port, with keys it generates in a temp dir; nothing outside 127.0.0.1).
# Not run by CI. Prints the median wall time of RUNS runs of each and their
# ratios:
#   per-step:  a 20-step runbook of trivial commands (one connection, lock,
#              journal) vs a bash loop of 20 `ssh` calls multiplexed over one
#              ControlMaster connection (its setup included, as drydock's is)
#   streaming: one step printing `seq 1 2000000` (every line sanitized, shown
#              and journaled) vs `ssh HOST seq 1 2000000 >/dev/null`
# then, for one run each of 2M and 8M lines (LINES_BIG), drydock's peak
# resident memory (GNU time's maximum RSS) and the journal's size per output
# line. Targets: per-step <= 1.2x (issue 3), streaming <= 1.3x with the
# journal on, peak RSS < 50 MiB at 2M and at 8M lines (issue 11).
# The remote user and OpenSSH's key exchange are chosen as in hosts.sh (see
# benches/lib/remote_user.sh): BENCH_USER=root, KEX=default change them.
set -euo pipefail

RUNS=${RUNS:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DRYDOCK=${DRYDOCK:-$ROOT/target/release/drydock}
if [ ! -x "$DRYDOCK" ]; then
    (cd "$ROOT" && cargo build --release -j 1)
fi
[ -x /usr/sbin/sshd ] || { echo "needs /usr/sbin/sshd: apt-get install -y openssh-server" >&2; exit 1; }

TMP=$(mktemp -d)
# shellcheck source=benches/lib/sshd.sh
. "$ROOT/benches/lib/sshd.sh"
cleanup() {
    # A multiplexing master left by an interrupted loop (ControlPersist=yes).
    [ -n "${SSH_MUX:-}" ] && ssh -F /dev/null -p "$PORT" -o ControlPath="$SSH_MUX" -O exit "$USER_NAME@127.0.0.1" 2>/dev/null || true
    stop_private_sshd
    rm -rf "$TMP"
}
trap cleanup EXIT
start_private_sshd "MaxStartups 100"
mkdir -p "$TMP/home" "$TMP/journal"

# shellcheck disable=SC2206 # KEX_OPTION is two words or none
SSH=(ssh -F /dev/null $KEX_OPTION -p "$PORT" -i "$TMP/user_key" -o IdentitiesOnly=yes -o BatchMode=yes
     -o UserKnownHostsFile="$TMP/known_hosts" -o StrictHostKeyChecking=yes "$USER_NAME@127.0.0.1")

head_toml() {
    cat <<EOF
[runbook]
name = "bench"
lock = "$LOCKS/lock"

[ssh]
user = "$USER_NAME"
port = $PORT
identity = "$TMP/user_key"
known_hosts = "$TMP/known_hosts"

[hosts.bench]
address = "127.0.0.1"

EOF
}

{
    head_toml
    for i in $(seq 1 20); do
        printf '[[steps]]\nid = "s%d"\ntitle = "step %d"\nrun = "echo %d"\n\n' "$i" "$i" "$i"
    done
} >"$TMP/steps.toml"
stream_toml() {
    head_toml
    printf '[[steps]]\nid = "seq"\ntitle = "stream"\nrun = "seq 1 %d"\n' "$1"
}
stream_toml 2000000 >"$TMP/stream.toml"
LINES_BIG=${LINES_BIG:-8000000}
stream_toml "$LINES_BIG" >"$TMP/stream_big.toml"
[ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time): apt-get install -y time" >&2; exit 1; }

now() { date +%s.%N; }
# median of RUNS timings of "$@", in seconds
measure() {
    local times=() t0 t1
    for _ in $(seq "$RUNS"); do
        t0=$(now)
        "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
        t1=$(now)
        times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')")
        rm -rf "$TMP/journal"/* "$LOCKS/lock"
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

drydock_run() {
    HOME="$TMP/home" SSH_AUTH_SOCK= "$DRYDOCK" run --headless --yes "$1" --journal-dir "$TMP/journal"
}
ssh_loop() {
    SSH_MUX="$TMP/mux-%C"
    local i
    for i in $(seq 1 20); do
        "${SSH[@]}" -o ControlMaster=auto -o ControlPath="$SSH_MUX" -o ControlPersist=yes "echo $i"
    done
    ssh -F /dev/null -o ControlPath="$SSH_MUX" -O exit "$USER_NAME@127.0.0.1" -p "$PORT" 2>/dev/null || true
}
ssh_stream() { "${SSH[@]}" seq 1 2000000; }

# Warm up both (page cache, sshd's first fork).
drydock_run "$TMP/steps.toml" >/dev/null 2>&1
ssh_loop >/dev/null 2>&1

d_steps=$(measure drydock_run "$TMP/steps.toml")
s_steps=$(measure ssh_loop)
d_stream=$(measure drydock_run "$TMP/stream.toml")
s_stream=$(measure ssh_stream)

printf 'per-step   drydock %.3fs  ssh+ControlMaster %.3fs  ratio %.2fx (target <= 1.2x)\n' \
    "$d_steps" "$s_steps" "$(awk -v a="$d_steps" -v b="$s_steps" 'BEGIN {print a / b}')"
printf 'streaming  drydock %.3fs  ssh                %.3fs  ratio %.2fx (target <= 1.3x)\n' \
    "$d_stream" "$s_stream" "$(awk -v a="$d_stream" -v b="$s_stream" 'BEGIN {print a / b}')"

# Peak memory and journal size: one run each, the journal kept until measured.
memory() {
    local runbook=$1 lines=$2 rss journal_bytes
    rm -rf "$TMP/journal"/* "$LOCKS/lock"
    HOME="$TMP/home" SSH_AUTH_SOCK= /usr/bin/time -f '%M' -o "$TMP/rss" \
        "$DRYDOCK" run --headless --yes "$runbook" --journal-dir "$TMP/journal" >/dev/null 2>&1 \
        || { echo "failed: drydock run $runbook" >&2; exit 1; }
    rss=$(tail -n 1 "$TMP/rss")
    journal_bytes=$(cat "$TMP/journal"/*.jsonl | wc -c)
    printf 'memory     %8d lines  peak RSS %6.1f MiB (target < 50)  journal %.1f bytes per output line\n' \
        "$lines" "$(awk -v k="$rss" 'BEGIN {print k / 1024}')" \
        "$(awk -v b="$journal_bytes" -v n="$lines" 'BEGIN {print b / n}')"
    rm -rf "$TMP/journal"/* "$LOCKS/lock"
}
memory "$TMP/stream.toml" 2000000
memory "$TMP/stream_big.toml" "$LINES_BIG"
