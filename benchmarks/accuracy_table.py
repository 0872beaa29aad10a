"""Print the README's accuracy table: analytic vs exact parameter counts per catalog model.

The exact count is transformers' own class instantiated on the meta device
(what ``sum(p.numel() for p in model.parameters())`` gives); the analytic count
is lmscope's formulas. Also prints KV cache bytes per token at bf16 and the
catalog models whose architecture transformers does not know (analytic only).

    python benchmarks/accuracy_table.py > /tmp/table.md
"""

from __future__ import annotations

import time

from lmscope.core.estimate.kv import kv_bytes_per_token
from lmscope.core.exact import exact_parameters
from lmscope.core.params import count_parameters
from lmscope.core.parse import architecture_from_config
from lmscope.core.sources.catalog import list_catalog, load_catalog_entry


def main() -> None:
    print("| model | family | exact (meta-device class) | analytic | Δ | KV/token bf16 |")
    print("|---|---|---:|---:|---:|---:|")
    same = total = 0
    t0 = time.perf_counter()
    for entry in list_catalog():
        source = load_catalog_entry(entry.model_id)
        arch = architecture_from_config(source.files, model_id=entry.model_id)
        analytic = count_parameters(arch).total
        exact = exact_parameters(source.files.config)
        kv = kv_bytes_per_token(arch, "bf16")
        if exact is None:
            exact_text, delta = "— (remote code / unknown to transformers)", ""
        else:
            total += 1
            same += exact.total == analytic
            exact_text = f"{exact.total:,}"
            delta = f"{analytic - exact.total:+,}"
        print(f"| {entry.model_id} | {arch.family} | {exact_text} | {analytic:,} | {delta} | {kv:,} |")
    print(f"\n{same} of {total} models with a transformers class: analytic == exact. ({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
