"""Architecture diagrams: embedding → blocks → head, as SVG (no dependency) and PNG.

The layout is computed once, here, into plain shapes (:class:`Diagram`: boxes,
text, arrows in pixel units) from the :class:`Architecture` — its per-layer
list says what every layer really is — and the analytic parameter count per
layer kind (:func:`lmscope.core.params.layer_parameters`). Two writers draw
the same shapes: :func:`to_svg` writes SVG by hand (real ``<text>``
elements, searchable and selectable, no matplotlib needed), :func:`to_png`
draws them with matplotlib's Agg backend (the optional ``plots`` extra), so the
PNG and the SVG never disagree.

Two styles (seed 000's ``--viz-style``):

* ``simple``: input → embedding → one block box ("× N") listing the layer
  kinds it mixes → final norm → head, with a key-figures panel;
* ``detailed``: one card per distinct layer kind — its token mixer (full,
  sliding with the window, chunked, MLA, Gated-DeltaNet, Mamba/Mamba-2, short
  convolution) and its channel mixer (dense FFN or MoE with experts, top-k,
  shared) with sizes and parameters per layer, "×23" for the repeats — plus a
  layer map (one cell per layer, in order) and the vision tower or the
  encoder beside the stack where the model has one.

Text widths are estimated (DejaVu Sans averages ≈ 0.6 em per character); boxes
are sized from the longest line so nothing is cut at any zoom.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from lmscope.core.architecture import FFN, Architecture, LayerSpec, Mixer
from lmscope.core.units import human_bytes, human_count

STYLES = ("simple", "detailed")
FONT = "DejaVu Sans, Verdana, Arial, Helvetica, sans-serif"
CHAR_EM = 0.62  # average advance of DejaVu Sans per character, in em (a little generous)
INK = "#111111"
MUTED = "#455A64"

# (fill, stroke) per block kind: light fills and dark ink, legible on the white panel.
COLOURS: dict[str, tuple[str, str]] = {
    "full": ("#DCEBFA", "#1F5FA8"),
    "sliding": ("#E3F2E1", "#2E7D32"),
    "chunked": ("#DDF3F0", "#00695C"),
    "mla": ("#EDE7F6", "#5E35B1"),
    "linear": ("#FFF0DC", "#C25100"),
    "mamba": ("#F3E5F5", "#7B1FA2"),
    "mamba2": ("#F3E5F5", "#7B1FA2"),
    "conv": ("#EFEBE9", "#5D4037"),
    "none": ("#F5F5F5", "#757575"),
    "dense": ("#FFF8E1", "#8D6E00"),
    "moe": ("#FFEBEE", "#C62828"),
    "io": ("#ECEFF1", "#37474F"),
    "vision": ("#E8EAF6", "#283593"),
    "encoder": ("#E0F7FA", "#00838F"),
    "panel": ("#FAFAFA", "#90A4AE"),
    "group": ("#FFFFFF", "#607D8B"),
}


# --------------------------------------------------------------------------- shapes


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    fill: str
    stroke: str
    radius: float = 6.0
    dashed: bool = False
    width: float = 1.5


@dataclass(frozen=True)
class Text:
    x: float
    y: float  # baseline
    text: str
    size: float = 12.0
    bold: bool = False
    anchor: str = "start"  # start | middle | end
    colour: str = INK


@dataclass(frozen=True)
class Arrow:
    points: tuple[tuple[float, float], ...]  # a polyline; the head is at the last point
    colour: str = "#455A64"


@dataclass(frozen=True)
class Diagram:
    """A finished layout in pixels; both writers draw exactly these shapes."""

    width: float
    height: float
    title: str
    rects: tuple[Rect, ...]
    texts: tuple[Text, ...]
    arrows: tuple[Arrow, ...]

    def all_text(self) -> str:
        """Every text element, one per line (tests and search read it)."""
        return "\n".join(t.text for t in self.texts)


@dataclass
class _Canvas:
    rects: list[Rect] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)
    arrows: list[Arrow] = field(default_factory=list)

    def box(self, x: float, y: float, w: float, title: str, lines: list[str], kind: str, *, size: float = 12.0,
            title_size: float = 13.0, dashed: bool = False) -> float:
        """A rounded box with a bold title and detail lines; returns its height."""
        h = _box_height(lines, size, title_size, bool(title))
        fill, stroke = COLOURS[kind]
        self.rects.append(Rect(x, y, w, h, fill, stroke, dashed=dashed))
        cy = y + 8
        if title:
            cy += title_size
            self.texts.append(Text(x + 10, cy, title, title_size, True, colour=INK))
            cy += 4
        for line in lines:
            cy += size + 4
            self.texts.append(Text(x + 10, cy, line, size, colour=MUTED if line.startswith("  ") else INK))
        return h

    def pill(self, x: float, y: float, w: float, text: str) -> float:
        stroke = COLOURS["io"][1]
        self.rects.append(Rect(x, y, w, 26, "#FFFFFF", stroke, radius=13))
        self.texts.append(Text(x + w / 2, y + 17.5, text, 12, anchor="middle", colour=INK))
        return 26.0

    def arrow(self, *points: tuple[float, float]) -> None:
        self.arrows.append(Arrow(tuple(points)))


def _box_height(lines: list[str], size: float, title_size: float, titled: bool) -> float:
    return 8 + (title_size + 4 if titled else 0) + len(lines) * (size + 4) + 10


def text_width(text: str, size: float) -> float:
    """Estimated width of ``text`` at ``size`` px in DejaVu Sans."""
    return len(text) * size * CHAR_EM


def _fit(width: float, lines: list[str], size: float, title: str = "", title_size: float = 13.0) -> float:
    need = max([text_width(s, size) for s in lines] + [text_width(title, title_size) * 1.04 if title else 0.0])
    return max(width, need + 22)


# --------------------------------------------------------------------------- words


def mixer_name(layer: LayerSpec) -> str:
    """The token mixer of a layer in a few words (the name every picture and legend uses)."""
    m = layer.mixer
    if m is Mixer.FULL:
        return "full attention"
    if m is Mixer.SLIDING:
        return f"sliding-window attention (window {layer.window:,})" if layer.window else "sliding-window attention"
    if m is Mixer.CHUNKED:
        return f"chunked attention (chunk {layer.window:,})" if layer.window else "chunked attention"
    if m is Mixer.MLA:
        return "multi-head latent attention (MLA)"
    if m is Mixer.LINEAR:
        return "linear attention (Gated DeltaNet)"
    if m is Mixer.MAMBA:
        return "Mamba (selective SSM)"
    if m is Mixer.MAMBA2:
        return "Mamba-2 (SSD)"
    if m is Mixer.CONV:
        return "short convolution (gated)"
    return "mixer replaced by a linear layer" if layer.linear_mixer else "no token mixer"


def ffn_name(arch: Architecture, layer: LayerSpec) -> str:
    """The channel mixer of a layer in a few words."""
    if layer.ffn is FFN.MOE and arch.moe is not None:
        moe = arch.moe
        shared = f", {moe.num_shared_experts} shared" if moe.num_shared_experts else ""
        return f"MoE: {moe.num_experts} experts, top-{moe.experts_per_token}{shared}"
    if layer.ffn is FFN.DENSE:
        return f"dense FFN ({_activation(arch)})"
    return "FFN replaced by a linear layer" if layer.linear_ffn else "no FFN"


def _activation(arch: Architecture) -> str:
    act = (arch.activation or "").lower()
    if arch.gated_ffn:
        if "silu" in act or "swish" in act:
            return "SwiGLU"
        if "gelu" in act:
            return "GeGLU"
        return f"gated {act or 'MLP'}"
    return f"MLP, {act}" if act else "MLP"


def _attention_kind(arch: Architecture, kv_heads: int) -> str:
    if kv_heads == 1:
        return "MQA"
    if kv_heads == arch.num_heads:
        return "MHA"
    return "GQA"


def mixer_lines(arch: Architecture, layer: LayerSpec) -> list[str]:
    """Sizes of a layer's token mixer."""
    m = layer.mixer
    if m in (Mixer.FULL, Mixer.SLIDING, Mixer.CHUNKED):
        kv = layer.num_kv_heads or arch.num_kv_heads
        lines = [f"{_attention_kind(arch, kv)}: {arch.num_heads} query heads · {kv} KV heads · head dim {arch.head_dim}"]
        extras = [w for w, on in (("QK-norm", arch.qk_norm), ("output gate", arch.attention_output_gate), ("sinks", arch.attention_sinks)) if on]
        if extras:
            lines.append("  " + " · ".join(extras))
        return lines
    if m is Mixer.MLA and arch.mla is not None:
        mla = arch.mla
        q = f"q rank {mla.q_lora_rank}" if mla.q_lora_rank else "q full rank"
        return [f"{arch.num_heads} heads · KV latent {mla.kv_lora_rank} + rope {mla.qk_rope_head_dim}",
                f"  {q} · qk {mla.qk_nope_head_dim}+{mla.qk_rope_head_dim} · v {mla.v_head_dim}"]
    s = arch.ssm
    if s is None:
        return []
    if m is Mixer.LINEAR:
        return [f"{s.num_key_heads} key heads × {s.key_head_dim} · {s.num_value_heads} value heads × {s.value_head_dim}",
                f"  conv kernel {s.conv_kernel} · fixed state, no KV cache"]
    if m is Mixer.MAMBA:
        return [f"inner {s.intermediate_size:,} · state {s.state_size} · conv {s.conv_kernel}", "  fixed state, no KV cache"]
    if m is Mixer.MAMBA2:
        return [f"inner {s.intermediate_size:,} · {s.num_heads} heads × {s.head_dim} · state {s.state_size}",
                f"  {s.n_groups} groups · conv {s.conv_kernel} · fixed state, no KV cache"]
    if m is Mixer.CONV:
        return [f"kernel {s.conv_kernel} · width {arch.hidden_size:,}"]
    return []


def ffn_lines(arch: Architecture, layer: LayerSpec) -> list[str]:
    """Sizes of a layer's channel mixer."""
    h = arch.hidden_size
    if layer.ffn is FFN.MOE and arch.moe is not None:
        moe = arch.moe
        lines = [f"expert {h:,} → {moe.expert_intermediate_size:,} → {h:,} · router {h:,} → {moe.num_experts}"]
        if moe.num_shared_experts:
            shared = moe.shared_expert_intermediate_size or moe.expert_intermediate_size * moe.num_shared_experts
            lines.append(f"  shared {h:,} → {shared:,} → {h:,}")
        return lines
    if layer.ffn is FFN.DENSE:
        inter = layer.intermediate_size or arch.intermediate_size
        return [f"{h:,} → {inter:,} → {h:,}"]
    return []


def layer_groups(arch: Architecture) -> list[tuple[LayerSpec, list[int]]]:
    """Distinct layer kinds in order of first appearance, each with the indices of its layers."""
    groups: dict[LayerSpec, list[int]] = {}
    for i, layer in enumerate(arch.layers):
        groups.setdefault(layer, []).append(i)
    return list(groups.items())


def _group_title(arch: Architecture, layer: LayerSpec) -> str:
    mixer = mixer_name(layer).split(" (")[0]
    ffn = ffn_name(arch, layer).split(":")[0].split(" (")[0]
    if layer.mixer is Mixer.NONE and not layer.linear_mixer:
        return ffn
    if layer.ffn is FFN.NONE and not layer.linear_ffn:
        return mixer
    return f"{mixer} + {ffn}"


def group_titles(arch: Architecture, groups: list[tuple[LayerSpec, list[int]]]) -> list[str]:
    """One title per layer kind; kinds that share a title get their distinguishing sizes (DeciLM/Nemotron-NAS)."""
    titles = [_group_title(arch, layer) for layer, _ in groups]
    out = []
    for title, (layer, _) in zip(titles, groups):
        if titles.count(title) > 1:
            extra = []
            if layer.ffn is FFN.DENSE:
                extra.append(f"FFN {layer.intermediate_size or arch.intermediate_size:,}")
            if layer.mixer.is_attention and layer.num_kv_heads:
                extra.append(f"{layer.num_kv_heads} KV heads")
            if extra:
                title += " (" + ", ".join(extra) + ")"
        out.append(title)
    return out


def _ranges(indices: list[int]) -> str:
    """[0, 1, 2, 5] → "0–2, 5" (at most six runs, then "…")."""
    runs: list[tuple[int, int]] = []
    for i in indices:
        if runs and runs[-1][1] == i - 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    text = [f"{a}" if a == b else f"{a}–{b}" for a, b in runs[:6]]
    return ", ".join(text) + (", …" if len(runs) > 6 else "")


# --------------------------------------------------------------------------- layout


def architecture_diagram(arch: Architecture, *, model_id: str, style: str = "detailed", params: Any = None,
                         estimate: Any = None) -> Diagram:
    """The diagram of ``arch`` (``params``: the ParameterBreakdown to quote; analytic when None)."""
    from lmscope.core.params import count_parameters, layer_parameters

    if style not in STYLES:
        raise ValueError(f"unknown diagram style {style!r}")
    analytic = count_parameters(arch)
    params = params or analytic
    c = _Canvas()
    h = arch.hidden_size
    is_decoder = arch.objective.value not in ("masked-lm", "embedding", "vision")
    stack_word = "Decoder" if is_decoder else "Encoder"
    if arch.encoder_layers:
        stack_word = "Decoder"

    # --- the words of every box first (widths follow the longest line)
    v = arch.vision if arch.objective.value == "vision" else None
    pixels = v is not None and bool(v.patch_size)
    if v is not None and v.patch_size:
        patches = (v.image_size // v.patch_size) ** 2 if v.image_size else 0
        emb_title = "Patch embedding"
        emb_lines = [f"image {v.image_size} px · patch {v.patch_size} → {patches:,} patches · hidden {h:,}"]
    else:
        emb_title = "Token embedding"
        emb_lines = [f"vocab {arch.vocab_size:,} × hidden {h:,}"]
    if arch.position_embeddings:
        emb_lines.append(f"  + learned positions {arch.position_embeddings:,}")
    if arch.token_type_embeddings:
        emb_lines.append(f"  + token types {arch.token_type_embeddings}")
    emb_lines.append(f"{human_count(params.by_component.get('embeddings', 0))} params")
    head_lines = [f"hidden {h:,} → vocab {arch.vocab_size:,}"]
    head_lines.append("tied to the token embedding" if arch.tied_embeddings else f"{human_count(params.by_component.get('lm_head', 0))} params")

    groups = layer_groups(arch)
    cards: list[tuple[str, list[tuple[str, list[str], str]], str]] = []  # title, [(sub title, lines, kind)], footer
    titles = group_titles(arch, groups)
    for (layer, idx), group_title in zip(groups, titles):
        subs = []
        if layer.mixer is not Mixer.NONE or layer.linear_mixer:
            lines = mixer_lines(arch, layer)
            if arch.encoder_layers and layer.mixer.is_attention:
                lines.append("  + cross-attention over the encoder output")
            subs.append((mixer_name(layer), lines, layer.mixer.value))
        if layer.ffn is not FFN.NONE or layer.linear_ffn:
            subs.append((ffn_name(arch, layer), ffn_lines(arch, layer), layer.ffn.value if layer.ffn is not FFN.NONE else "dense"))
        per = sum(layer_parameters(arch, layer).values())
        footer = f"{human_count(per)} params per layer · × {len(idx)} = {human_count(per * len(idx))} · layers {_ranges(idx)}"
        cards.append((f"× {len(idx)}   {group_title}", subs, footer))

    mixers: dict[str, int] = {}
    ffns: dict[str, int] = {}
    for layer in arch.layers:
        if layer.mixer is not Mixer.NONE or layer.linear_mixer:
            mixers[mixer_name(layer)] = mixers.get(mixer_name(layer), 0) + 1
        if layer.ffn is not FFN.NONE or layer.linear_ffn:
            ffns[ffn_name(arch, layer)] = ffns.get(ffn_name(arch, layer), 0) + 1
    simple_lines = [f"{n} × {name}" for name, n in mixers.items()] + [f"{n} × {name}" for name, n in ffns.items()]
    block_params = sum(v for k, v in params.by_component.items() if k not in ("embeddings", "lm_head", "encoder", "vision", "projector", "other"))
    simple_lines.append(f"{human_count(block_params)} params in the blocks")

    side = _side_boxes(arch, params)

    # --- widths
    both = all((layer.mixer is not Mixer.NONE or layer.linear_mixer) and (layer.ffn is not FFN.NONE or layer.linear_ffn) for layer in arch.layers)
    stack_title = f"{stack_word} layers × {len(arch.layers)}"
    stack_note = ("each layer: x + mixer(norm(x)), then x + FFN(norm(x))" if both
                  else "each layer: x + mixer(norm(x)) and/or x + FFN(norm(x)); some layers have only one")
    main_w = 470.0
    if style == "detailed":
        main_w = _fit(main_w, [stack_note], 11.5, stack_title, 13.0)
        for title, subs, footer in cards:
            main_w = max(main_w, _fit(0, [footer], 11, title, 13.0) + 24)
            for sub_title, lines, _ in subs:
                main_w = max(main_w, _fit(0, lines, 11.5, sub_title, 12.5) + 44)
    else:
        main_w = _fit(main_w, simple_lines, 12, f"{stack_word} block × {len(arch.layers)}")
    main_w = _fit(main_w, emb_lines + head_lines, 12, emb_title)
    side_w = 0.0
    for title, lines, _ in side:
        side_w = max(side_w, _fit(250, lines, 11.5, title))
    margin, gap = 24.0, 110.0
    main_x = margin + (side_w + gap if side else 0)

    # --- title
    title = model_id
    total = f"{human_count(params.total)} parameters ({params.method})"
    if params.active_per_token != params.total:
        total += f" · {human_count(params.active_per_token)} active per token"
    subtitle = f"{arch.family} · {arch.architecture_class or arch.model_type} · {total}"
    facts = f"{len(arch.layers)} layers · hidden {h:,}" + (f" · vocab {arch.vocab_size:,}" if arch.vocab_size else "")
    if arch.max_position_embeddings:
        facts += f" · context {arch.max_position_embeddings:,}"
    c.texts.append(Text(margin, 34, title, 20, True))
    c.texts.append(Text(margin, 56, subtitle, 12.5, colour=MUTED))
    c.texts.append(Text(margin, 74, facts, 12.5, colour=MUTED))
    top = 96.0
    cx = main_x + main_w / 2

    # --- main column
    y = top
    y += c.pill(cx - 80, y, 160, "image pixels" if pixels else "input token ids" if not arch.encoder_layers else "decoder token ids")
    c.arrow((cx, y), (cx, y + 22))
    y += 22
    emb_y = y
    y += c.box(main_x, y, main_w, emb_title, emb_lines, "io")
    c.arrow((cx, y), (cx, y + 22))
    y += 22
    blocks_y = y
    if style == "simple":
        y += c.box(main_x, y, main_w, f"{stack_word} block × {len(arch.layers)}", simple_lines, "group", title_size=14)
    else:
        inner_x, inner_w = main_x + 12, main_w - 24
        header_h = 46.0
        body: list[tuple[float, float]] = []
        yy = y + header_h
        for title_text, subs, footer in cards:
            start = yy
            yy += 6
            c.texts.append(Text(inner_x + 10, yy + 15, title_text, 13, True))
            yy += 24
            for sub_title, lines, kind in subs:
                yy += c.box(inner_x + 10, yy, inner_w - 20, sub_title, lines, kind, size=11.5, title_size=12.5) + 6
            c.texts.append(Text(inner_x + 10, yy + 13, footer, 11, colour=MUTED))
            yy += 22
            body.append((start, yy - start))
            yy += 10
        height = yy - y
        # the container first (drawn under the cards), then each card's frame
        c.rects.insert(0, Rect(main_x, y, main_w, height, *COLOURS["group"], radius=8, width=2.0))
        c.texts.insert(0, Text(main_x + 12, y + 21, stack_title, 13, True))
        c.texts.insert(1, Text(main_x + 12, y + 38, stack_note, 11.5, colour=MUTED))
        for start, hh in body:
            c.rects.insert(1, Rect(inner_x, start, inner_w, hh, "#FFFFFF", "#B0BEC5", radius=6, dashed=True, width=1.0))
        y += height
    blocks_h = y - blocks_y
    c.arrow((cx, y), (cx, y + 22))
    y += 22
    y += c.box(main_x, y, main_w, f"Final {'RMSNorm' if arch.norm == 'rmsnorm' else 'LayerNorm'}", [], "io", title_size=12)
    if arch.lm_head:
        c.arrow((cx, y), (cx, y + 22))
        y += 22
        y += c.box(main_x, y, main_w, "LM head", head_lines, "io")
    c.arrow((cx, y), (cx, y + 22))
    y += 22
    y += c.pill(cx - 90, y, 180, "next-token logits" if arch.lm_head and is_decoder else "hidden states / logits")
    bottom = y

    # --- side column: vision tower or encoder, arrows into the stack
    if side:
        sx = margin
        sy = top
        label = "image pixels" if arch.vision is not None else ("audio (log-mel frames)" if arch.model_type == "whisper" else "input token ids")
        sy += c.pill(sx + side_w / 2 - 80, sy, 160, label)
        c.arrow((sx + side_w / 2, sy), (sx + side_w / 2, sy + 22))
        sy += 22
        for i, (box_title, lines, kind) in enumerate(side):
            hh = c.box(sx, sy, side_w, box_title, lines, kind)
            sy += hh
            if i < len(side) - 1:
                c.arrow((sx + side_w / 2, sy), (sx + side_w / 2, sy + 22))
                sy += 22
        mid = sy - hh / 2
        if arch.vision is not None:  # image embeddings join the token sequence
            target = emb_y + 20
            c.arrow((sx + side_w, mid), (sx + side_w + gap - 16, mid), (sx + side_w + gap - 16, target), (main_x, target))
            c.texts.append(Text(sx + side_w + 8, mid - 6, "image tokens", 10.5, colour=MUTED))
        else:  # encoder output feeds every decoder layer's cross-attention
            target = blocks_y + min(blocks_h / 2, 60)
            c.arrow((sx + side_w, mid), (sx + side_w + gap - 16, mid), (sx + side_w + gap - 16, target), (main_x, target))
            c.texts.append(Text(sx + side_w + 8, mid - 6, "cross-attn K, V", 10.5, colour=MUTED))
        bottom = max(bottom, sy)

    # --- right column: key figures, and the layer map in the detailed style
    rx = main_x + main_w + 40
    panel = _key_figures(arch, params, estimate)
    pw = _fit(290, [f"{k}: {v}" for k, v in panel], 12, "Key figures")
    ry = top
    ry += c.box(rx, ry, pw, "Key figures", [f"{k}: {v}" for k, v in panel], "panel")
    right = rx + pw
    if style == "detailed" and arch.layers:
        ry += 24
        ry, map_right = _layer_map(c, arch, groups, rx, ry)
        right = max(right, map_right)
    bottom = max(bottom, ry)
    width = right + margin
    height = bottom + margin
    return Diagram(width=round(width), height=round(height), title=f"{model_id} architecture ({style})",
                   rects=tuple(c.rects), texts=tuple(c.texts), arrows=tuple(c.arrows))


def _side_boxes(arch: Architecture, params: Any) -> list[tuple[str, list[str], str]]:
    """The vision tower (+ projector) or the encoder stack, as (title, lines, kind) boxes."""
    out: list[tuple[str, list[str], str]] = []
    v = arch.vision
    if v is not None and arch.objective.value != "vision":
        lines = [f"{v.num_layers} layers · hidden {v.hidden_size:,} · {v.num_heads} heads", f"FFN {v.hidden_size:,} → {v.intermediate_size:,} → {v.hidden_size:,}"]
        if v.image_size and v.patch_size:
            patches = (v.image_size // v.patch_size) ** 2
            lines.append(f"image {v.image_size} px · patch {v.patch_size} → {patches:,} patches")
        lines.append(f"{human_count(params.by_component.get('vision', 0))} params")
        out.append((f"Vision tower ({v.kind})", lines, "vision"))
        if v.projector != "none":
            out.append((f"Projector ({v.projector})", [f"vision {v.hidden_size:,} → text {arch.hidden_size:,}", f"{human_count(params.by_component.get('projector', 0))} params"], "vision"))
    if arch.encoder_layers:
        heads = arch.dim("encoder_heads", arch.num_heads)
        first = arch.encoder_layers[0]
        inter = first.intermediate_size or arch.intermediate_size
        lines = ["bidirectional full attention + dense FFN", f"hidden {arch.hidden_size:,} · {heads} heads · FFN {inter:,}",
                 f"{human_count(params.by_component.get('encoder', 0))} params"]
        out.append((f"Encoder layers × {len(arch.encoder_layers)}", lines, "encoder"))
    return out


def _key_figures(arch: Architecture, params: Any, est: Any) -> list[tuple[str, str]]:
    rows = [("parameters", human_count(params.total))]
    if params.active_per_token != params.total:
        rows.append(("active / token", human_count(params.active_per_token)))
    for name, n in sorted(params.by_component.items(), key=lambda kv: -kv[1])[:6]:
        rows.append((f"  {name.replace('_', ' ')}", human_count(n)))
    if est is not None:
        s = est.settings
        mem = est.memory
        rows.append((f"weights ({est.weight_dtype or s.dtype})", human_bytes(mem.weights_bytes_selected)))
        rows.append((f"KV cache / token ({est.kv_dtype or s.kv_dtype})", human_bytes(mem.kv_cache_bytes_per_token)))
        rows.append((f"KV cache at {s.batch} × {s.seq_len:,}", human_bytes(mem.kv_cache_bytes)))
        if mem.state_bytes:
            rows.append(("fixed state", human_bytes(mem.state_bytes)))
    if arch.torch_dtype:
        rows.append(("checkpoint dtype", arch.torch_dtype))
    if arch.quantization is not None:
        q = arch.quantization
        rows.append(("quantization", f"{q.method}" + (f" {q.bits:g}-bit" if q.bits else "")))
    return rows


def _layer_map(c: _Canvas, arch: Architecture, groups: list[tuple[LayerSpec, list[int]]], x: float, y: float) -> tuple[float, float]:
    """One cell per layer in order, coloured by kind, with a legend; returns (bottom, right)."""
    per_row, cell, pad = 16, 18.0, 3.0
    c.texts.append(Text(x, y + 14, f"Layer map ({len(arch.layers)} layers, in order)", 13, True))
    y += 24
    n = len(arch.layers)
    for i, layer in enumerate(arch.layers):
        row, col = divmod(i, per_row)
        fill, stroke = _cell_colours(layer)
        c.rects.append(Rect(x + 26 + col * (cell + pad), y + row * (cell + pad), cell, cell, fill, stroke, radius=3, width=1.2))
        if layer.ffn is FFN.MOE and layer.mixer is not Mixer.NONE:  # a mark for MoE layers on top of the mixer colour
            c.rects.append(Rect(x + 26 + col * (cell + pad) + cell - 8, y + row * (cell + pad) + 2, 6, 6, "#FFFFFF", "#FFFFFF", radius=1, width=0.5))
        if col == 0:
            c.texts.append(Text(x + 20, y + row * (cell + pad) + 13, str(i), 10, anchor="end", colour=MUTED))
    rows = -(-n // per_row)
    y += rows * (cell + pad) + 10
    right = x + 26 + per_row * (cell + pad)
    for (layer, idx), title in zip(groups, group_titles(arch, groups)):
        fill, stroke = _cell_colours(layer)
        c.rects.append(Rect(x, y, 14, 14, fill, stroke, radius=3, width=1.2))
        if layer.ffn is FFN.MOE and layer.mixer is not Mixer.NONE:
            c.rects.append(Rect(x + 6, y + 2, 6, 6, "#FFFFFF", "#FFFFFF", radius=1, width=0.5))
        label = f"{title} × {len(idx)}"
        c.texts.append(Text(x + 22, y + 12, label, 11.5))
        right = max(right, x + 22 + text_width(label, 11.5))
        y += 20
    if any(layer.ffn is FFN.MOE and layer.mixer is not Mixer.NONE for layer in arch.layers):
        c.rects.append(Rect(x, y, 14, 14, "#607D8B", "#607D8B", radius=3, width=1.2))
        c.rects.append(Rect(x + 6, y + 2, 6, 6, "#FFFFFF", "#FFFFFF", radius=1, width=0.5))
        c.texts.append(Text(x + 22, y + 12, "white corner: the layer's FFN is MoE", 11.5, colour=MUTED))
        y += 20
    return y, right


def _cell_colours(layer: LayerSpec) -> tuple[str, str]:
    if layer.mixer is Mixer.NONE and not layer.linear_mixer:
        stroke = COLOURS[layer.ffn.value if layer.ffn is not FFN.NONE else "none"][1]
    else:
        stroke = COLOURS[layer.mixer.value][1]
    return stroke, stroke  # solid cells: the stroke colour reads better at 18 px


# --------------------------------------------------------------------------- writers


def _fmt(v: float) -> str:
    text = f"{v:.1f}"
    return text.removesuffix(".0")


def to_svg(d: Diagram) -> str:
    """The diagram as a standalone SVG document (real text; deterministic)."""
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_fmt(d.width)}" height="{_fmt(d.height)}" '
        f'viewBox="0 0 {_fmt(d.width)} {_fmt(d.height)}" font-family="{FONT}">',
        f"<title>{escape(d.title)}</title>",
        "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" "
        "orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#455A64\"/></marker></defs>",
        f'<rect x="0" y="0" width="{_fmt(d.width)}" height="{_fmt(d.height)}" fill="#FFFFFF"/>',
    ]
    for r in d.rects:
        dash = ' stroke-dasharray="5 3"' if r.dashed else ""
        out.append(f'<rect x="{_fmt(r.x)}" y="{_fmt(r.y)}" width="{_fmt(r.w)}" height="{_fmt(r.h)}" rx="{_fmt(r.radius)}" '
                   f'fill="{r.fill}" stroke="{r.stroke}" stroke-width="{_fmt(r.width)}"{dash}/>')
    for a in d.arrows:
        pts = " ".join(f"{_fmt(x)},{_fmt(y)}" for x, y in a.points)
        out.append(f'<polyline points="{pts}" fill="none" stroke="{a.colour}" stroke-width="1.6" marker-end="url(#arrow)"/>')
    for t in d.texts:
        weight = ' font-weight="bold"' if t.bold else ""
        anchor = f' text-anchor="{t.anchor}"' if t.anchor != "start" else ""
        space = ' xml:space="preserve"' if t.text.startswith(" ") or "  " in t.text else ""
        out.append(f'<text x="{_fmt(t.x)}" y="{_fmt(t.y)}" font-size="{_fmt(t.size)}" fill="{t.colour}"{weight}{anchor}{space}>{escape(t.text)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


PNG_SCALE = 1.5  # PNG pixels per diagram pixel: crisp at 100 % zoom on ordinary and high-density screens


def to_png(d: Diagram) -> bytes:
    """The diagram as PNG (matplotlib Agg; raises ImportError without the ``plots`` extra)."""
    import matplotlib
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
    from matplotlib.path import Path

    from lmscope.core.plots import RC, _figure

    with matplotlib.rc_context(RC | {"axes.grid": False}):  # type: ignore[arg-type]  # RC's keys are rcParams names
        fig = _figure(width=d.width / 100, height=d.height / 100)
        fig.set_dpi(100 * PNG_SCALE)
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, d.width)
        ax.set_ylim(d.height, 0)
        ax.axis("off")
        pt = 72 / 100  # diagram px → points (the figure is d.width / 100 inches wide)
        for r in d.rects:
            ax.add_patch(FancyBboxPatch((r.x, r.y), r.w, r.h, boxstyle=f"round,pad=0,rounding_size={r.radius}",
                                        facecolor=r.fill, edgecolor=r.stroke, linewidth=r.width * pt,
                                        linestyle=(0, (5, 3)) if r.dashed else "-"))
        for a in d.arrows:
            codes = [Path.MOVETO] + [Path.LINETO] * (len(a.points) - 1)
            ax.add_patch(FancyArrowPatch(path=Path(a.points, codes), arrowstyle="-|>,head_length=6,head_width=3.5",
                                         color=a.colour, linewidth=1.6 * pt, mutation_scale=1))
        for t in d.texts:
            ax.text(t.x, t.y, t.text, fontsize=t.size * pt, fontweight="bold" if t.bold else "normal",
                    ha={"start": "left", "middle": "center", "end": "right"}[t.anchor], va="baseline", color=t.colour)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100 * PNG_SCALE, metadata={"Software": "lmscope"}, facecolor="white")
        return buf.getvalue()


__all__ = ["STYLES", "Diagram", "architecture_diagram", "ffn_name", "layer_groups", "mixer_name", "text_width", "to_png", "to_svg"]
