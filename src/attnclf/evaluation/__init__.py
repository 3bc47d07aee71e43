"""Measuring a model: predictions, metrics, timings and memory as pure functions of a model
and encoded texts (`metrics`), and the typed metrics.json record (`records`).
"""
