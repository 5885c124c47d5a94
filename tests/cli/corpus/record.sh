#!/bin/sh
# Record NAME.ads (or NAME.error) for corpus files NAME.sub with the real condor_submit -dry-run of the
# shared live pool, as its user, in a readable copy of this folder; the copy's path becomes @IWD@. Its
# warnings (typos: lines nothing uses) go to NAME.warnings, sorted.
#   tests/cli/corpus/record.sh c82-dagman-node [c83-... ...]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
copy=/tmp/condorexec-corpus-record
rm -rf "$copy" && cp -r "$here" "$copy" && chmod -R a+rwX "$copy"
for name in "$@"; do
  sed -i "s|@IWD@|$copy|g" "$copy/$name.sub"
  status=0
  /work/shared/htcondor/pool run sh -c "cd $copy && /opt/htcondor/bin/condor_submit -dry-run $name.ads $name.sub" \
    >"$copy/$name.out" 2>&1 || status=$?
  if [ "$status" = 0 ]; then
    sed "s|$copy|@IWD@|g" "$copy/$name.ads" >"$here/$name.ads"
    rm -f "$here/$name.error" "$here/$name.warnings"
    if grep -q '^WARNING' "$copy/$name.out"; then grep '^WARNING' "$copy/$name.out" | sort >"$here/$name.warnings"; fi
  else
    { sed "s|$copy|@IWD@|g" "$copy/$name.out"; printf '\n(condor_submit exit status %s)\n' "$status"; } >"$here/$name.error"
    rm -f "$here/$name.ads"
  fi
done
rm -rf "$copy"
