#!/usr/bin/env bash
# Every benchmark, one after the other (about 12 minutes on 2 cores; each is bounded by `timeout`).
# bench/profile.py (a cProfile table, not figures) runs on its own.
# Figures: one JSON line each on stdout. Progress, the code measured and the machine: stderr.
#   bench/run_all.sh | tee figures.ndjson        the work tree as it is
#   bench/run_all.sh HEAD | tee figures.ndjson   a clean export of a commit (git archive) with
#                                                this work tree's bench/: edits made meanwhile
#                                                in the work tree cannot leak into the run
# Installs what tests/run installs (redis-server, Java 17, Maven, the package into .venv/) plus wrk (here
# from Debian when missing, as root).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
# The project's own .venv/ with the dev extras, as tests/run makes it.
ZOOM_INGEST_EXTRAS=dev source scripts/env.sh
python -c "from ops.services import elasticsearch_home; elasticsearch_home()" >/dev/null

if (($#)); then
    code="commit $(git rev-parse --short "$1"), clean export"
    snapshot=$(mktemp -d /tmp/zoom-bench-source-XXXXXX)
    trap 'rm -rf "$snapshot"' EXIT
    git archive "$1" | tar -x -C "$snapshot"
    rm -rf "$snapshot/bench" && cp -r bench "$snapshot/bench"
    cd "$snapshot"
else
    dirty=$(git status --porcelain -- receiver worker shared ops | awk '{print $NF}' | paste -sd' ')
    code="commit $(git rev-parse --short HEAD), uncommitted changes in: ${dirty:-none}"
fi
{
    echo "# $code"
    echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB,"\
         "load average $(cut -d' ' -f1-3 /proc/loadavg)"
} >&2

timeout 600 python -m bench.receiver
timeout 600 python -m bench.workers
timeout 600 python -m bench.burst
timeout 600 python -m bench.worker
timeout 600 python -m bench.freshness
timeout 900 python -m bench.durability
timeout 300 python -m bench.outage
