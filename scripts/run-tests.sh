#!/usr/bin/env bash
# Run every test leg in one pytest run spread over two workers, then print the legs that ran.
# A leg that cannot start (PostgreSQL, the S3 test server) fails its tests: nothing is skipped.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ "$#" -eq 0 ]; then
    echo "== static checks: ruff check, ruff format --check and mypy --strict"
    .venv/bin/ruff check src tests bench scripts || exit 1
    .venv/bin/ruff format --check src tests bench scripts || exit 1
    .venv/bin/mypy || exit 1
fi

.venv/bin/python -m pytest tests -n 2 --dist loadgroup -p no:cacheprovider "$@"
status=$?
if [ "$status" -eq 5 ]; then
    echo "no tests ran: that is a failure" >&2
    exit 1
fi
exit "$status"
