#!/usr/bin/env bash
# Start the S3 test server (ministack, see docs in /work/shared/notes/s3-test-server.md) on
# 127.0.0.1:$1 and print its pid. ministack pins its own botocore, so it lives in .venv-s3/,
# never in the project's virtualenv. Exits non-zero when it is not healthy within ~30 s.
# Stop it with `kill <pid>`.
set -euo pipefail

port="${1:?usage: scripts/s3-server.sh PORT}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv-s3"
log="$root/.s3-$port.log"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import ministack" 2>/dev/null; then
    "$python" -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "ministack==1.5.33" >&2
fi

env BIND_HOST=127.0.0.1 GATEWAY_PORT="$port" SERVICES=s3 AUTH=true \
    AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_SESSION_TOKEN= \
    MINISTACK_REGION=us-east-1 LOG_LEVEL=WARNING \
    nohup "$venv/bin/python" -m ministack >"$log" 2>&1 </dev/null &
pid=$!

for _ in $(seq 1 150); do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "ministack exited early; see $log" >&2
        tail -n 20 "$log" >&2 || true
        exit 1
    fi
    if "$venv/bin/python" - "$port" <<'PY' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/_ministack/health", timeout=1).read()
PY
    then
        echo "$pid"
        exit 0
    fi
    sleep 0.2
done

echo "ministack did not become healthy on 127.0.0.1:$port within 30 s; see $log" >&2
kill "$pid" 2>/dev/null || true
exit 1
