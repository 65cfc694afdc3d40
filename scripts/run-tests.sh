#!/usr/bin/env bash
# Run every test leg in one pytest run spread over two workers, then the fault suite
# (tests/faults: PostgreSQL, real processes killed and restarted on purpose) as its own run, alone,
# so no other leg competes with it for the cores its liveness checks depend on. Prints the legs
# that ran, and the 25 slowest tests (where the time goes). A leg that cannot start
# (PostgreSQL, the S3 test server) fails its tests: nothing is skipped.
#
# With arguments (e.g. `scripts/run-tests.sh tests/unit -k sse`) only the first run happens,
# with those arguments; set RUNYARD_FAULTS=1 to run the fault suite too. The fault suite runs
# the counts of issue 15 (~3 minutes on 2 cores); RUNYARD_FAULTS_<NAME>=n lowers one (F1_RUNS,
# F1_KILLS, F2_TASKS, F3_TASKS, F4_TASKS, F4_RESTARTS, F5_TASKS).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ "$#" -eq 0 ]; then
    echo "== static checks: ruff check, ruff format --check and mypy --strict"
    .venv/bin/ruff check src tests bench scripts || exit 1
    .venv/bin/ruff format --check src tests bench scripts || exit 1
    .venv/bin/mypy || exit 1
fi

run_faults=0
if [ "$#" -eq 0 ] || [ "${RUNYARD_FAULTS:-}" = "1" ]; then
    run_faults=1
fi

# Paths among the arguments replace the default `tests` (so `scripts/run-tests.sh
# tests/unit/scheduler` runs only that folder); options alone narrow the whole suite.
targets=(tests)
for arg in "$@"; do
    if [ -e "${arg%%::*}" ]; then
        targets=()
        break
    fi
done
.venv/bin/python -m pytest "${targets[@]}" --ignore=tests/faults -n 2 --dist loadgroup \
    -p no:cacheprovider --durations=25 --durations-min=5 "$@"
status=$?
if [ "$status" -eq 5 ]; then
    echo "no tests ran: that is a failure" >&2
    status=1
fi

if [ "$run_faults" -eq 1 ]; then
    echo "== fault suite (tests/faults): PostgreSQL, real processes, alone"
    .venv/bin/python -m pytest tests/faults -p no:cacheprovider -rA -s \
        -o console_output_style=classic
    faults=$?
    if [ "$faults" -eq 5 ]; then
        echo "the fault suite ran no tests: that is a failure" >&2
        faults=1
    fi
    if [ "$status" -eq 0 ]; then
        status=$faults
    fi
fi
exit "$status"
