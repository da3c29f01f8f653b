#!/usr/bin/env bash
# Runs the Chorus benchmark side by side with Centrifugo (docs/benchmarks.md).
#
#   bench/run.sh                 every scenario, both servers (about 15 minutes)
#   bench/run.sh --soak 300      the 5-minute soak (memory at constant load)
#   bench/run.sh --smoke         every scenario at tiny size, Chorus only (< 1 min)
#   bench/run.sh ARGS...         any other chorus-bench options, e.g.
#                                --scenarios fanout --fanout-sizes 1000
#
# Builds the release `chorus` and `chorus-bench` (debug builds for --smoke),
# installs Centrifugo into target/tools/bin with `go install` unless it is
# there already (not for --smoke), raises the open-files limit as far as it
# goes, and runs chorus-bench from the repository root. Sizes and durations can
# also be set with BENCH_* variables (see `chorus-bench --help`). Results go to
# target/bench/ (target/bench-smoke/ for --smoke): results.md and results.json
# (soak-results.* for --soak), run.log (soak.log), and the servers'
# configurations and logs.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# The rustup toolchain comes first, as in scripts/test.
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
if [ -d "$CARGO_BIN" ]; then
    PATH="$CARGO_BIN:$PATH"
fi

# Centrifugo, the peer: built from source through the Go module proxy.
CENTRIFUGO_VERSION="${CENTRIFUGO_VERSION:-6.9.1}"
CENTRIFUGO_MODULE="github.com/centrifugal/centrifugo/v6"
TOOLS_BIN="$ROOT/target/tools/bin"

say() { echo "bench: $*" >&2; }

smoke=false
for arg in "$@"; do
    if [ "$arg" = "--smoke" ]; then
        smoke=true
    fi
done

# Every client connection is a file descriptor here and in the server, which
# inherits this limit: raise the soft limit to the hard one.
raise_open_files() {
    local hard
    hard="$(ulimit -Hn)"
    if [ "$hard" = "unlimited" ]; then
        hard=1048576
    fi
    ulimit -n "$hard" 2>/dev/null || true
    say "open-files limit: $(ulimit -n) (hard $(ulimit -Hn))"
}

# `go install` builds without the release's version stamp (the binary says
# v0.0.0), so the installed version is recorded in a file beside it.
centrifugo_has_version() { # centrifugo_has_version <binary>
    [ -x "$1" ] && [ "$(cat "$1.version" 2>/dev/null)" = "$CENTRIFUGO_VERSION" ]
}

# Installs the pinned Centrifugo into target/tools/bin; idempotent. Failing to
# install is not fatal: the benchmark then measures Chorus alone and says why.
install_centrifugo() {
    local bin="$TOOLS_BIN/centrifugo"
    if centrifugo_has_version "$bin"; then
        return 0
    fi
    if ! command -v go >/dev/null 2>&1; then
        say "go not found: cannot install Centrifugo; measuring Chorus alone"
        return 0
    fi
    mkdir -p "$TOOLS_BIN"
    say "installing Centrifugo v$CENTRIFUGO_VERSION (go install $CENTRIFUGO_MODULE, a few minutes)"
    if ! GOBIN="$TOOLS_BIN" GOFLAGS=-mod=mod go install "$CENTRIFUGO_MODULE@v$CENTRIFUGO_VERSION"; then
        say "could not install Centrifugo v$CENTRIFUGO_VERSION (see above); measuring Chorus alone"
        return 0
    fi
    echo "$CENTRIFUGO_VERSION" >"$bin.version"
}

raise_open_files
if $smoke; then
    cargo build --quiet -p chorus-server -p chorus-bench
    exec target/debug/chorus-bench --targets chorus --chorus-bin target/debug/chorus \
        --work-dir target/bench-smoke "$@"
fi

install_centrifugo
cargo build --quiet --release -p chorus-server -p chorus-bench
mkdir -p target/bench
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [ -n "$(git status --porcelain 2>/dev/null)" ]; then
    commit="$commit plus uncommitted changes"
fi
export BENCH_LABEL="${BENCH_LABEL:-chorus commit $commit; $(date -u '+%Y-%m-%d %H:%M UTC'); bench/run.sh $*}"
say "$BENCH_LABEL"
log=target/bench/run.log
for arg in "$@"; do
    if [ "$arg" = "--soak" ]; then
        log=target/bench/soak.log
    fi
done
target/release/chorus-bench "$@" 2>&1 | tee "$log"
exit "${PIPESTATUS[0]}"
