"""A compact picture of a model's layers: one coloured glyph per layer.

Hybrid models are the ones people get wrong (Gemma-3's 5:1 sliding:full,
Qwen3-Next's 3:1 linear:full, Nemotron-H's Mamba/attention/MoE mix,
DeepSeek's leading dense layers). Two rows per chunk — the mixer of each layer
and its FFN kind — make the pattern visible at a glance; a legend names only
the glyphs that appear. Colours are from the 16-colour palette so the map
reads the same over SSH; the letters carry the meaning without colour.
"""

from __future__ import annotations

from rich.console import Group
from rich.text import Text

from lmscope.core.architecture import FFN, Architecture, Mixer

MIXER_GLYPHS: dict[Mixer, tuple[str, str, str]] = {
    Mixer.FULL: ("F", "blue", "full attention"),
    Mixer.SLIDING: ("S", "cyan", "sliding window"),
    Mixer.CHUNKED: ("C", "bright_cyan", "chunked attention"),
    Mixer.MLA: ("X", "yellow", "MLA (latent attention)"),
    Mixer.LINEAR: ("L", "green", "linear attention"),
    Mixer.MAMBA: ("M", "magenta", "Mamba"),
    Mixer.MAMBA2: ("M", "bright_magenta", "Mamba-2"),
    Mixer.CONV: ("V", "bright_green", "short convolution"),
    Mixer.NONE: ("·", "bright_black", "no mixer"),
}
FFN_GLYPHS: dict[FFN, tuple[str, str, str]] = {
    FFN.DENSE: ("D", "white", "dense FFN"),
    FFN.MOE: ("E", "red", "MoE experts"),
    FFN.NONE: ("·", "bright_black", "no FFN"),
}


def layers_per_row(n: int, most: int) -> int:
    """Glyphs per row: balanced rows (48 layers in 46 cells read 24 + 24, not 46 + 2), on a multiple of 8 or 4 when that costs no row."""
    if n <= most:
        return max(n, 1)
    rows = -(-n // most)
    per_row = -(-n // rows)
    for multiple in (8, 4):
        rounded = -(-per_row // multiple) * multiple
        if rounded <= most and -(-n // rounded) == rows:
            return rounded
    return per_row


def layer_map(arch: Architecture, width: int = 64) -> Group:
    """The map as rich renderables, wrapped to ``width`` cells."""
    layers = arch.layers
    per_row = layers_per_row(len(layers), max(8, min(64, width - 10)))
    rows: list[Text] = []
    for start in range(0, len(layers), per_row):
        chunk = layers[start : start + per_row]
        mixers = Text(f"{start:>4} mix ", style="dim")
        ffns = Text(f"{'':>4} ffn ", style="dim")
        for layer in chunk:
            glyph, colour, _ = MIXER_GLYPHS.get(layer.mixer, ("?", "white", layer.mixer.value))
            mixers.append(glyph, style=f"bold {colour}")
            glyph, colour, _ = FFN_GLYPHS.get(layer.ffn, ("?", "white", layer.ffn.value))
            ffns.append(glyph, style=colour)
        rows.extend((mixers, ffns))
    # the legend wraps between whole entries ("E MoE experts"), never inside one
    entries: list[Text] = []
    seen_mixers = {layer.mixer for layer in layers}
    seen_ffns = {layer.ffn for layer in layers}
    for mixer, (glyph, colour, name) in MIXER_GLYPHS.items():
        if mixer in seen_mixers:
            entries.append(Text.assemble((glyph, f"bold {colour}"), f" {name}"))
    for ffn, (glyph, colour, name) in FFN_GLYPHS.items():
        if ffn in seen_ffns:
            entries.append(Text.assemble((glyph, colour), f" {name}"))
    legend = Text("legend ", style="dim")
    line_len = legend.cell_len
    for entry in entries:
        if line_len > len("legend ") and line_len + 2 + entry.cell_len > width:
            legend.append("\n       ")
            line_len = len("legend ")
        elif line_len > len("legend "):
            legend.append("  ")
            line_len += 2
        legend.append_text(entry)
        line_len += entry.cell_len
    counts = ", ".join(f"{n} {kind}" for kind, n in arch.layer_counts().items())
    summary = Text(f"{len(layers)} layers: {counts}", style="dim")
    if arch.encoder_layers:
        summary.append(f" (+ {len(arch.encoder_layers)} encoder layers)")
    return Group(*rows, legend, summary)
