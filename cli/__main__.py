"""`python -m lmscope` is the `lmscope` command."""

from lmscope.main import console

console()
