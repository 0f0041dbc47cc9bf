"""``python -m ytdnn.data info NAME [--root DIR]`` and ``python -m ytdnn.data download NAME``.

The last line of standard output is one JSON object; bad input exits with status 2 and a
single line on stderr.
"""
from __future__ import annotations

import argparse
import json
import sys

from ..errors import DataError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # keep the one-line contract for usage errors too
        raise DataError(f"usage: {message} (see python -m ytdnn.data --help)")


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m ytdnn.data", description="Inspect or download course datasets.")
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="load a dataset and print a JSON summary")
    info.add_argument("name", help="simulator, ml-latest-small, ml-100k or ml-1m")
    info.add_argument("--root", help="folder holding the dataset's own files (e.g. the one with u.data)")
    info.add_argument("--seed", type=int, help="simulator seed")
    info.add_argument("--users", type=int, help="simulator: number of users")
    info.add_argument("--videos", type=int, help="simulator: number of videos")
    info.add_argument("--watches", type=int, help="simulator: number of watch events")
    dl = sub.add_parser("download", help="download, verify and unpack a MovieLens archive into the cache")
    dl.add_argument("name")
    dl.add_argument("--cache", help="cache folder (default: data/cache)")
    dl.add_argument("--url", help="alternative address of the archive (a mirror, or file://)")

    try:
        args = parser.parse_args(argv)
        if args.command == "info":
            from . import load

            sim = {k: v for k, v in {"seed": args.seed, "n_users": args.users, "n_videos": args.videos,
                                     "n_watches": args.watches}.items() if v is not None}
            if sim and (args.name or "").lower() not in ("simulator", "sim"):
                raise DataError(f"{args.name}: --seed/--users/--videos/--watches apply to the simulator only")
            ds = load(args.name, args.root, **sim)
            print(json.dumps(ds.summary()))
        else:
            from . import _canonical
            from ..download import ensure

            name = _canonical(args.name)
            folder = ensure(name, args.cache, url=args.url)
            print(json.dumps({"dataset": name, "folder": str(folder)}))
    except DataError as err:
        print(str(err), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
