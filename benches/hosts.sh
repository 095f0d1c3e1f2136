#!/usr/bin/env bash
# Host scaling: drydock against `xargs -P` OpenSSH, on N hosts that are all
# one private sshd on 127.0.0.1 (N = 1, 10, 100, 200 by default).
#
#   bash benches/hosts.sh            # builds target/release/drydock if needed
#   DRYDOCK=path/to/drydock RUNS=5 NS="1 10 100" bash benches/hosts.sh
#   KEX=default bash benches/hosts.sh   # OpenSSH with its own key exchange
#   BENCH_USER=root bash benches/hosts.sh  # as root, with root's login shell
#
# Needs: openssh-server (/usr/sbin/sshd), openssh-client and python3. Run as
# root, or as a user sshd lets in with a key (the script starts sshd itself,
# on a free port, with keys it generates in a temp dir; nothing outside
# 127.0.0.1). Not run by CI.
#
# Each side runs 5 trivial steps on every host, the hosts at once:
#   drydock:  one runbook of N hosts x 5 steps (a connection, a lock and the
#             journal per host)
#   OpenSSH:  `xargs -P N`, one shell per host running its 5 steps as 5
#             `ssh` calls in turn (a connection each, no ControlMaster)
# Prints the median wall time of RUNS runs of each, their ratio, drydock's
# peak memory (RSS) and what each host adds to it: the peak at N less the
# peak at the smallest N, over the hosts added.
# Target (issue 13): drydock <= 0.5x OpenSSH's time at N = 100.
set -euo pipefail

RUNS=${RUNS:-3}
NS=${NS:-"1 10 100 200"}
STEPS=5
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DRYDOCK=${DRYDOCK:-$ROOT/target/release/drydock}
if [ ! -x "$DRYDOCK" ]; then
    (cd "$ROOT" && cargo build --release -j 1)
fi
[ -x /usr/sbin/sshd ] || { echo "needs /usr/sbin/sshd: apt-get install -y openssh-server" >&2; exit 1; }
command -v python3 >/dev/null || { echo "needs python3" >&2; exit 1; }

TMP=$(mktemp -d)
# shellcheck source=benches/lib/sshd.sh
. "$ROOT/benches/lib/sshd.sh"
cleanup() {
    stop_private_sshd
    rm -rf "$TMP"
}
trap cleanup EXIT
# Hundreds of handshakes at once: sshd would drop those past MaxStartups.
start_private_sshd "MaxStartups 1000
MaxSessions 50"
mkdir -p "$TMP/home" "$TMP/journal"

runbook() {
    local n=$1 i
    cat <<EOF
[runbook]
name = "hosts bench"
lock = "$LOCKS/lock-{{host}}"

[ssh]
user = "$USER_NAME"
port = $PORT
identity = "$TMP/user_key"
known_hosts = "$TMP/known_hosts"
connect_timeout = "60s"

EOF
    for i in $(seq 1 "$n"); do
        printf '[hosts.h%d]\naddress = "127.0.0.1"\n\n' "$i"
    done
    for i in $(seq 1 "$STEPS"); do
        printf '[[steps]]\nid = "s%d"\ntitle = "step %d"\nrun = "echo %d"\n\n' "$i" "$i" "$i"
    done
}

# Runs "$@" (a function of this script) and prints its wall time in seconds
# and its peak RSS in KiB (the largest process it waited for: drydock is
# one process).
timed() {
    python3 - "$@" <<'PY'
import resource, subprocess, sys, time
start = time.monotonic()
done = subprocess.run(["bash", "-c", '"$@"', "bash"] + sys.argv[1:],
                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
wall = time.monotonic() - start
if done.returncode != 0:
    sys.stderr.write(done.stderr.decode(errors="replace")[-3000:])
    sys.exit("failed (exit %d): %s" % (done.returncode, " ".join(sys.argv[1:])))
print("%.3f %d" % (wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
PY
}

# Median wall time and the largest peak RSS of RUNS runs of "$@".
measure() {
    local out=() t rss peak=0
    for _ in $(seq "$RUNS"); do
        read -r t rss < <(timed "$@") || { echo "failed: $*" >&2; exit 1; }
        out+=("$t")
        [ "$rss" -gt "$peak" ] && peak=$rss
        rm -rf "$TMP/journal"/* "$LOCKS"/lock-*
    done
    printf '%s %s\n' "$(printf '%s\n' "${out[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')" "$peak"
}

drydock_run() {
    HOME="$TMP/home" SSH_AUTH_SOCK= "$DRYDOCK" run --headless --yes "$1" --journal-dir "$TMP/journal"
}
export PORT TMP LOCKS USER_NAME STEPS KEX_OPTION
one_host_with_ssh() {
    local s
    for s in $(seq 1 "$STEPS"); do
        ssh -F /dev/null $KEX_OPTION -p "$PORT" -i "$TMP/user_key" -o IdentitiesOnly=yes -o BatchMode=yes \
            -o UserKnownHostsFile="$TMP/known_hosts" -o StrictHostKeyChecking=yes \
            "$USER_NAME@127.0.0.1" "echo $s" || return 1
    done
}
ssh_run() { seq 1 "$1" | xargs -P "$1" -I{} bash -c one_host_with_ssh; }
export DRYDOCK
export -f drydock_run one_host_with_ssh ssh_run

# Warm up both (page cache, sshd's first forks).
runbook 2 >"$TMP/warm.toml"
drydock_run "$TMP/warm.toml" >"$TMP/warm.out" 2>&1 || { cat "$TMP/warm.out" >&2; exit 1; }
ssh_run 2 >/dev/null 2>&1

echo "OpenSSH key exchange: $KEX; remote user $USER_NAME; $RUNS runs each, median"
first_n= first_rss=
printf '%6s  %10s  %14s  %7s  %12s  %13s\n' hosts drydock "xargs -P ssh" ratio "drydock RSS" "per host"
for n in $NS; do
    runbook "$n" >"$TMP/n$n.toml"
    read -r d_time d_rss < <(measure drydock_run "$TMP/n$n.toml")
    read -r s_time _ < <(measure ssh_run "$n")
    if [ -z "$first_n" ]; then
        first_n=$n first_rss=$d_rss per_host="-"
    else
        per_host=$(awk -v a="$d_rss" -v b="$first_rss" -v n="$n" -v f="$first_n" \
            'BEGIN {printf "%.0f KiB", (a - b) / (n - f)}')
    fi
    printf '%6d  %9.3fs  %13.3fs  %6.2fx  %8.1f MiB  %13s\n' "$n" "$d_time" "$s_time" \
        "$(awk -v a="$d_time" -v b="$s_time" 'BEGIN {print a / b}')" \
        "$(awk -v r="$d_rss" 'BEGIN {print r / 1024}')" "$per_host"
done
echo "target: drydock <= 0.5x the OpenSSH time at 100 hosts"
