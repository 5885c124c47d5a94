#!/usr/bin/env python3
"""Record what the real condor_history prints for each line of cases.txt on pool-history (a few records
of the shared live pool's history file), into cases.out. Run as root: python3 tests/cli/history/record.py"""

import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
POOL = "/work/shared/htcondor/pool"



def main() -> None:
    copy = Path("/tmp/condorexec-history-record")
    copy.write_bytes((HERE / "pool-history").read_bytes())
    copy.chmod(0o644)
    blocks = []
    for line in (HERE / "cases.txt").read_text().splitlines():
        if line.strip():
            cmd = "condor_history -file " + str(copy) + " " + line
            done = subprocess.run([POOL, "run", "sh", "-c", cmd], capture_output=True, text=True, check=True)
            blocks.append(f"### {line}\n{done.stdout}")
    (HERE / "cases.out").write_text("".join(blocks))
    copy.unlink()


if __name__ == "__main__":
    main()
