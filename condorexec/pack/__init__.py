"""Ship an app's Python environment to nodes that may have no Python at all (``pack=True``).

``scan`` finds what a function needs, ``build`` packs it into a cached archive, ``cache`` stores it;
``templates/unpack.sh.j2`` unpacks it on the node.  See docs/shipping-your-environment.md.
"""

from condorexec.pack.build import PackError, pack_distributions, pack_function, unpack_template_vars
from condorexec.pack.cache import PackedEnv, clear_cache, list_cached
from condorexec.pack.scan import ScanResult, scan_function

__all__ = [
    "PackError", "PackedEnv", "ScanResult", "clear_cache", "list_cached", "pack_distributions",
    "pack_function", "scan_function", "unpack_template_vars",
]
