#!/usr/bin/env bash
# What `make bench` needs besides the Python extras: wrk (HTTP load) from Debian's packages, and
# Redis answering on 127.0.0.1:6379 (Celery's broker), installed and started when missing.
set -euo pipefail
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v redis-server >/dev/null || missing+=(redis-server)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing ${missing[*]} from Debian's packages" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq "${missing[@]}" >&2
fi
if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
    echo "starting redis-server on 127.0.0.1:6379" >&2
    redis-server --bind 127.0.0.1 --port 6379 --daemonize yes --save '' --appendonly no >&2
fi
