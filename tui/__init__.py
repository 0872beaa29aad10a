"""lmscope's Textual app: the screens people see.

Nothing here computes a number: every figure comes from ``lmscope.core``
(``estimate()``, ``build_report()``, the weights engine) and the app only
renders it. Importing this package is cheap; textual itself is imported by
the modules that need it, and torch/transformers never on the start-up path.
"""
