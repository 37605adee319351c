#!/usr/bin/env bash
# `gatehouse` in a real terminal (tmux, 80x24, no mouse): switch tabs, edit a value, save, quit.
# Usage: tests/e2e/tui_in_tmux.sh PYTHON WORKDIR PORT   (run by tests/e2e/test_tui_in_tmux.py)
set -euo pipefail
PYTHON=$1 WORK=$2 PORT=$3
SESSION="gatehouse-e2e-$$"
CONFIG="$WORK/config.toml"

fail() { echo "FAIL: $*"; echo "--- screen ---"; tmux capture-pane -p -t "$SESSION" || true; exit 1; }
screen() { tmux capture-pane -p -t "$SESSION"; }
wait_for() {  # wait_for TEXT [SECONDS]
    for _ in $(seq $(( ${2:-20} * 10 ))); do
        screen | grep -qF -- "$1" && return 0
        sleep 0.1
    done
    fail "'$1' never appeared"
}
keys() { tmux send-keys -t "$SESSION" "$@"; sleep 0.3; }
cleanup() { tmux kill-session -t "$SESSION" 2>/dev/null || true; }
trap cleanup EXIT

export XDG_CONFIG_HOME="$WORK/xdg-config" XDG_DATA_HOME="$WORK/xdg-data" TERM=xterm-256color
tmux new-session -d -s "$SESSION" -x 80 -y 24 \
    "cd '$WORK' && '$PYTHON' -m tui --config '$CONFIG'; echo \"exit status \$?\"; sleep 30"
tmux set-option -t "$SESSION" remain-on-exit on >/dev/null
tmux set-option -s escape-time 10  # an escape key is an escape key, not the start of alt+KEY

wait_for "running" 30
wait_for "127.0.0.1:$PORT"
echo "ok: the app started its server at 127.0.0.1:$PORT"

keys 2; wait_for "generation 1"; echo "ok: tab 2 shows the server's status"
keys 3; wait_for "live: on"; echo "ok: tab 3 shows the activity"
keys 4; wait_for "enter sends"; echo "ok: tab 4 shows the playground"
keys 1; keys Escape  # "1" went into the message field; escape leaves the field
keys 1; wait_for "Providers"; echo "ok: tab 1 shows the configuration"

# Server form: host, port, api_key, workers, data_dir, max_body_bytes, request_timeout_s
keys Enter
for _ in 1 2 3 4 5 6; do keys Tab; done
keys End; for _ in $(seq 12); do keys BSpace; done
keys 1; keys 2; keys 3
wait_for "Unsaved edits"
keys C-s
wait_for "reloads it"
grep -q "^request_timeout_s = 123$" "$CONFIG" || fail "the file does not hold the new value"
grep -q '^# Gatehouse configuration.' "$CONFIG" || fail "the file lost its comments"
echo "ok: an edited value was saved with the file's comments kept"

keys Escape; keys q
wait_for "exit status 0" 30
screen | grep -qF "gatehouse: stopped" || fail "no goodbye line after the app left"
curl -s -o /dev/null "http://127.0.0.1:$PORT/health" && fail "the server still answers after quit"
echo "ok: q stopped the app and its server; the terminal is back to the shell"
