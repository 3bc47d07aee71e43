"""Attention layers usable on their own: additive and multi-head pooling with their masks
(`attention`), the Transformer encoder's parts (`transformer`) and the tutorial's exact Keras
layers, ported (`keras`).
"""
