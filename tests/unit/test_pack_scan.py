"""The import scan: what a function reaches, mapped to real installed distributions and local files."""

import importlib.metadata as md
import json
import sys
import textwrap
import warnings
from pathlib import Path

import platformdirs
import pytest

import condorexec.pack.scan as scan_mod
from condorexec.pack.build import PackError, cache_key, pack_function
from condorexec.pack.scan import ScanResult, scan_function, scan_modules


def _dists(result):
    return {k.lower().replace("_", "-") for k in result.distributions}


def test_import_inside_body_maps_to_distribution_and_requirements_closed():
    def app():
        import json  # noqa: F401  - stdlib: never packed

        import requests  # noqa: F401  - requests requires urllib3, idna, certifi, charset-normalizer

    result = scan_function(app)
    assert {"requests", "urllib3", "idna", "certifi", "charset-normalizer"} <= _dists(result)
    assert result.distributions["requests"] == md.version("requests")
    assert "cloudpickle" in result.distributions  # the runner's only dependency, always there
    assert not result.unresolved and not result.local_modules


def test_only_what_is_reached():
    def app(x):
        return x + 1

    assert _dists(scan_function(app)) == {"cloudpickle"}


def test_nested_functions_closures_defaults_and_globals():
    import sortedcontainers

    cell = sortedcontainers.SortedList([1])  # closure value: an instance -> its type's module

    def outer(dirs=_DIRS):  # default value: a platformdirs instance
        def inner():
            import jinja2  # noqa: F401  - import in a nested code object

        return cell, inner

    def uses_global_module():
        return json.dumps(psutil_ref)  # module-level globals: json (stdlib) and a psutil function

    found = _dists(scan_function(outer))
    assert {"jinja2", "sortedcontainers", "platformdirs"} <= found
    assert "psutil" not in found
    assert "psutil" in _dists(scan_function(uses_global_module))


_DIRS = platformdirs.PlatformDirs("condorexec-test")
psutil_ref = __import__("psutil").cpu_count


def test_function_from_main_is_followed_by_value(tmp_path):
    """A helper defined in __main__ is pickled by value: its own imports count too."""
    ns = {"__name__": "__main__"}
    exec(compile("def helper():\n    import platformdirs\n", "<main>", "exec"), ns)
    helper = ns["helper"]

    def app():
        return helper()

    assert "platformdirs" in _dists(scan_function(app))


def test_local_module_found_as_file(tmp_path, monkeypatch):
    (tmp_path / "mylocal_helper_x1.py").write_text("VALUE = 1\n")
    pkg = tmp_path / "mylocalpkg_x1"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))

    def app():
        import mylocal_helper_x1  # noqa: F401
        import mylocalpkg_x1.sub  # noqa: F401

    result = scan_function(app)
    assert result.local_modules == {
        "mylocal_helper_x1": str(tmp_path / "mylocal_helper_x1.py"),
        "mylocalpkg_x1": str(pkg),
    }


def test_unresolved_import_warns_and_pack_names_it(tmp_path):
    def app():
        import no_such_module_condorexec_zz  # noqa: F401

    with pytest.warns(UserWarning, match="no_such_module_condorexec_zz"):
        result = scan_function(app)
    assert result.unresolved == ("no_such_module_condorexec_zz",)
    with pytest.raises(PackError, match="no_such_module_condorexec_zz"):
        pack_function(app, cache_dir=tmp_path, progress=False)
    assert not list(tmp_path.glob("*.tar.gz"))  # failed before building anything


def test_memoized_per_function():
    def app():
        import requests  # noqa: F401

    first = scan_function(app)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert scan_function(app) is first


def test_not_a_function_is_rejected():
    with pytest.raises(TypeError, match="func must be a Python function"):
        scan_function(len)


def test_scan_modules_relative_to_stdlib_and_namespace():
    result = scan_modules(["os.path", "xml.etree", "htcondor2", "classad2"])
    assert "htcondor" in _dists(result)
    assert not result.unresolved


def _local_scan(path: Path) -> ScanResult:
    return ScanResult(distributions={"cloudpickle": "3.0"}, local_modules={"helper": str(path)})


def test_cache_key_stable_and_content_addressed(tmp_path):
    helper = tmp_path / "helper.py"
    helper.write_text("A = 1\n")
    prefix = Path(sys.prefix)
    key1, inputs = cache_key(_local_scan(helper), prefix)
    assert cache_key(_local_scan(helper), prefix)[0] == key1  # same inputs -> same key
    assert json.dumps(inputs, sort_keys=True)  # the recorded inputs are plain data
    helper.write_text("A = 2\n")  # same size, new content
    key2 = cache_key(_local_scan(helper), prefix)[0]
    assert key2 != key1
    other = ScanResult(distributions={"cloudpickle": "3.1"}, local_modules={"helper": str(helper)})
    assert cache_key(other, prefix)[0] not in (key1, key2)  # a version change is a new key


def test_cache_key_of_package_dir_ignores_bytecode(tmp_path):
    pkg = tmp_path / "helper"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("X = 1\n")
    key1 = cache_key(_local_scan(pkg), Path(sys.prefix))[0]
    (pkg / "__pycache__").mkdir()
    (pkg / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"junk")
    assert cache_key(_local_scan(pkg), Path(sys.prefix))[0] == key1
    (pkg / "extra.py").write_text(textwrap.dedent("Y = 2\n"))
    assert cache_key(_local_scan(pkg), Path(sys.prefix))[0] != key1


def test_editable_or_egg_info_distribution_is_shipped_as_local(monkeypatch, tmp_path):
    """A distribution without RECORD (source-tree egg-info, editable) ships its module as files."""
    pkg = tmp_path / "srcpkg_x9"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    egg = tmp_path / "srcpkg_x9.egg-info"
    egg.mkdir()
    (egg / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: srcpkg-x9\nVersion: 0.1\n")
    (egg / "top_level.txt").write_text("srcpkg_x9\n")
    (egg / "requires.txt").write_text("psutil\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    scan_mod.clear_memo()
    try:
        result = scan_modules(["srcpkg_x9"])
    finally:
        monkeypatch.undo()
        scan_mod.clear_memo()
    assert result.local_modules == {"srcpkg_x9": str(pkg)}
    assert "srcpkg-x9" not in _dists(result) and "psutil" in _dists(result)  # its requirements still go


def _fake_dist(site: Path, name: str, module: str, requires: list[str]) -> None:
    (site / module).mkdir()
    (site / module / "__init__.py").write_text("")
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    meta = ["Metadata-Version: 2.1", f"Name: {name}", "Version: 1.0", *(f"Requires-Dist: {r}" for r in requires)]
    (info / "METADATA").write_text("\n".join(meta) + "\n")
    (info / "RECORD").write_text(f"{module}/__init__.py,,\n{info.name}/METADATA,,\n{info.name}/RECORD,,\n")


def test_requirement_markers_and_extras_are_evaluated(tmp_path, monkeypatch):
    _fake_dist(tmp_path, "fake-base-q", "fake_base_q",
               ['psutil; python_version < "3"', 'platformdirs; extra == "dirs"', "sortedcontainers"])
    _fake_dist(tmp_path, "fake-user-q", "fake_user_q", ["fake-base-q[dirs]"])
    monkeypatch.syspath_prepend(str(tmp_path))
    scan_mod.clear_memo()
    try:
        base = scan_modules(["fake_base_q"])
        user = scan_modules(["fake_user_q"])
    finally:
        monkeypatch.undo()
        scan_mod.clear_memo()
    assert _dists(base) == {"fake-base-q", "sortedcontainers", "cloudpickle"}  # marker false, extra unasked
    assert _dists(user) == {"fake-user-q", "fake-base-q", "sortedcontainers", "platformdirs", "cloudpickle"}
    assert not base.local_modules and not base.unresolved


def test_odd_module_names_of_objects_are_not_errors():
    """Extension types may claim a private C module name; that is no reason to fail the pack."""
    odd = type("Odd", (), {"__module__": "_no_such_c_module_zz"})()

    def app():
        return odd

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = scan_function(app)
    assert result.unresolved == ()
