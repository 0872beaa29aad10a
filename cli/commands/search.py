"""`lmscope search QUERY`: find models on the Hub (or offline: in the catalog and the local cache).

Text output is a rich table; ``--format json`` prints one object
(``schema_version``, ``query``, ``source``, ``results[]``) for scripts. Only
wiring lives here: :mod:`lmscope.core.hub.search` does the work.
"""

from __future__ import annotations

import argparse
import io
import json
import sys

from lmscope.core.units import human_count

SCHEMA_VERSION = 1


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
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format (default text)")
    parser.add_argument("--offline", action="store_true", help="search the built-in catalog and the local cache only")
    parser.add_argument("--token", default=None, help="Hugging Face token (else HF_TOKEN, else the stored login)")
    parser.add_argument("--output", "-o", default=None, metavar="PATH", help="write to PATH (atomically) instead of stdout")
    from lmscope.main import add_units_option

    add_units_option(parser)
    parser.add_argument("--quiet", "-q", action="store_true", help="print errors only")
    parser.add_argument("--verbose", "-v", action="store_true", help="say more")


def _gated(value: object) -> str:
    if value in (None, False, "false", "False"):
        return ""
    return "gated" if value is True else f"gated ({value})"


def render_table(results: list, *, title: str) -> str:
    """The results as a rich table, rendered to text."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left", expand=False)
    if all(r.source != "hub" for r in results):  # offline: only ids and where they were found
        table.add_column("model", overflow="fold")
        table.add_column("found in")
        for r in results:
            table.add_row(r.model_id, "built-in catalog" if r.source == "catalog" else "local HF cache")
    else:
        for name, justify in (("model", "left"), ("params", "right"), ("downloads", "right"), ("likes", "right")):
            table.add_column(name, justify=justify, overflow="fold")
        for name in ("license", "gated", "modified"):
            table.add_column(name)
        for r in results:
            table.add_row(
                r.model_id,
                human_count(r.parameters),
                human_count(r.downloads),
                human_count(r.likes),
                r.license or "",
                _gated(r.gated),
                (r.last_modified or "")[:10],
            )
    buffer = io.StringIO()
    Console(file=buffer, width=120, no_color=True, highlight=False).print(table)
    return buffer.getvalue()


def run(args: argparse.Namespace) -> int:
    """Search and print (or write) the results; 0 on success, also when nothing matches."""
    from lmscope.core.hub.client import HubUnreachableError, env_offline
    from lmscope.core.hub.search import search_models, search_offline
    from lmscope.core.redact import redact, register_secret, shown

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
        source = "offline"
        title = f"offline: {len(results)} match(es) for '{shown(args.query, 80)}'"
    else:
        source = "hub"
        title = f"{len(results)} model(s) on the Hub for '{shown(args.query, 80)}'"
    if args.format == "json":
        doc = {
            "schema_version": SCHEMA_VERSION,
            "query": args.query,
            "source": source,
            "results": [r.to_dict() for r in results],
        }
        text = json.dumps(doc, indent=2) + "\n"
    else:
        text = render_table(results, title=title) if results else title + "\n"
    text = redact(text)
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
