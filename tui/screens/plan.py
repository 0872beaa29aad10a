"""Plan: will the model run on these GPUs, at what context and batch, how fast, and how to serve it.

The same sliders as Memory & FLOPs (sequence length, batch, dtypes, mode —
the app's settings, shared) plus the hardware: GPU (the local GPUs first,
detected in a worker the first time this screen opens, never at start-up),
count, tensor / pipeline / expert parallelism, and in training modes ZeRO,
optimizer, recomputation and the LoRA rank and targets. Every figure is
``core.plan.make_plan``'s (run in a thread worker; it takes milliseconds),
shown as ``lmscope plan`` prints it: the verdict, per-GPU memory by
component with exact bytes, the solved largest context and batch, the
roofline, vLLM's start-up accounting, the GPU/CPU split when it does not fit,
and the serving commands (``y`` copies the first). The screen formats the
plan's numbers; it computes none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from lmscope.core.units import exact_count, human_bytes, human_seconds
from lmscope.tui.messages import DeploymentChanged, PlanReady
from lmscope.tui.screens.sliders import SlidersScreen, page_bindings
from lmscope.tui.widgets.number_table import NumberTable
from lmscope.tui.widgets.scenario_bar import Hardware, ScenarioBar
from lmscope.tui.widgets.settings_bar import SettingsBar

if TYPE_CHECKING:  # pragma: no cover
    from lmscope.core.architecture import Architecture
    from lmscope.core.hardware import Accelerator, LocalGPU
    from lmscope.core.plan import Plan
    from lmscope.core.report.schema import JSONObject
    from lmscope.core.results import Settings
    from lmscope.tui.state import Deployment, LoadedModel

    # what a plan answers for: model, its count's marker, settings, hardware, the detected GPUs
    PlanKey = tuple[str, str, Settings, Deployment, tuple[LocalGPU, ...] | None]

WIDE = 110  # from this width the sections stand in two columns
COMMAND_KEYS = ("vllm", "sglang", "llama_cpp")

# (plan.memory key, row label, shown in inference, shown in training modes)
MEMORY_ROWS: tuple[tuple[str, str, bool, bool], ...] = (
    ("weights_bytes", "weights", True, True),
    ("kv_cache_bytes", "KV cache", True, False),
    ("state_bytes", "state (SSM/linear)", True, False),
    ("activation_bytes", "activations", True, True),
    ("gradients_bytes", "gradients", False, True),
    ("optimizer_bytes", "optimizer states", False, True),
    ("adapter_bytes", "LoRA adapters", False, True),
    ("overhead_bytes", "framework overhead", True, True),
)


class PlanScreen(SlidersScreen):
    """The main model planned on the app's hardware (``app.deployment``) under the app's settings."""

    MODE = "plan"
    VIEW_NAME = "plan"
    HELP = "Does it fit these GPUs, at what context and batch, how fast, how to serve it (lmscope plan)."
    SCENARIO = True
    FIRST_FOCUS = "#gpu"
    BINDINGS = [
        Binding("g", "focus_gpu", "GPU", show=False, id="plan.gpu"),
        Binding("y", "copy_command", "Copy command", id="plan.copy_command"),
        Binding("s", "type_seq_len", "Type seq len", show=False, id="plan.type_seq_len"),
        *page_bindings("plan"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.current_plan: Plan | None = None  # the core Plan on screen (tests read it)
        self.plan_error: str | None = None
        self._want: PlanKey | None = None  # the request the screen waits for
        self._shown: PlanKey | None = None  # the request on screen

    def compose_body(self) -> ComposeResult:
        yield from self.compose_bars()
        with VerticalScroll(id="plan-body"):
            yield Static(id="plan-verdict")
            yield Static(id="plan-sections")

    def on_resize(self) -> None:
        wide = self.size.width >= WIDE
        if wide != self.has_class("wide"):
            self.set_class(wide, "wide")
            self._draw()

    # --- input -----------------------------------------------------------------------
    def on_deployment_changed(self, event: DeploymentChanged) -> None:
        event.stop()
        self.lm.set_deployment(event.deployment)

    def action_focus_gpu(self) -> None:
        self.query_one("#gpu").focus()

    def scroll_target(self) -> Widget:
        return self.query_one("#plan-body")

    def action_copy_command(self) -> None:
        command = serving_command(self.current_plan.to_dict()) if self.current_plan is not None else None
        if not command:
            self.notify("no serving command for this plan", severity="warning")
            return
        self.app.copy_to_clipboard(command)
        self.notify(command, title="copied", timeout=4)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "copy_command":
            return self.current_plan is not None and bool(self.current_plan.commands)
        return True

    # --- state -> plan ------------------------------------------------------------------------
    def refresh_view(self) -> None:
        from lmscope.tui import loader

        lm = self.lm
        model = lm.main_model
        settings = lm.settings
        bar = self.query_one(SettingsBar)
        if model is not None and model.has_architecture:
            bar.follow(settings, model)
        if not lm.ensure_gpus():
            self._message(Text("Detecting the GPUs on this machine…", style="italic"))
            self.query_one(ScenarioBar).show(settings, lm.deployment)
            return
        if model is None or not model.has_architecture:
            self.query_one(ScenarioBar).show(settings, lm.deployment, self._hardware(None))
            self._message(Text(lm.status_text() if model is None else "No architecture for this file: nothing to plan."))
            return
        hardware = self._hardware(model.architecture)
        deployment = self._valid(lm.deployment, hardware)
        if deployment != lm.deployment:  # a count change left TP/PP/EP out of range: back to their defaults
            lm.deployment = deployment
        self.query_one(ScenarioBar).show(settings, deployment, hardware)
        key: PlanKey = (model.model_id, model.marker, settings, deployment, lm.local_gpus)
        if key == self._want:
            self._draw()  # same plan; the byte units (u) may have changed
            return
        self._want = key
        try:
            accelerator = loader.accelerator_for(deployment.gpu or "", lm.local_gpus or ())
        except Exception as err:  # noqa: BLE001 - shown in place
            self.post_message(PlanReady(key, None, loader.error_line(err)))
            return
        self._plan_worker(key, model, settings, deployment, accelerator)

    def _hardware(self, arch: Architecture | None) -> Hardware:
        from lmscope.core.plan.request import parallel_sizes
        from lmscope.tui import loader

        gpus = tuple(loader.gpu_choices(self.lm.local_gpus or ()))
        if arch is None:
            return Hardware(gpus=gpus)
        dep = self.lm.deployment
        experts = arch.moe.num_experts if arch.moe is not None else 0
        count = self.lm.settings.num_gpus
        tp, _, ep = parallel_sizes(arch.num_heads, len(arch.layers), experts, count, pp=dep.pp)
        _, pp, _ = parallel_sizes(arch.num_heads, len(arch.layers), experts, count, tp=dep.tp)
        return Hardware(gpus=gpus, tp=tuple(tp), pp=tuple(pp), ep=tuple(ep), moe=bool(experts))

    @staticmethod
    def _valid(dep: Deployment, hw: Hardware) -> Deployment:
        from dataclasses import replace

        return replace(
            dep,
            tp=dep.tp if dep.tp is None or dep.tp in hw.tp else None,
            pp=dep.pp if dep.pp in hw.pp else 1,
            ep=dep.ep if dep.ep in hw.ep else 1,
        )

    @work(thread=True, group="plan", exclusive=True, exit_on_error=False)
    def _plan_worker(self, key: PlanKey, model: LoadedModel, settings: Settings, deployment: Deployment,
                     accelerator: Accelerator) -> None:
        from lmscope.tui import loader

        try:
            plan = loader.plan_for(model, settings, deployment, accelerator)
        except Exception as err:  # noqa: BLE001 - a refused plan is shown, never a crash
            self.post_message(PlanReady(key, None, loader.error_line(err)))
            return
        self.post_message(PlanReady(key, plan))

    def on_plan_ready(self, message: PlanReady) -> None:
        if message.key != self._want:
            return  # an older request finished after a newer one started
        self._shown = message.key
        self.current_plan = message.plan
        self.plan_error = message.error
        self.refresh_bindings()
        self._draw()

    # --- drawing -------------------------------------------------------------------------------
    def _message(self, text: Text) -> None:
        self.current_plan = None
        self._want = self._shown = None
        self.query_one("#plan-verdict", Static).update(text)
        self.query_one("#plan-sections", Static).update("")

    def _draw(self) -> None:
        if not self.is_mounted:
            return
        verdict = self.query_one("#plan-verdict", Static)
        body = self.query_one("#plan-sections", Static)
        if self.plan_error:
            verdict.update(Text(f"Cannot plan: {self.plan_error}", style="bold red"))
            body.update("")
            return
        if self.current_plan is None:
            return
        d = self.current_plan.to_dict()
        note = None
        if self.lm.local_gpus == () and self.lm.deployment.gpu == "h100":
            note = "no local GPU detected: pick yours with the GPU slider (g)"
        verdict.update(verdict_text(d, note))
        body.update(plan_body(d, wide=self.has_class("wide")))

    EXPORT_VIEW = "plan"

    def export_subject(self) -> tuple[dict[str, object]]:
        from lmscope.core.errors import UsageError

        if self.current_plan is None:
            raise UsageError(self.plan_error or "no plan on screen: nothing to export")
        return (self.current_plan.to_dict(),)

    def export_default_name(self) -> str:
        return "lmscope-plan"


# --- the plan as renderables (formatting only: every number is the plan's) ------------------------

def verdict_text(d: JSONObject, note: str | None = None) -> Text:
    """Three lines: the verdict on the hardware, the solved limits, the decode speed."""
    s, hw, mem = d["settings"], d["hardware"], d["memory"]
    fits = d["fits"]
    text = Text()
    text.append("✔ FITS" if fits else "✘ DOES NOT FIT", style="bold green" if fits else "bold red")
    text.append(f" on {s['count']} × {hw['label']}: {human_bytes(mem['per_gpu_bytes'])} of "
                f"{human_bytes(hw['usable_bytes'])} per GPU, headroom {human_bytes(d['headroom_bytes'])}")
    limits = [
        f"max context {d['max_seq_len']:,} tokens at batch {s['batch']}" if d["max_seq_len"] else "no context fits at this batch",
        f"max batch {d['max_batch']:,} at {s['seq_len']:,} tokens" if d["max_batch"] else "no batch fits at this length",
    ]
    text.append("\n" + " · ".join(limits))
    r = d.get("roofline")
    if r and r.get("decode_tokens_per_s") is None:  # an encoder: one forward pass
        text.append(f"\nforward pass {human_seconds(r['prefill_seconds'])} ({r['prefill_bound']}-bound; an encoder has no decode step)")
    elif r:
        speed = (f"decode {r['decode_tokens_per_s']:,.1f} tokens/s ({r['bound']}-bound, intensity "
                 f"{r['decode_intensity']:,.1f} vs balance {r['machine_balance']:,.0f} FLOP/B) · "
                 f"first token {human_seconds(r['ttft_seconds'])}")
        text.append("\n" + speed + ("" if fits else " (were it to fit)"), style="" if fits else "dim")
    if note:
        text.append("\n" + note, style="italic yellow")
    return text


def memory_table(d: JSONObject) -> NumberTable:
    """Per-GPU bytes by component (the plan's memory block), each human-readable and exact."""
    s, hw, mem = d["settings"], d["hardware"], d["memory"]
    inference = s["mode"] == "inference"
    table = NumberTable("memory per GPU", "bytes")
    for key, label, in_inference, in_training in MEMORY_ROWS:
        if (in_inference if inference else in_training) and (mem[key] or key in ("weights_bytes", "activation_bytes")):
            table.add_row(label, human_bytes(mem[key]), exact_count(mem[key]))
    table.add_row(Text("per GPU", style="bold"), Text(human_bytes(mem["per_gpu_bytes"]), style="bold"), exact_count(mem["per_gpu_bytes"]))
    table.add_row("GPU memory usable", human_bytes(hw["usable_bytes"]), exact_count(hw["usable_bytes"]))
    style = "bold green" if d["fits"] else "bold red"
    table.add_row(Text("headroom", style=style), Text(human_bytes(d["headroom_bytes"]), style=style), exact_count(d["headroom_bytes"]))
    return table


def section_table(title: str, rows: list[tuple[str, str]]) -> Table:
    from rich import box

    table = Table(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD, expand=True,
                  show_header=False, padding=(0, 1))
    table.add_column("what", style="dim", no_wrap=True)
    table.add_column("value", overflow="fold")
    for label, value in rows:
        table.add_row(label, value)
    return table


def plan_body(d: JSONObject, *, wide: bool) -> Group:
    """Memory, the CLI's sections (roofline, vLLM accounting, split, training, commands), assumptions."""
    from lmscope.core.plan.render import plan_lines

    sections = {title: rows for title, rows in plan_lines(d)}
    setup = section_table("plan", sections.pop("plan", []))
    sections.pop("memory per GPU", None)  # shown as the table with exact bytes
    commands = sections.pop("commands", None)
    left: list[RenderableType] = [memory_table(d)]
    order = sorted(sections, key=lambda t: t != "GPU/CPU split")  # when it does not fit, the split comes first
    right: list[RenderableType] = [section_table(title, sections[title]) for title in order]
    if commands:
        rows = list(commands)
        basis = d["commands"].get("basis") or []
        right.append(section_table("commands (y copies the first)", rows))
        if basis:
            right.append(Text("basis: " + "; ".join(basis), style="dim"))
    tail: list[RenderableType] = [setup, Text("assumptions", style="bold"), Text("\n".join(f"• {a}" for a in d["assumptions"]), style="dim")]
    if not wide:
        return Group(*left, *right, *tail)
    grid = Table.grid(expand=True, padding=(0, 2))
    grid.add_column()  # the memory table at its natural width (numbers never fold)
    grid.add_column(ratio=1)
    grid.add_row(Group(*left), Group(*right))
    return Group(grid, *tail)


def serving_command(d: JSONObject) -> str | None:
    """The first ready-to-paste command of a plan (vLLM when it fits, llama.cpp's split when not)."""
    commands = d.get("commands") or {}
    return next((commands[k] for k in COMMAND_KEYS if commands.get(k)), None)
