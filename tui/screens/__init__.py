"""One module per screen: search, summary, memory, compare, weights, plus the modals."""
