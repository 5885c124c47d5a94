"""What setup.cfg cannot say: the top-level ``templates/`` ships inside the package as
``condorexec.templates`` (``find_namespace:`` finds only directories under ``condorexec/``)."""

from setuptools import find_namespace_packages, setup

setup(
    packages=find_namespace_packages(include=["condorexec", "condorexec.*"]) + ["condorexec.templates"],
    package_dir={"condorexec.templates": "templates"},
    package_data={"condorexec.templates": ["*.j2"]},
)
