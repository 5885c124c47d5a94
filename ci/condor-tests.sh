#!/usr/bin/env bash
# Run the tests marked `condor` against a real personal HTCondor pool.
#
# CI calls this after the default test run. It needs the `pool` script that ships HTCondor's daemons
# (shared/htcondor/pool beside the checkout, or /work/shared/htcondor/pool); without one it says so
# and exits 0, since there is nothing to test against.
#
# Why the copying: HTCondor refuses jobs owned by root, so the tests run as the pool's own user
# (`pool run`), who cannot read /root or a checkout under it. So this script
#   1. resets and starts the pool (a clean queue and history every run),
#   2. copies the working tree (tracked and untracked, not ignored, files) to $CI_CHECKOUT,
#   3. makes $CI_VENV from Debian's /usr/bin/python3 and installs the copy into it (editable, [test]);
#      skipped when the venv already holds an editable install of $CI_CHECKOUT made from the same
#      setup.cfg/pyproject.toml,
#   4. runs `pytest -m condor tests/condor` there as the pool's user (5, "no tests collected", counts
#      as a failure: the pool is up, so the tests must run),
#   5. unless CONDOR_TEST_PATHS picked a subset, runs Parsl's own suite on the live pool with category
#      workers (ci/parsl-suite.sh condor), and exits with the first failing status.
# Settings: CONDOR_POOL (the pool script), CI_CHECKOUT (/tmp/condorexec-ci), CI_VENV (/tmp/venv-pool),
#           CONDOR_TEST_PATHS (default: tests/condor tests/cli; only tests marked condor run), extra arguments are passed on to pytest.
set -euo pipefail

say() { echo "condor-tests: $*" >&2; }

repo=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)
checkout=${CI_CHECKOUT:-/tmp/condorexec-ci}
venv=${CI_VENV:-/tmp/venv-pool}
read -r -a test_paths <<< "${CONDOR_TEST_PATHS:-tests/condor tests/cli}"

pool=""
for candidate in "${CONDOR_POOL:-}" "$repo/../shared/htcondor/pool" /work/shared/htcondor/pool; do
  if [ -n "$candidate" ] && [ -x "$candidate" ]; then pool=$(readlink -f "$candidate"); break; fi
done
if [ -z "$pool" ]; then
  say "no HTCondor pool script (looked at \$CONDOR_POOL, $repo/../shared/htcondor/pool," \
      "/work/shared/htcondor/pool): the live HTCondor tests are skipped"
  exit 0
fi

say "resetting and starting the pool with $pool"
"$pool" reset
# the schedd evaluates periodic_remove every 10 s instead of 60 s, so that the fault suite's lease case
# (a killed submitter's jobs end when their lease runs out) takes about a minute, not two
"$pool" start 'PERIODIC_EXPR_INTERVAL = 10'

say "copying the working tree of $repo to $checkout"
case "$checkout" in /|/tmp|/root|"") say "refusing to replace $checkout"; exit 2 ;; esac
rm -rf "$checkout"
mkdir -p "$checkout"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard |
   while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
   tar --null -T - -cf -) | tar -xf - -C "$checkout"

stamp_want=$( (echo "$checkout"; cat "$checkout/setup.cfg" "$checkout/pyproject.toml" 2>/dev/null) |
             sha256sum | cut -d' ' -f1)
stamp_file=$venv/.condorexec-install
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp_file" 2>/dev/null)" = "$stamp_want" ] &&
   "$venv/bin/python" -c 'import condorexec, htcondor2, pytest' 2>/dev/null; then
  # the editable install points at $checkout by path, so the fresh copy is what gets imported
  say "reusing $venv (installed from $checkout with the same setup.cfg/pyproject.toml)"
else
  say "making $venv from /usr/bin/python3 and installing $checkout[test] into it"
  [ -x "$venv/bin/python" ] || /usr/bin/python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q -e "$checkout[test]"
  echo "$stamp_want" > "$stamp_file"
fi
chmod -R o+rX "$venv" "$checkout"

say "running: pool run $venv/bin/python -m pytest -m condor ${test_paths[*]} $* (in $checkout)"
cd "$checkout"
set +e
"$pool" run "$venv/bin/python" -m pytest -p no:cacheprovider -m condor "${test_paths[@]}" "$@"
status=$?
set -e
if [ "$status" = 5 ]; then
  say "pytest collected no tests although the pool is running: counting that as a failure"
fi
say "pytest exited with status $status"
if [ "$status" = 0 ] && [ -z "${CONDOR_TEST_PATHS:-}" ]; then
  # Parsl's own suite on the live pool, every call in a slot worker (docs/parsl-suite.md)
  say "running Parsl's own test suite on the live pool with slot workers"
  set +e
  "$pool" run env PYTHON="$venv/bin/python" bash "$checkout/ci/parsl-suite.sh" condor
  status=$?
  set -e
  say "Parsl's suite on the live pool exited with status $status"
fi
exit "$status"
