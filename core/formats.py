"""One registry of output formats: for each view (report, compare, search, weights, plan) its formats.

Why one table: the CLI's ``--format`` choices, ``--output-dir`` (a report folder)
and the app's Export dialog all read it, so a format added here is offered
everywhere, with the same file suffix, and an export from the app is byte for
byte what the CLI writes for the same view (``tests/test_formats.py``). Adding
a format is one :class:`Format` row; adding a view is one entry of :data:`VIEWS`.

Each renderer takes the view's subject as positional arguments and the
options its view knows as keywords:

* ``report``: ``(Report)``, options ``detailed``, ``width``, ``phase``, ``table``;
  folder: ``style``, ``diagram``, ``charts``, ``extra_formats``;
* ``compare``: ``(CompareReport)``, option ``width``; folder: ``style``, ``extra_formats``;
* ``search``: ``(SearchAnswer)``;
* ``weights``: ``(results, summary)``, options ``width``, ``singular_values``;
  folder: ``tokenizer_json``;
* ``plan``: ``(plan dict)`` (``Plan.to_dict()``).

Renderers are imported when called: importing this module stays cheap and UI-free.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from lmscope.core.report_folder import Folder

from lmscope.core.errors import UsageError

FOLDER = "folder"


@dataclass(frozen=True)
class Format:
    """One output format of one view.

    ``name`` is the ``--format`` value and the Export dialog's key; ``suffix``
    the file suffix a default file name gets ("" for a folder); ``label`` what
    the dialog shows; ``render`` turns the subject into text, or ``write`` (a
    report folder) writes files under a path and returns the core ``Folder``.
    """

    name: str
    suffix: str
    label: str
    render: Callable[..., str] | None = None
    write: Callable[..., Folder] | None = None

    @property
    def is_folder(self) -> bool:
        return self.write is not None


# --------------------------------------------------------------------------- renderers (lazy imports)


def _report(fmt: str) -> Callable[..., str]:
    def render(report: Any, **options: Any) -> str:
        from lmscope.core.export import render_report

        return render_report(report, fmt, **options)

    return render


def _compare(fmt: str) -> Callable[..., str]:
    def render(compare: Any, **options: Any) -> str:
        from lmscope.core.export import render_compare

        return render_compare(compare, fmt, **options)

    return render


def _report_folder(report: Any, path: str, **options: Any) -> Folder:
    from lmscope.core.report_folder import write_report_folder

    return write_report_folder(report, path, **options)


def _compare_folder(compare: Any, path: str, **options: Any) -> Folder:
    from lmscope.core.report_folder import write_compare_folder

    return write_compare_folder(compare, path, **options)


def _search(fmt: str) -> Callable[..., str]:
    def render(answer: Any, **options: Any) -> str:
        from lmscope.core import search_render

        return getattr(search_render, f"search_to_{fmt}")(answer, **options)

    return render


def _weights(fmt: str) -> Callable[..., str]:
    def render(results: Any, summary: Any, **options: Any) -> str:
        from lmscope.core.weights import report

        return getattr(report, f"to_{fmt}")(results, summary, **options)

    return render


def _weights_folder(results: Any, summary: Any, path: str, **options: Any) -> Folder:
    from lmscope.core.report_folder import write_weights_folder

    return write_weights_folder(results, summary, path, **options)


def _plan(fmt: str) -> Callable[..., str]:
    def render(plan: dict, **options: Any) -> str:
        from lmscope.core.plan.render import render_plan

        return render_plan(plan, fmt, **options)

    return render


def _text(render: Callable[..., str]) -> Format:
    return Format("text", ".txt", "Text", render=render)


def _json(render: Callable[..., str]) -> Format:
    return Format("json", ".json", "JSON", render=render)


def _markdown(render: Callable[..., str]) -> Format:
    return Format("markdown", ".md", "Markdown", render=render)


def _yaml(render: Callable[..., str]) -> Format:
    return Format("yaml", ".yaml", "YAML", render=render)


def _folder(write: Callable[..., Any]) -> Format:
    return Format(FOLDER, "", "Report folder", write=write)


VIEWS: dict[str, tuple[Format, ...]] = {
    "report": (_text(_report("text")), _json(_report("json")), _markdown(_report("markdown")), _yaml(_report("yaml")),
               _folder(_report_folder)),
    "compare": (_text(_compare("text")), _json(_compare("json")), _markdown(_compare("markdown")),
                _yaml(_compare("yaml")), _folder(_compare_folder)),
    "search": (_text(_search("text")), _json(_search("json")), _markdown(_search("markdown"))),
    "weights": (_text(_weights("text")), Format("csv", ".csv", "CSV", render=_weights("csv")),
                _json(_weights("json")), _markdown(_weights("markdown")), _folder(_weights_folder)),
    "plan": (_text(_plan("text")), _json(_plan("json")), _markdown(_plan("markdown")), _yaml(_plan("yaml"))),
}


def formats(view: str) -> tuple[Format, ...]:
    """Every format of ``view`` in the order the CLI lists them."""
    try:
        return VIEWS[view]
    except KeyError:
        raise UsageError(f"no exports for the {view!r} view") from None


def names(view: str) -> tuple[str, ...]:
    """The ``--format`` choices of ``view`` (text formats; the folder is ``--output-dir``)."""
    return tuple(f.name for f in formats(view) if not f.is_folder)


def get(view: str, name: str) -> Format:
    """The format ``name`` of ``view``; a one-line :class:`UsageError` for one it does not have."""
    for f in formats(view):
        if f.name == name:
            return f
    raise UsageError(f"the {view} view has no {name!r} format (one of {', '.join(f.name for f in formats(view))})")


def render(view: str, name: str, *subject: Any, **options: Any) -> str:
    """``subject`` of ``view`` as text in format ``name``."""
    fmt = get(view, name)
    if fmt.render is None:
        raise UsageError(f"{name} is a folder: write it with write_folder")
    return fmt.render(*subject, **options)


def write_folder(view: str, path: str, *subject: Any, **options: Any) -> Folder:
    """``subject`` of ``view`` as a report folder at ``path`` (Markdown + pictures); the core ``Folder``."""
    fmt = get(view, FOLDER)
    assert fmt.write is not None
    return fmt.write(*subject, path, **options)
