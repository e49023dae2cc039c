# Sourced by scripts/test.sh: check that the services the integration tests talk to answer.
# On CI (CI=true) a missing service is an error; elsewhere the tests that need it skip and say
# how to start it.
check_service() {  # name host port how-to-start
  if .venv/bin/python - "$2" "$3" <<'PY'
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3).close()
except OSError:
    sys.exit(1)
PY
  then
    return 0
  fi
  if [ "${CI:-}" = "true" ]; then
    echo "error: $1 does not answer on $2:$3; start it with: $4" >&2
    exit 1
  fi
  echo "note: $1 does not answer on $2:$3; its tests will skip (start it with: $4)" >&2
}
check_service PostgreSQL 127.0.0.1 5432 \
  "pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start"
check_service Redis 127.0.0.1 6379 \
  "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no"
