#!/usr/bin/env bash
# Run the whole Warden test suite on a fresh machine (this is the command the
# README gives).  Stages:
#   1. install what is missing (Debian's zookeeper packages, kazoo, pure-sasl, pytest)
#   2. cargo build --release --workspace
#   3. cargo test --workspace --release --no-fail-fast
#   4. compatibility suite (tests/compat) against Warden, shards=1 and shards=2
#   5. unit tests of the Python scripts (loadgen/tests/test_*.py)
# Exits non-zero if anything failed; the last line is "N passed, M failed".
#
# Environment:
#   WARDEN_TEST_TARGET=zookeeper  run stage 4 once against Apache ZooKeeper
#                                 instead of Warden (checks the harness)
#   TEST_SH_STAGES="deps build rust compat scripts"  subset of stages to run
set -uo pipefail

cd "$(dirname "$0")"
ROOT=$(pwd)
STAGES=${TEST_SH_STAGES:-"deps build rust compat scripts"}
TARGET=${WARDEN_TEST_TARGET:-warden}
LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/warden-test.XXXXXX")
PASSED=0
FAILED=0
SUMMARY=()

say() { printf '\n=== %s\n' "$*"; }
has_stage() { [[ " $STAGES " == *" $1 "* ]]; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }
note() { SUMMARY+=("$1"); }

# ------------------------------------------------------------------- deps ---
install_deps() {
    local apt_pkgs=()
    [ -x /usr/share/zookeeper/bin/zkCli.sh ] || apt_pkgs+=(zookeeper zookeeper-bin netcat-openbsd)
    command -v python3 >/dev/null || apt_pkgs+=(python3 python3-pip)
    command -v capsh >/dev/null || apt_pkgs+=(libcap2-bin)
    if [ ${#apt_pkgs[@]} -gt 0 ]; then
        echo "installing with apt-get: ${apt_pkgs[*]}"
        as_root apt-get update -q || return 1
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q "${apt_pkgs[@]}" || return 1
    else
        echo "Debian zookeeper packages: present"
    fi
    local py_pkgs=()
    python3 -c 'import kazoo' 2>/dev/null || py_pkgs+=(kazoo)
    python3 -c 'import pytest' 2>/dev/null || py_pkgs+=(pytest)
    # kazoo's SASL (tests/compat/test_sasl.py) needs pure-sasl.
    python3 -c 'import puresasl' 2>/dev/null || py_pkgs+=(pure-sasl)
    if [ ${#py_pkgs[@]} -gt 0 ]; then
        echo "installing with pip: ${py_pkgs[*]}"
        if ! python3 -m pip --version >/dev/null 2>&1; then
            DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q python3-pip || return 1
        fi
        python3 -m pip install -q "${py_pkgs[@]}" \
            || python3 -m pip install -q --break-system-packages "${py_pkgs[@]}" \
            || return 1
    else
        echo "python packages kazoo, pytest, pure-sasl: present"
    fi
    command -v java >/dev/null || { echo "java missing (it comes with the zookeeper package)"; return 1; }
}

# --------------------------------------------------------- result parsing ---
# cargo: sum "test result: ... N passed; M failed" lines
count_cargo() {
    local log=$1 p f
    p=$(grep -E '^test result:' "$log" | sed -E 's/.* ([0-9]+) passed.*/\1/' | awk '{s+=$1} END {print s+0}')
    f=$(grep -E '^test result:' "$log" | sed -E 's/.* ([0-9]+) failed.*/\1/' | awk '{s+=$1} END {print s+0}')
    echo "$p $f"
}
# pytest: final line "3 failed, 50 passed, 2 errors in 12.3s" (maybe in ====)
count_pytest() {
    local line p f e
    line=$(grep -E '[0-9]+ (passed|failed|errors?|skipped|deselected).* in [0-9.]+s' "$1" | tail -1)
    p=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+' || true)
    f=$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+' || true)
    e=$(grep -oE '[0-9]+ errors?' <<<"$line" | grep -oE '[0-9]+' || true)
    echo "${p:-0} $(( ${f:-0} + ${e:-0} ))"
}

START=$(date +%s)

if has_stage deps; then
    say "dependencies"
    if install_deps; then note "deps: ok"; else
        echo "ERROR: could not install the test dependencies (see above)"
        FAILED=$((FAILED + 1)); note "deps: FAILED"
    fi
fi

BUILD_OK=1
if has_stage build; then
    say "cargo build --release --workspace"
    if cargo build --release --workspace; then note "build: ok"; else
        BUILD_OK=0; FAILED=$((FAILED + 1)); note "build: FAILED"
    fi
fi

if has_stage rust; then
    say "cargo test --workspace --release --no-fail-fast"
    log=$LOGDIR/cargo-test.log
    cargo test --workspace --release --no-fail-fast 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    read -r p f < <(count_cargo "$log")
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi  # did not compile or crashed
    PASSED=$((PASSED + p)); FAILED=$((FAILED + f))
    note "cargo test: $p passed, $f failed"
fi

run_compat() {  # $1 = label, rest = env assignments
    local label=$1; shift
    local log=$LOGDIR/compat-${label}.log
    say "compat suite: $label"
    env "$@" python3 -m pytest tests/compat -q -rfE -p no:cacheprovider 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]} p f
    read -r p f < <(count_pytest "$log")
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi  # pytest could not run at all
    PASSED=$((PASSED + p)); FAILED=$((FAILED + f))
    note "compat $label: $p passed, $f failed"
    if [ "$rc" != 0 ] && grep -q "could not start" "$log"; then
        echo
        echo ">>> The server under test ($label) did not start; every test that needs it failed."
        grep -m1 -A3 "could not start" "$log" | sed 's/^/>>> /'
    fi
}

if has_stage compat; then
    if [ "$TARGET" = zookeeper ]; then
        run_compat zookeeper WARDEN_TEST_TARGET=zookeeper WARDEN_SHARDS=1
    else
        BIN=${WARDEN_BIN:-$ROOT/target/release/warden}
        if [ "$BUILD_OK" = 0 ] || [ ! -x "$BIN" ]; then
            echo ">>> Warden binary $BIN is missing (build failed or not built yet):"
            echo ">>> the compat suite against Warden still runs and fails fast."
        fi
        run_compat warden-shards1 WARDEN_TEST_TARGET=warden WARDEN_SHARDS=1 WARDEN_BIN="$BIN"
        run_compat warden-shards2 WARDEN_TEST_TARGET=warden WARDEN_SHARDS=2 WARDEN_BIN="$BIN"
    fi
fi

if has_stage scripts; then
    say "scripts: loadgen/tests"
    log=$LOGDIR/scripts.log
    python3 -m pytest loadgen/tests -q -rfE -p no:cacheprovider 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    read -r p f < <(count_pytest "$log")
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi
    PASSED=$((PASSED + p)); FAILED=$((FAILED + f))
    note "scripts: $p passed, $f failed"
fi

say "summary ($(( $(date +%s) - START ))s, logs in $LOGDIR)"
for s in "${SUMMARY[@]}"; do echo "  $s"; done
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
