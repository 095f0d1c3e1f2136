# Sourced by the SSH benchmarks: who the commands run as on the private sshd.
#
# Both sides of a comparison pay for the remote user's shell start-up on
# every command; a heavy one (root's .bashrc on the test machine runs
# `pyenv init`, which takes a lock) would measure that instead of the tools.
# As root, the commands run as a user of the benchmark's own whose shell is
# /bin/sh, removed at the end (`remote_user_cleanup`); BENCH_USER=root keeps
# root and its shell. Sets USER_NAME, and LOCKS: a directory that user may
# write its locks in. Needs TMP.

USER_NAME=$(id -un)
BENCH_USER_MADE=
if [ "$(id -u)" = 0 ] && [ "${BENCH_USER:-}" != root ]; then
    USER_NAME=drydock-bench-$$
    # `*`: no password, yet not locked (sshd refuses a locked account).
    useradd --no-create-home --home-dir "$TMP" --shell /bin/sh --password "*" "$USER_NAME"
    BENCH_USER_MADE=$USER_NAME
    chmod 755 "$TMP"
fi
LOCKS="$TMP/locks"
mkdir -p "$LOCKS"
chown "$USER_NAME" "$LOCKS"

remote_user_cleanup() {
    if [ -n "$BENCH_USER_MADE" ]; then
        # What sshd still runs for the user (a run cut short) goes first:
        # userdel refuses a user with processes.
        pkill -KILL -u "$BENCH_USER_MADE" 2>/dev/null || true
        for _ in $(seq 50); do
            pgrep -u "$BENCH_USER_MADE" >/dev/null || break
            sleep 0.05
        done
        userdel "$BENCH_USER_MADE" 2>/dev/null || true
    fi
}

# The key exchange: drydock's libssh2 negotiates curve25519-sha256; OpenSSH
# 9's default, the sntrup761x25519 hybrid, costs its client about 0.1 s of
# CPU a login on the test machine. Pinned to the same one, the two measure
# the tools, not the algorithms; KEX=default leaves OpenSSH its own.
KEX=${KEX:-curve25519-sha256}
KEX_OPTION=
if [ "$KEX" != default ]; then
    KEX_OPTION="-o KexAlgorithms=$KEX"
fi
