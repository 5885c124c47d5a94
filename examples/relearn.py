"""Two runs of the same apps into one label store; between them one app's code changes.

What docs/img/labels.png shows: ``apps.align`` keeps what it learned in the first run, ``apps.resize``
(its code now keeps three copies of its buffer) starts over in the second run — the executor logs a
WARNING and ``condorexec labels`` says "re-learning since ...". ``len`` shows a builtin app (no code
to fingerprint, never checked). About two minutes on the local pool.

    python examples/relearn.py DIR
    condorexec labels --label-store DIR/labels.sqlite --maximum 6,6000,20000 --plot labels.png
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from condorexec import CondorExecutor

BODY = ("def {name}(mb):\n    import time\n    b = bytearray({factor}mb * 2**20)\n"
        "    for i in range(0, len(b), 4096):\n        b[i] = 1\n    time.sleep({sleep})\n    return mb\n")


def run(here: Path, version: int) -> None:
    """One run: write this version of the apps' module, import it fresh, and run 30 calls."""
    (here / "apps.py").write_text(BODY.format(name="align", factor="", sleep=2) + "\n\n"
                                  + BODY.format(name="resize", factor="" if version == 1 else "3 * ", sleep=1.5))
    sys.modules.pop("apps", None)
    import apps

    ex = CondorExecutor(label=f"v{version}", pool="local", nodes=["cpus=6,memory=6000", "cpus=3,memory=3000"],
                        state_dir=str(here / f"state{version}"), autolabel=True, autocategory=True,
                        label_store=str(here / "labels.sqlite"))
    ex.run_dir = str(here / f"run{version}")
    ex.start()
    try:
        futures = []
        for i in range(10):
            futures.append(ex.submit(apps.align, {}, 700 + 40 * (i % 3)))
            futures.append(ex.submit(apps.resize, {}, 150 + 20 * (i % 4)))
            futures.append(ex.submit(len, {}, "abc"))
            if i % 3 == 2:
                time.sleep(2)
        for f in futures:
            f.result(timeout=300)
        time.sleep(3)
        ex.poller.poll_once()  # the last jobs' history into the store before the next run
    finally:
        ex.shutdown()


def main() -> None:
    here = Path(sys.argv[1] if len(sys.argv) > 1 else "relearn").resolve()
    here.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(here))
    run(here, 1)
    run(here, 2)
    print(f"label store: {here / 'labels.sqlite'}")


if __name__ == "__main__":
    main()
