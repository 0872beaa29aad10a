"""Reusable widgets: the keyboard slider, the settings bar, the layer map, the charts."""
