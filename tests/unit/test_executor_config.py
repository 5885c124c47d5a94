"""CondorExecutor's options in groups: the flat keywords are sugar for the same groups, errors name the
parameter the user wrote, and the core's defaults and checks are CoreConfig's."""

from __future__ import annotations

import dataclasses

import pytest

from condorexec.core.config import CoreConfig
from condorexec.errors import InvalidSpecError
from condorexec.executor import CondorExecutor
from condorexec.executor_config import GROUP_OF, GROUPS, AutolabelConfig, JobConfig, PoolConfig, WorkerConfig


def test_every_flat_keyword_has_one_group_and_the_core_s_fields_are_all_there():
    assert len(GROUP_OF) == 28  # with ``label``, the executor's 29 parameters
    core = {f.name for f in dataclasses.fields(CoreConfig)}
    assert core <= set(GROUP_OF)


def test_flat_keywords_and_groups_build_the_same_executor():
    flat = CondorExecutor("a", pool="local", nodes=["cpus=2,memory=2000"], max_retries=5, shared_fs=True,
                          autolabel=True, category="c", mode="workers", max_workers=3, switch_interval=None)
    grouped = CondorExecutor("a", pool_config=PoolConfig(pool="local", nodes=["cpus=2,memory=2000"],
                                                         switch_interval=None),
                             job_config=JobConfig(max_retries=5, shared_fs=True),
                             autolabel_config=AutolabelConfig(autolabel=True, category="c"),
                             worker_config=WorkerConfig(mode="workers", max_workers=3))
    assert flat.config == grouped.config
    assert flat.config.max_retries == 5 and flat.config.mode == "workers" and flat.config.switch_interval is None
    assert (flat.pool_options, flat.shared_fs, flat.category) == (grouped.pool_options, True, "c")
    assert CondorExecutor().config == CoreConfig()  # the defaults are the core's


@pytest.mark.parametrize(("field", "value"), [("max_retries", -1), ("mode", "fastest"), ("pool", "elsewhere"),
                                              ("shared_fs", "yes"), ("allocation_mode", "x"), ("category", "a b")])
def test_errors_name_the_parameter_either_way(field, value):
    with pytest.raises(InvalidSpecError, match=f"invalid {field}="):
        CondorExecutor(**{field: value})
    group = GROUPS[GROUP_OF[field]]
    with pytest.raises(InvalidSpecError, match=f"invalid {field}="):
        group(**{field: value})


def test_a_keyword_and_its_group_together_or_an_unknown_keyword_are_refused():
    with pytest.raises(InvalidSpecError, match="invalid max_retries=.*also given by job_config"):
        CondorExecutor(max_retries=2, job_config=JobConfig())
    with pytest.raises(InvalidSpecError, match="invalid worker_config="):
        CondorExecutor(worker_config=JobConfig())
    with pytest.raises(TypeError, match="max_retires"):
        CondorExecutor(max_retires=2)


def test_the_docstring_lists_each_group_s_fields():
    doc = " ".join(CondorExecutor.__doc__.split())
    for param, group in GROUPS.items():
        listed = ", ".join(f.name for f in dataclasses.fields(group))
        assert f"``{param}={group.__name__}(...)`` ({listed}" in doc, param
