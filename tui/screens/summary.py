"""Summary: what the model is, at a glance.

Identity and family, objective, the architecture facts that decide memory and
speed (heads, KV heads, head dim, MoE, MLA, SSM, RoPE), a per-layer map of
layer kinds, tokenizer, quantization, capabilities, Hub metadata and the
engine's notes (what was assumed, which engine counted the parameters). It is
a read-only view of the core ``Report``; all numbers come from it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Static

from lmscope.core.units import exact_count, human_bytes, human_count
from lmscope.tui.screens.base import LmscopeScreen
from lmscope.tui.widgets.facts import Fact, facts_table, rows_of

if TYPE_CHECKING:  # pragma: no cover
    from lmscope.core.architecture import Architecture
    from lmscope.core.report import Report
    from lmscope.core.results import ParameterBreakdown
    from lmscope.core.sources.base import ModelSource
    from lmscope.tui.state import LoadedModel


class SummaryScreen(LmscopeScreen):
    """The main model's report, section by section."""

    MODE = "summary"
    VIEW_NAME = "summary"
    HELP = "What the model is: identity, architecture, the layer map, tokenizer, quantization, capabilities."
    BINDINGS = [
        Binding("r", "reload", "Reload", id="summary.reload"),
    ]

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="summary-body", can_focus=True):
            with Horizontal(id="summary-columns"):
                with Vertical(id="summary-left", classes="summary-column"):
                    yield Static(id="summary-identity", classes="section")
                    yield Static(id="summary-layers", classes="section")
                    yield Static(id="summary-arch", classes="section")
                with Vertical(id="summary-right", classes="summary-column"):
                    yield Static(id="summary-tokenizer", classes="section")
                    yield Static(id="summary-quant", classes="section")
                    yield Static(id="summary-capabilities", classes="section")
                    yield Static(id="summary-metadata", classes="section")
                    yield Static(id="summary-notes", classes="section")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#summary-body").focus()

    def on_resize(self) -> None:
        narrow = self.size.width < 110
        if narrow != self.has_class("narrow"):
            self.set_class(narrow, "narrow")
            self.sync(force=True)

    def action_reload(self) -> None:
        model = self.lm.main_model
        if model is not None:
            self.lm.open_model(model.spec, slot=0)

    def refresh_view(self) -> None:
        model = self.lm.main_model
        identity = self.query_one("#summary-identity", Static)
        if model is None:
            identity.update(self.lm.status_text())
            for static in self.query(".section").results(Static):
                if static is not identity:
                    static.update("")
            return
        report = model.report
        arch = model.architecture
        params = model.params
        width = max(40, (self.size.width if self.has_class("narrow") else self.size.width // 2) - 4)
        if arch is None or params is None:
            rows: list[Fact] = [("model", model.model_id), ("source", _source_text(report.source))]
            if params is not None:
                rows.append(("parameters", _params_text(model, params)))
            elif report.stored is not None:
                rows.append(("parameters", f"{exact_count(report.stored.total_params)} [stored tensors]"))
            identity.update(facts_table("Model", rows + rows_of(report.source.file_facts)))
            why = ("No architecture: the analytic engine cannot read this config (see the notes); the exact count and the stored tensors are shown."
                   if report.source.files.config else "No architecture: the file carries no config, so only what it describes is shown.")
            self.query_one("#summary-layers", Static).update(Text(why, style="yellow"))
            for name in ("arch", "tokenizer", "quant", "capabilities", "metadata"):
                self.query_one(f"#summary-{name}", Static).update("")
            self.query_one("#summary-notes", Static).update(facts_table("Notes", [("•", n) for n in report.notes], empty="none"))
            return

        identity_rows: list[Fact] = [
            ("model", Text(model.model_id, style="bold")),
            ("source", _source_text(report.source)),
            ("family", arch.family),
            ("model type", arch.model_type),
            ("class", arch.architecture_class),
            ("objective", arch.objective),
            *_lineage_rows(report),
            ("parameters", _params_text(model, params)),
            ("active / token", f"{human_count(params.active_per_token)} ({exact_count(params.active_per_token)})"),
            ("checkpoint dtype", model.checkpoint_dtype),
        ]
        if report.stored is not None:
            identity_rows.append(("stored", f"{exact_count(report.stored.total_params)} elements, {human_bytes(report.stored.total_bytes)} ({report.stored.source})"))
        check = report.stored_check
        if check is not None and check.difference:
            identity_rows.append(("stored − class", f"{check.difference:+,} elements" + (f" ({'; '.join(check.explanations)})" if check.explanations else "")))
        if report.source.file_facts:
            identity_rows.extend(rows_of(report.source.file_facts))
        identity.update(facts_table("Model", identity_rows))

        from lmscope.tui.widgets.layer_map import layer_map

        self.query_one("#summary-layers", Static).update(Group(Text("Layers", style="bold"), layer_map(arch, width)))

        arch_rows: list[Fact] = [
            ("hidden size", arch.hidden_size),
            ("layers", arch.num_layers),
            ("attention", f"{arch.num_heads} heads, {arch.num_kv_heads} KV heads, head dim {arch.head_dim}"),
            ("FFN", f"{arch.intermediate_size:,} ({'gated ' if arch.gated_ffn else ''}{arch.activation})" if arch.intermediate_size else "no dense FFN layers"),
            ("vocab", arch.vocab_size),
            ("context", _context_text(report, arch)),
            ("positions", arch.position_encoding),
            ("norm", arch.norm),
            ("tied embeddings", arch.tied_embeddings),
            ("sliding window", arch.sliding_window),
        ]
        if arch.rope is not None:
            arch_rows.append(("RoPE", arch.rope))
        if arch.moe is not None:
            arch_rows.append(("MoE", arch.moe))
        if arch.mla is not None:
            arch_rows.append(("MLA", arch.mla))
        if arch.ssm is not None:
            arch_rows.append(("SSM", arch.ssm))
        if arch.vision is not None:
            arch_rows.append(("vision tower", arch.vision))
        if arch.num_mtp_layers:
            arch_rows.append(("MTP layers", f"{arch.num_mtp_layers} (shipped, not in the class)"))
        self.query_one("#summary-arch", Static).update(facts_table("Architecture", [(n, v) for n, v in arch_rows if v is not None]))

        self.query_one("#summary-tokenizer", Static).update(
            facts_table("Tokenizer", rows_of(report.tokenizer, skip=("chat_template",)) + _chat_template_row(report), empty="no tokenizer files")
        )
        named = report.name_quantization
        quant_rows = rows_of(report.quantization or arch.quantization)
        if not quant_rows and named is not None:
            quant_rows = [("method", f"{named.method or '—'} (from the name)"), ("bits", f"{named.bits:g} (from the name)" if named.bits else None)]
        self.query_one("#summary-quant", Static).update(facts_table("Quantization", quant_rows, empty="not quantized"))
        self.query_one("#summary-capabilities", Static).update(facts_table("Capabilities", rows_of(report.capabilities)))
        self.query_one("#summary-metadata", Static).update(
            facts_table("Hub metadata", rows_of(report.source.metadata, skip=("files", "tags", "safetensors_params_by_dtype")), empty="none (offline, catalog or local source)")
        )
        from lmscope.tui.loader import report_at

        notes = list(report_at(model, self.lm.settings).notes)  # at the current settings (a length past the context)
        analytic = model.analytic
        if model.exact_state == "exact":
            notes.insert(0, "parameters confirmed by the exact engine (meta-device instantiation)" if model.marker == "exact ✓" or analytic is None
                         else f"exact engine corrected the analytic count ({exact_count(analytic.total)})")
        elif model.exact_reason:
            notes.insert(0, model.exact_reason)
        elif model.exact_state == "pending":
            notes.insert(0, "analytic engine; the exact engine is counting…")
        self.query_one("#summary-notes", Static).update(facts_table("Notes", [("•", n) for n in notes], empty="none"))

    EXPORT_VIEW = "report"
    FOLDER_PICTURES = "the architecture diagram"

    def export_subject(self) -> tuple[Report]:
        return (self.lm.main_report(),)

    def export_folder_options(self) -> dict[str, object]:
        return {"diagram": True, "charts": False}


def _params_text(model: LoadedModel, params: ParameterBreakdown) -> Text:
    text = Text(f"{human_count(params.total)} ({exact_count(params.total)}) ")
    marker = model.marker
    text.append(f"[{marker}]", style="green" if marker.startswith("exact") else "yellow")
    return text


def _lineage_rows(report: Report) -> list[Fact]:
    """Generation and training stage (core/lineage.py), each with where it came from."""
    lineage = report.lineage
    if lineage is None:
        return []
    rows: list[Fact] = []
    if lineage.generation:
        rows.append(("generation", f"{lineage.generation} (from the {'id' if 'name' in (lineage.generation_source or '') else 'config'})"))
    if lineage.stage:
        rows.append(("training stage", f"{lineage.stage} (from the {lineage.stage_source})"))
    return rows


def _context_text(report: Report, arch: Architecture) -> str | int | None:
    """The usable context (capabilities), saying so when it comes from the tokenizer or a default."""
    caps = report.capabilities
    length = (caps.max_context_length if caps is not None else None) or arch.max_position_embeddings
    source = caps.context_length_source if caps is not None else None
    if length and source in ("tokenizer model_max_length", "transformers config default"):
        return f"{length:,} (from the {source})"
    return length


def _chat_template_row(report: Report) -> list[Fact]:
    tok = report.tokenizer
    template = tok.chat_template if tok is not None else None
    if template is None:
        return []
    if isinstance(template, bool):
        return [("chat template", template)]
    return [("chat template", f"yes ({len(str(template)):,} characters)")]


def _source_text(source: ModelSource) -> str:
    """Where the model came from; the catalog's folder is inside the package, so not shown."""
    if source.kind == "catalog":
        return "built-in catalog (no network)"
    where = f" — {source.location}" if source.location else ""
    revision = f" @ {source.revision[:12]}" if source.revision else ""
    return f"{source.kind}{revision}{where}"
