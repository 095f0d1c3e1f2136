# Sourced by the SSH benchmarks: a private sshd on 127.0.0.1, with keys
# made for it in TMP, and the user the commands run as there (see
# remote_user.sh). Needs TMP and ROOT.
#
#   start_private_sshd "MaxStartups 1000"   # extra sshd_config lines
#   ... PORT, USER_NAME, LOCKS, KEX, KEX_OPTION are set ...
#   stop_private_sshd                        # in the script's cleanup

SSHD_PID=

start_private_sshd() {
    local extra=$1
    mkdir -p /run/sshd 2>/dev/null || true
    ssh-keygen -q -t ed25519 -N "" -f "$TMP/host_key"
    ssh-keygen -q -t ed25519 -N "" -f "$TMP/user_key"
    cp "$TMP/user_key.pub" "$TMP/authorized_keys"
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    # shellcheck source=benches/lib/remote_user.sh
    . "$ROOT/benches/lib/remote_user.sh"
    cat >"$TMP/sshd_config" <<CONFIG
Port $PORT
ListenAddress 127.0.0.1
HostKey $TMP/host_key
PidFile $TMP/sshd.pid
AuthorizedKeysFile $TMP/authorized_keys
StrictModes no
UsePAM no
PermitRootLogin yes
PasswordAuthentication no
KbdInteractiveAuthentication no
Subsystem sftp internal-sftp
LogLevel ERROR
$extra
CONFIG
    /usr/sbin/sshd -D -f "$TMP/sshd_config" -E "$TMP/sshd.log" &
    SSHD_PID=$!
    for _ in $(seq 100); do
        (exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null && break
        sleep 0.05
    done
    echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$TMP/host_key.pub")" >"$TMP/known_hosts"
}

stop_private_sshd() {
    if [ -n "$SSHD_PID" ]; then
        kill "$SSHD_PID" 2>/dev/null || true
    fi
    if declare -F remote_user_cleanup >/dev/null; then
        remote_user_cleanup
    fi
}
