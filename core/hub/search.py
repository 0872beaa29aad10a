"""Search the Hugging Face Hub (or, offline, the built-in catalog and the local cache).

One ``GET /api/models`` request with ``expand`` asks for exactly the fields a
results table needs — downloads, likes, licence, gating, last change and the
Hub's safetensors parameter total — so no per-model follow-up requests are
made. Offline, the same :class:`SearchResult` rows come from the catalog shipped
inside lmscope and the repos already in the HF cache.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from typing import Any

from lmscope.core.errors import HubError, UsageError
from lmscope.core.hub.client import call, hf, hub_settings, token_arg
from lmscope.core.hub.info import iso_time, license_of
from lmscope.core.hub.token import resolve_token
from lmscope.core.redact import shown

SORTS = {"downloads": "downloads", "likes": "likes", "modified": "lastModified"}
DEFAULT_FILTER = "text-generation"
NO_FILTER = ("", "all", "any", "*", "none")
MAX_LIMIT = 1000
EXPAND = [
    "author",
    "downloads",
    "likes",
    "lastModified",
    "gated",
    "private",
    "tags",
    "pipeline_tag",
    "library_name",
    "safetensors",
    "cardData",
]


@dataclass(frozen=True)
class SearchResult:
    """One model found: what a results table shows. ``source``: "hub", "catalog" or "cache"."""

    model_id: str
    downloads: int | None = None
    likes: int | None = None
    parameters: int | None = None  # the Hub's safetensors total, when it has one
    license: str | None = None
    gated: str | bool | None = None
    last_modified: str | None = None  # ISO 8601
    pipeline_tag: str | None = None
    library_name: str | None = None
    source: str = "hub"

    @property
    def id(self) -> str:  # noqa: A003 - the Hub's name for it
        return self.model_id

    def to_dict(self) -> dict:
        """JSON-ready dict (``id`` first)."""
        data = asdict(self)
        return {"id": data.pop("model_id"), **data}


@dataclass(frozen=True)
class SearchAnswer:
    """What one search found: the query, where it looked (``source``: "hub" or "offline") and the results.

    The subject every search renderer takes (``core.formats`` view "search"), so the CLI and the
    app's export write the same document for the same answer.
    """

    query: str
    source: str
    results: tuple[SearchResult, ...]

    def to_dict(self) -> dict:
        """``{"schema_version", "query", "source", "results": [...]}`` (CLI ``--format json``)."""
        return {"schema_version": 1, "query": self.query, "source": self.source,
                "results": [r.to_dict() for r in self.results]}


def result_from_info(info: Any) -> SearchResult:
    """A :class:`SearchResult` from a ``huggingface_hub`` ``ModelInfo``."""
    st = getattr(info, "safetensors", None)
    total = getattr(st, "total", None) if st is not None else None
    return SearchResult(
        model_id=info.id,
        downloads=getattr(info, "downloads", None),
        likes=getattr(info, "likes", None),
        parameters=int(total) if total is not None else None,
        license=license_of(getattr(info, "tags", None), getattr(info, "card_data", None)),
        gated=getattr(info, "gated", None),
        last_modified=iso_time(getattr(info, "last_modified", None)),
        pipeline_tag=getattr(info, "pipeline_tag", None),
        library_name=getattr(info, "library_name", None),
        source="hub",
    )


def _check(sort: str, limit: int) -> None:
    if sort not in SORTS:
        raise UsageError(f"--sort must be one of {', '.join(SORTS)} (got '{shown(sort, 40)}')")
    if not 1 <= int(limit) <= MAX_LIMIT:
        raise UsageError(f"--limit must be between 1 and {MAX_LIMIT} (got {limit})")


def search_models(
    query: str,
    *,
    author: str | None = None,
    sort: str = "downloads",
    limit: int = 20,
    filter: str | None = None,  # noqa: A002 - the Hub's name
    token: str | None = None,
) -> list[SearchResult]:
    """Models on the Hub matching ``query``, most downloaded (or liked, or recently modified) first.

    ``filter`` is a tag or pipeline (default ``text-generation``; "all" for none).
    Raises one-line ``HubError`` subclasses on failure.
    """
    _check(sort, limit)
    settings = hub_settings()
    token = resolve_token(token)
    if settings.offline:
        from lmscope.core.hub.client import HubUnreachableError

        raise HubUnreachableError("offline mode (--offline or HF_HUB_OFFLINE=1): cannot search the Hub")
    wanted = DEFAULT_FILTER if filter is None else filter
    tag = None if wanted.strip().lower() in NO_FILTER else wanted.strip()
    params: dict = {"sort": SORTS[sort], "limit": int(limit), "expand": EXPAND}
    if query:
        params["search"] = query
    if author:
        params["author"] = author
    if tag:
        params["filter"] = [tag]
    infos = call(
        lambda: _list_models_page(settings.endpoint, params, token, settings.timeout),
        what=f"the search for '{shown(query, 80)}'",
        settings=settings,
        token=token,
    )
    return [result_from_info(i) for i in infos]


def _list_models_page(endpoint: str, params: dict, token: str | None, timeout: float) -> list:
    """One page of ``GET /api/models`` through huggingface_hub's session, parsed into ``ModelInfo``.

    ``HfApi.list_models`` would do the same request, but through a pager that
    retries connection errors and 429s on its own (up to ~23 s, or
    ``Retry-After + 1`` s per try) with no timeout; here :func:`call` owns the
    retry budget, so a refused connection fails at once and a slow Hub times out.
    """
    hub = hf()
    from huggingface_hub.hf_api import ModelInfo

    response = hub.utils.get_session().get(
        f"{endpoint}/api/models",
        params=params,
        headers=hub.utils.build_hf_headers(token=token_arg(token), library_name="lmscope"),
        timeout=timeout,
    )
    hub.utils.hf_raise_for_status(response)
    items = response.json()
    if not isinstance(items, list):
        raise HubError("the Hub answered the search with something that is not a list of models")
    return [ModelInfo(**{"siblings": None, **item}) for item in items if isinstance(item, dict) and "id" in item]


def cached_repo_ids(cache_dir: str | None = None) -> list[str]:
    """Model repo ids present in the local HF cache (folder names only; nothing opened)."""
    folder = cache_dir or hub_settings().cache_dir
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    out = []
    for name in names:
        if name.startswith("models--"):
            parts = name[len("models--") :].split("--")
            out.append("/".join(parts))
    return sorted(out)


def offline_parameters(model_id: str) -> int | None:
    """Analytic parameter total of a catalog or cached model (None when it cannot be parsed).

    The same figure for the app's search table and ``search --format json``
    (a few ms per model: configs only).
    """
    try:
        from lmscope.core.params import count_parameters
        from lmscope.core.parse import architecture_from_config
        from lmscope.core.sources.resolve import resolve

        source = resolve(model_id, offline=True)
        if source.architecture is not None:
            return count_parameters(source.architecture).total
        return count_parameters(architecture_from_config(source.files)).total
    except Exception:  # noqa: BLE001 - a listing shows "—" rather than failing
        return None


def search_offline(query: str, *, limit: int = 20, author: str | None = None) -> list[SearchResult]:
    """Matches for ``query`` in the built-in catalog and the local HF cache (no network), with parameter counts."""
    if not 1 <= int(limit) <= MAX_LIMIT:
        raise UsageError(f"--limit must be between 1 and {MAX_LIMIT} (got {limit})")
    words = [w for w in (query or "").lower().split() if w]

    def match(model_id: str) -> bool:
        low = model_id.lower()
        if author and not low.startswith(author.lower() + "/"):
            return False
        return all(w in low for w in words)

    seen: set[str] = set()
    out: list[SearchResult] = []
    try:
        from lmscope.core.sources.catalog import list_catalog

        entries = list_catalog()
    except Exception:  # noqa: BLE001 - no catalog yet (or a broken one): search the cache only
        entries = []
    for entry in entries:
        model_id = getattr(entry, "model_id", None) or getattr(entry, "id", None)
        if model_id and model_id not in seen and match(model_id):
            seen.add(model_id)
            out.append(SearchResult(model_id=model_id, source="catalog"))
    for model_id in cached_repo_ids():
        if model_id not in seen and match(model_id):
            seen.add(model_id)
            out.append(SearchResult(model_id=model_id, source="cache"))
    return [replace(r, parameters=offline_parameters(r.model_id)) for r in out[: int(limit)]]
