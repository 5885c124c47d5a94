"""``condorexec pack list|show KEY|clear``: the cache of packed environments (``pack=True``)."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from condorexec.cli.options import CondorArgumentParser, UsageError
from condorexec.pack import cache


def parser() -> CondorArgumentParser:
    p = CondorArgumentParser("condorexec pack", "List, show or clear packed environments.")
    p.add_argument("action", choices=("list", "show", "clear"))
    p.add_argument("key", nargs="?", help="the pack to show")
    p.add_option("cache-dir", dest="cache_dir", metavar="DIR", help="the pack cache (default: the user cache dir)")
    return p


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def main(argv: list[str], out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    args = parser().parse_args(argv)
    root = cache.cache_root(args.cache_dir)
    if args.action == "list":
        envs = cache.list_cached(root)
        out.write(f"{len(envs)} pack(s) in {root}\n")
        for env in envs:
            out.write(f"{env.key}  {env.kind:6}  {_mib(env.size_bytes):>10}  {env.archive}\n")
        return 0
    if args.action == "clear":
        if args.key:
            raise UsageError("pack clear takes no key (it removes every pack not being built)", parser().format_usage())
        n = cache.clear_cache(root)
        out.write(f"removed {n} pack(s) from {root}\n")
        return 0
    if not args.key:
        raise UsageError("pack show needs a KEY (see 'condorexec pack list')", parser().format_usage())
    shown = cache.lookup(root, args.key)
    if shown is None:
        print(f"condorexec pack: no pack {args.key!r} in {root}", file=err)
        return 1
    meta_path = shown.archive.with_name(shown.archive.name[: -len(cache.SUFFIX)] + ".json")
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    out.write(json.dumps({"key": shown.key, "archive": str(shown.archive), "kind": shown.kind,
                          "python": shown.python, "size_bytes": shown.size_bytes, "metadata": meta}, indent=2) + "\n")
    return 0
