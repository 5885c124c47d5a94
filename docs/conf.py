"""Sphinx configuration of condorexec's documentation site (built in CI with warnings as errors:
``sphinx-build -W --keep-going -b html docs docs/_build/html``).

Sphinx rather than MkDocs: Parsl's and HTCondor's documentation, which condorexec's users read beside
it, are Sphinx sites; autodoc reads the docstrings as they are written (reStructuredText roles such as
``:class:``); sphinx-argparse documents the command line straight from the argparse parsers; and
MyST lets the Markdown pages in this folder stay Markdown, readable on GitHub too."""

from __future__ import annotations

import condorexec

project = "condorexec"
author = "the condorexec developers"
copyright = "the condorexec developers; Apache License 2.0"  # noqa: A001 - Sphinx's name for it
release = version = condorexec.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinxarg.ext",
]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
root_doc = "index"

myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3  # [text](#a-heading) links inside and between pages

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False

html_theme = "furo"
html_title = f"condorexec {release}"

