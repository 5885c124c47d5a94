"""What setup.cfg cannot say: the top-level ``templates/`` ships inside the package as
``condorexec.templates`` (``find_namespace:`` finds only directories under ``condorexec/``), and
``py.typed`` (PEP 561) with it (package_data given here replaces setup.cfg's)."""

from setuptools import find_namespace_packages, setup

setup(
    packages=find_namespace_packages(include=["condorexec", "condorexec.*"]) + ["condorexec.templates"],
    package_dir={"condorexec.templates": "templates"},
    package_data={"condorexec": ["py.typed"], "condorexec.templates": ["*.j2"]},
)
