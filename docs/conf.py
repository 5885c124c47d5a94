"""Sphinx configuration of condorexec's documentation site (built in CI with warnings as errors:
``sphinx-build -W -n --keep-going -b html docs docs/_build/html``).

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

nitpicky = True  # a reference to a name that no longer exists is a warning, so CI fails on it
# what the site cannot link to offline (intersphinx would fetch inventories at build time)
nitpick_ignore_regex = [("py:class", r"(os|logging|collections\.abc|concurrent\.futures|typing|pathlib|parsl"
                                     r"|htcondor2|classad2|abc)(\..*)?"),
                        # internals that appear in the documented signatures only
                        ("py:class", r"(condorexec\.pools\.base\.)?Machine|SpoolLayout")]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented"  # each documented parameter gets its type
autodoc_default_options = {"show-inheritance": True}  # members: listed on each page
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_custom_sections = [("Keyword Args", "Parameters")]  # CondorExecutor's, each with its type



def _skip_module_data(app, what, name, obj, skip, options):  # noqa: ANN001, ARG001 - Sphinx's signature
    """Module-level constants stay out of the reference: their ``#:`` comments are notes for the code's
    readers (napoleon would read "text (more): more" in them as a typed attribute)."""
    if what == "module" and not callable(obj):
        return True
    return None


def setup(app):  # noqa: ANN001, ANN201
    app.connect("autodoc-skip-member", _skip_module_data)


html_theme = "furo"
html_title = f"condorexec {release}"

