"""The job executable for a call: one plain wrapper, or one per packed environment (``pack=True``)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from condorexec import render
from condorexec.core.calls import Wrapper


class WrapperCache:
    """Renders each distinct wrapper once into ``work_dir`` and hands out the same one afterwards."""

    def __init__(self, work_dir: Path, worker_python: str, pack: bool):
        self.work_dir, self.worker_python, self.pack = work_dir, worker_python, pack
        self._lock = threading.Lock()
        self._wrappers: dict[tuple[str, str], Wrapper] = {}

    def for_function(self, source: Callable[..., Any], script: str = "runner.py") -> Wrapper:
        """The wrapper that runs ``script`` (runner.py for a call's own job, worker.py for a category
        worker) in the environment ``source`` needs."""
        key, extra_inputs = "plain", ""
        context: dict[str, Any] = {"pack": False, "python": self.worker_python}
        if self.pack:
            from condorexec.pack.build import pack_function, unpack_template_vars

            packed = pack_function(source)  # cached by content: milliseconds after the first
            key, extra_inputs = packed.key, "," + render.check_transfer_path("pack archive", str(packed.archive))
            context = {"pack": True, **unpack_template_vars(packed)}
        prefix = "wrapper" if script == "runner.py" else script.removesuffix(".py")
        with self._lock:
            if (key, script) not in self._wrappers:
                path = self.work_dir / f"{prefix}-{key[:16]}.sh"
                path.write_text(render.render_script("wrapper.sh.j2", {**context, "script": script}))
                path.chmod(0o755)
                self._wrappers[key, script] = Wrapper(path, extra_inputs)
            return self._wrappers[key, script]
