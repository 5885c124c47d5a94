import pytest

from condorexec.errors import InvalidSpecError
from condorexec.spec import DEFAULT_CORES, DEFAULT_DISK_MB, DEFAULT_MEMORY_MB, ResourceSpec, parse_spec


def test_full_spec_is_kept():
    spec = parse_spec({"cores": 2, "memory": 1500, "disk": 200, "gpus": 0, "priority": 5,
                       "running_time_min": 10, "category": "align"})
    assert spec == ResourceSpec(2, 1500, 200, 0, 5, 10, "align")
    assert spec.given() == {"cores": 2, "memory": 1500, "disk": 200}


def test_subset_and_defaults():
    spec = parse_spec({"memory": 300})
    assert spec.given() == {"memory": 300}
    filled = spec.with_defaults()
    assert (filled.cores, filled.memory, filled.disk) == (DEFAULT_CORES, 300, DEFAULT_DISK_MB)
    assert parse_spec(None).with_defaults().memory == DEFAULT_MEMORY_MB
    assert parse_spec({}) == ResourceSpec()


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"cpus": 1}, "cpus"),
        ({"cores": True}, "cores"),
        ({"memory": 1.5}, "memory"),
        ({"disk": "100"}, "disk"),
        ({"cores": 0}, "cores"),
        ({"memory": -5}, "memory"),
        ({"memory": 10**12}, "memory"),
        ({"cores": 10**6}, "cores"),
        ({"category": "a\nqueue 100"}, "category"),
        ({"category": 'x" && true'}, "category"),
        ({"category": ""}, "category"),
        ({"gpus": None}, "gpus"),
    ],
)
def test_bad_values_name_the_key_and_value(raw, key):
    with pytest.raises(InvalidSpecError) as info:
        parse_spec(raw)
    assert info.value.field == key
    assert key in str(info.value) and repr(raw[key]) in str(info.value)


def test_not_a_dict():
    with pytest.raises(InvalidSpecError, match="must be a dict"):
        parse_spec([("cores", 1)])
