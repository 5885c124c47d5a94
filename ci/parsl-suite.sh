#!/usr/bin/env bash
# Parsl's own test suite (shipped inside the installed parsl package) against CondorExecutor on the
# embedded local pool, as a Parsl user judges an executor. Three runs (docs/parsl-suite.md):
#   1. Parsl's own HTCondor-CI filter (no shared filesystem assumed), plus `not issue_3620` (an
#      executor-specific test), with files transferred: tests/parsl_suite/local_config.py
#   2. every test but the cleannet/permission ones, shared_fs tests included, with shared_fs=True:
#      tests/parsl_suite/local_config_shared_fs.py
#   3. the filter of run 1 with every call in a slot worker: tests/parsl_suite/local_config_workers.py
# With the argument `condor` instead: runs 1 and 2 on the live HTCondor pool CONDOR_CONFIG names, with
# slot workers (tests/parsl_suite/condor_config_workers*.py; ci/condor-tests.sh runs them; the
# test pool's execute node is its submit host, so it shares the filesystem run 2 needs).
# Any failure fails the script. Run from the repository root with the venv's python on PATH or
# PYTHON=...; it works in a scratch directory, since Parsl's tests write into their working directory.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${PYTHON:-$repo/.venv/bin/python}
tests=$("$python" -c 'import os, parsl; print(os.path.join(os.path.dirname(parsl.__file__), "tests"))')
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"

run() {  # name config marker-expression
    echo "== Parsl's suite: $1"
    "$python" -m pytest "$tests" --config "$repo/tests/parsl_suite/$2" -m "$3" -q -p no:cacheprovider \
        --timeout 300 -W ignore::pytest.PytestRemovedIn9Warning
}

htcondor_ci="not cleannet and not unix_filesystem_permissions_required and not staging_required and not shared_fs and not issue_3620"
if [ "${1:-local}" = condor ]; then
    run "live HTCondor pool, slot workers, HTCondor-CI filter" condor_config_workers.py "$htcondor_ci"
    run "live HTCondor pool, slot workers, shared_fs tests included, shared_fs=True" \
        condor_config_workers_shared_fs.py "not cleannet and not unix_filesystem_permissions_required and not issue_3620"
    exit 0
fi
run "HTCondor-CI filter, files transferred" local_config.py "$htcondor_ci"
run "shared_fs tests included, shared_fs=True" local_config_shared_fs.py \
    "not cleannet and not unix_filesystem_permissions_required and not issue_3620"
run "HTCondor-CI filter, slot workers" local_config_workers.py "$htcondor_ci"
