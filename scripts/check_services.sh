#!/usr/bin/env bash
# Check that PostgreSQL and Redis answer (the scale-out tests need both); exit 1 naming the
# one that does not, and how to start it. Hosts/ports follow TEST_POSTGRES_URL/TEST_REDIS_URL's
# defaults: PostgreSQL 127.0.0.1:5432, Redis 127.0.0.1:6379.
set -uo pipefail
PG_HOST="${PG_HOST:-127.0.0.1}" PG_PORT="${PG_PORT:-5432}"
REDIS_HOST="${REDIS_HOST:-127.0.0.1}" REDIS_PORT="${REDIS_PORT:-6379}"
status=0
if ! timeout 5 bash -c "exec 3<>/dev/tcp/$PG_HOST/$PG_PORT" 2>/dev/null; then
  echo "error: PostgreSQL does not answer on $PG_HOST:$PG_PORT; start it (e.g. docker run -d" \
    "-p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust -e POSTGRES_DB=test postgres:16)" >&2
  status=1
fi
reply=$(timeout 5 bash -c "exec 3<>/dev/tcp/$REDIS_HOST/$REDIS_PORT; printf 'PING\r\n' >&3; head -c 5 <&3" 2>/dev/null)
if [ "${reply:0:5}" != "+PONG" ]; then
  echo "error: Redis does not answer PING on $REDIS_HOST:$REDIS_PORT; start it (e.g. docker" \
    "run -d -p 6379:6379 redis:7)" >&2
  status=1
fi
exit $status
