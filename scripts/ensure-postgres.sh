#!/usr/bin/env bash
# Make sure PostgreSQL answers on 127.0.0.1:5432 with trust auth for the test legs: start the
# local cluster if it is installed but down, install it from Debian's packages if missing.
set -euo pipefail

answers() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

if command -v pg_isready >/dev/null && answers; then
    exit 0
fi
if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    echo "PostgreSQL is not installed: installing it from Debian's packages" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    conf=/etc/postgresql/$version/main/pg_hba.conf
    sed -i -E 's/^(local|host)(\s+\S+\s+\S+.*\s)(peer|scram-sha-256|md5)$/\1\2trust/' "$conf"
fi
version=$(ls /etc/postgresql | sort -V | tail -n 1)
pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 || true
for _ in $(seq 1 60); do
    answers && exit 0
    sleep 0.5
done
echo "PostgreSQL does not answer on 127.0.0.1:5432; the PostgreSQL legs cannot run" >&2
exit 1
