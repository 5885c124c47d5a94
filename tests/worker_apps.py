"""The Parsl apps the category-worker tests run, on the local pool (tests/integration/test_workers_local.py)
and on the live pool (tests/condor/test_workers_live.py). They travel by value: an execute node cannot
import this test module."""

from __future__ import annotations

import sys

import cloudpickle
from parsl import bash_app, python_app

cloudpickle.register_pickle_by_value(sys.modules[__name__])

#: the memory of the two categories whose workers must come in two sizes
SMALL_MB, BIG_MB = 150, 400


@python_app
def double(x, parsl_resource_specification={"cores": 1, "memory": SMALL_MB, "disk": 10}):  # noqa: B006
    return 2 * x


@python_app
def bigger(x, parsl_resource_specification={"cores": 1, "memory": BIG_MB, "disk": 10}):  # noqa: B006
    return x + 1


@python_app
def fails(parsl_resource_specification={"cores": 1, "memory": SMALL_MB, "disk": 10}):  # noqa: B006
    raise KeyError("no such detector")


@python_app
def nap(seconds, parsl_resource_specification={"cores": 1, "memory": SMALL_MB, "disk": 10}):  # noqa: B006
    import time

    time.sleep(seconds)
    return seconds


@python_app
def nap_big(seconds, parsl_resource_specification={"cores": 1, "memory": BIG_MB, "disk": 10}):  # noqa: B006
    import time

    time.sleep(seconds)
    return seconds


@python_app
def nap_wide(seconds, parsl_resource_specification={"cores": 2, "memory": BIG_MB, "disk": 10}):  # noqa: B006
    import time

    time.sleep(seconds)
    return seconds


@python_app
def copy_upper(inputs=(), outputs=(), parsl_resource_specification={"memory": 300, "disk": 10}):  # noqa: B006
    with open(inputs[0].filepath) as src, open(outputs[0].filepath, "w") as dst:
        dst.write(src.read().upper())
    return "copied"


@bash_app
def shout(word, stdout=None, stderr=None, parsl_resource_specification={"memory": 300, "disk": 10}):  # noqa: B006
    return f"echo {word} && echo oops >&2"


@python_app
def touch_memory(megabytes, seconds=0.0, parsl_resource_specification=None):
    import time

    block = bytearray(megabytes * 2**20)
    for i in range(0, len(block), 4096):
        block[i] = 1
    time.sleep(seconds)
    return megabytes
