#!/usr/bin/env bash
# Text captures of the terminal UI for docs/tui.md: the real binary in tmux
# on a bundled capture, one file per view. Run from anywhere:
#   docs/tui/capture_screens.sh [CAPTURE]
set -euo pipefail
cd "$(dirname "$0")/../.."
capture=${1:-captures/oslo/legacy_liberty_ring.pcap}
cargo build --release --quiet
bin=$PWD/target/release/zmqtrace
sock=zmqtrace-docs-$$
t() { tmux -L "$sock" "$@"; }
trap 't kill-server 2>/dev/null || true' EXIT
t new-session -d -s d -x 120 -y 32 "$bin -r $capture"
wait_for() {
    for _ in $(seq 200); do
        if t capture-pane -p -t d | grep -qF -- "$1"; then return 0; fi
        sleep 0.05
    done
    echo "capture_screens: '$1' never showed" >&2
    exit 1
}
shot() { sleep 0.3; t capture-pane -p -t d | sed -e 's/[[:space:]]*$//' > "docs/tui/$1.txt"; }
wait_for DONE
shot messages
t send-keys -t d g Enter; wait_for "detail  ("; shot detail
t send-keys -t d Escape; sleep 0.3
t send-keys -t d 2; wait_for STATE; shot calls
t send-keys -t d 3; wait_for "RATE/S"; shot topics
t send-keys -t d 4; wait_for "SOCKETS"; shot connections
t send-keys -t d 5; wait_for "PROBLEM"; shot problems
t send-keys -t d 1 /; t send-keys -t d -l "kind:call !method:ping"; wait_for "shown"; shot filter
t send-keys -t d Enter; sleep 0.3
t send-keys -t d '?'; wait_for "keys  ("; shot help
t send-keys -t d q
echo "capture_screens: wrote docs/tui/*.txt from $capture"
