"""Runs ON THE EXECUTE NODE: load a payload of app calls, run them, write their outcomes.

Only the standard library and cloudpickle may be imported here: this file is shipped with every
job (``transfer_input_files``) and run by whatever Python the node has or the job brought.
A payload holds a *sequence* of calls so that one job can serve many calls (slot workers, see
docs/design.md §7); today the executor sends one call per job.

Usage: ``python runner.py PAYLOAD RESULT``. Exit status 0 when every outcome was written, even if
an app raised: an app's exception is a result, not a job failure.
"""

import os
import sys
import time
import traceback

PAYLOAD_VERSION = 1


def _peak_rss_kib():
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    except Exception:  # not every platform has it; the pool measures anyway
        return None


def _run_call(call):
    started = time.time()
    try:
        value = call["func"](*call["args"], **call["kwargs"])
        outcome = {"id": call["id"], "ok": True, "value": value}
    except BaseException as exc:  # noqa: BLE001 - the app's exception is the call's result
        outcome = {"id": call["id"], "ok": False, "exception": exc, "traceback": traceback.format_exc()}
    outcome["wall_s"] = time.time() - started
    outcome["peak_rss_kib"] = _peak_rss_kib()
    return outcome


def _dumps_outcome(cloudpickle, outcome):
    """Pickle an outcome; an unpicklable value or exception becomes a described RuntimeError."""
    try:
        return cloudpickle.dumps(outcome)
    except Exception as exc:  # noqa: BLE001
        what = "return value" if outcome["ok"] else "exception"
        detail = repr(outcome.get("value") if outcome["ok"] else outcome["exception"])[:2000]
        replacement = RuntimeError(f"the app's {what} could not be pickled ({exc}): {detail}")
        return cloudpickle.dumps(
            {"id": outcome["id"], "ok": False, "exception": replacement,
             "traceback": outcome.get("traceback", ""), "wall_s": outcome["wall_s"],
             "peak_rss_kib": outcome["peak_rss_kib"]}
        )


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        sys.stderr.write("usage: runner.py PAYLOAD RESULT\n")
        return 2
    payload_path, result_path = argv
    import cloudpickle

    with open(payload_path, "rb") as f:
        payload = cloudpickle.load(f)
    if payload.get("version") != PAYLOAD_VERSION:
        sys.stderr.write(f"runner.py: unsupported payload version {payload.get('version')!r}\n")
        return 3
    blobs = [_dumps_outcome(cloudpickle, _run_call(call)) for call in payload["calls"]]
    tmp = result_path + ".tmp"
    with open(tmp, "wb") as f:
        cloudpickle.dump({"version": PAYLOAD_VERSION, "outcomes": blobs}, f)
    os.replace(tmp, result_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
