"""`lmscope search QUERY`: find models on the Hub (or offline: in the catalog and the local cache).

Text output is a rich table; ``--format json`` prints one object
(``schema_version``, ``query``, ``source``, ``results[]``) for scripts;
``--format markdown`` a table. Only wiring lives here:
:mod:`lmscope.core.hub.search` searches and :mod:`lmscope.core.formats`
renders (the same renderers as the app's Export).
"""

from __future__ import annotations

import argparse
import sys

from lmscope.core import formats


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `lmscope search` (CONTRACT.md names)."""
    from lmscope.core.hub.search import DEFAULT_FILTER, SORTS

    parser.add_argument("query", metavar="QUERY", nargs="?", default="", help="words to look for in model ids")
    parser.add_argument("--limit", type=int, default=20, metavar="N", help="how many results (1-1000, default 20)")
    parser.add_argument("--sort", choices=tuple(SORTS), default="downloads", help="order (default downloads)")
    parser.add_argument("--author", default=None, metavar="A", help="only models of this user or organisation")
    parser.add_argument(
        "--filter", default=None, metavar="TAG", help=f"tag or pipeline to require (default {DEFAULT_FILTER}; 'all' for none)"
    )
    parser.add_argument("--format", choices=formats.names("search"), default="text", help="output format (default text)")
    parser.add_argument("--offline", action="store_true", help="search the built-in catalog and the local cache only")
    parser.add_argument("--token", default=None, help="Hugging Face token (else HF_TOKEN, else the stored login)")
    parser.add_argument("--output", "-o", default=None, metavar="PATH", help="write to PATH (atomically) instead of stdout")
    from lmscope.main import add_units_option

    add_units_option(parser)
    parser.add_argument("--quiet", "-q", action="store_true", help="print errors only")
    parser.add_argument("--verbose", "-v", action="store_true", help="say more")


def run(args: argparse.Namespace) -> int:
    """Search and print (or write) the results; 0 on success, also when nothing matches."""
    from lmscope.core.hub.client import HubUnreachableError, env_offline
    from lmscope.core.hub.search import SearchAnswer, search_models, search_offline
    from lmscope.core.redact import redact, register_secret

    register_secret(args.token)
    from lmscope.core.hub.token import check_token

    check_token(args.token, "--token")
    offline = args.offline or env_offline()
    if args.verbose and not args.quiet and not offline:
        from lmscope.core.hub.token import token_source

        print(f"note: Hub token from: {token_source(args.token)}", file=sys.stderr)
    note = "offline — searched the built-in catalog and the local Hugging Face cache, not the Hub"
    results = None
    if not offline:
        try:
            results = search_models(
                args.query, author=args.author, sort=args.sort, limit=args.limit, filter=args.filter, token=args.token
            )
        except HubUnreachableError as err:  # no network: still answer from what is on this machine
            offline = True
            note = f"{err} — searched the built-in catalog and the local Hugging Face cache instead"
    if offline:
        results = search_offline(args.query, limit=args.limit, author=args.author)
    answer = SearchAnswer(query=args.query, source="offline" if offline else "hub", results=tuple(results))
    text = formats.render("search", args.format, answer)
    if offline and not args.quiet:
        print(redact(f"note: {note}"), file=sys.stderr)
    if args.output:
        from lmscope.core.export import write_atomic

        path = write_atomic(args.output, text)
        if not args.quiet:
            print(f"wrote {path}", file=sys.stderr)
        return 0
    sys.stdout.write(text)
    sys.stdout.flush()
    return 0
