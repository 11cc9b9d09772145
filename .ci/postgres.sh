#!/usr/bin/env bash
# Run a command with a throwaway PostgreSQL cluster, its URL in VOICE_LAB_TEST_POSTGRES:
#   .ci/postgres.sh make test
# The cluster lives in a temporary folder, listens only on a unix socket there, and is stopped
# (by its PID file) and removed when the command ends, however it ends. PostgreSQL refuses to
# run as root: as root, the server runs as the `postgres` user (made if missing), else as you.
set -euo pipefail

if [ $# -eq 0 ]; then
    echo "usage: $0 COMMAND [ARGS...]   (runs COMMAND with VOICE_LAB_TEST_POSTGRES set)" >&2
    exit 2
fi

# The server's binaries: pg_config's bindir, else the newest of Debian's versioned folders.
bindir=""
if command -v pg_config >/dev/null 2>&1; then
    bindir="$(pg_config --bindir)"
fi
if [ ! -x "$bindir/initdb" ]; then
    bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
fi
if [ ! -x "$bindir/initdb" ]; then
    echo "No PostgreSQL server found: install Debian's postgresql package (apt-get install postgresql)" >&2
    exit 1
fi

as_owner=()
if [ "$(id -u)" -eq 0 ]; then
    id -u postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
    as_owner=(runuser -u postgres --)
fi

cluster="$(mktemp -d "${TMPDIR:-/tmp}/voice-lab-pg.XXXXXX")"
stop() {
    if [ -f "$cluster/data/postmaster.pid" ]; then
        "${as_owner[@]}" "$bindir/pg_ctl" -D "$cluster/data" -m fast -w stop >/dev/null 2>&1 ||
            kill "$(head -n 1 "$cluster/data/postmaster.pid")" 2>/dev/null || true
    fi
    rm -rf "$cluster"
}
trap stop EXIT
if [ ${#as_owner[@]} -gt 0 ]; then
    chown postgres "$cluster"
fi

"${as_owner[@]}" "$bindir/initdb" -D "$cluster/data" -U postgres -A trust -E UTF8 --no-locale >/dev/null
# Durability is not what tests measure: fsync off keeps a cluster made per run quick. The
# bench's ingest figure sets PG_FSYNC=on, as a team's server runs.
"${as_owner[@]}" "$bindir/pg_ctl" -D "$cluster/data" -l "$cluster/server.log" -w \
    -o "-c listen_addresses= -c unix_socket_directories=$cluster -c fsync=${PG_FSYNC:-off} -c max_connections=200" \
    start >/dev/null || { cat "$cluster/server.log" >&2; exit 1; }

export VOICE_LAB_TEST_POSTGRES="postgresql://postgres@/postgres?host=$cluster"
echo "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') for the tests: $VOICE_LAB_TEST_POSTGRES"
"$@"
