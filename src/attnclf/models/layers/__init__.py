"""Attention layers usable on their own: additive and multi-head pooling with their masks
(`attention`), the Transformer encoder's parts (`transformer`) and the tutorial's exact Keras
layers, ported: keras-self-attention's `SeqSelfAttention` (`keras_self_attention`),
keras-multi-head's `MultiHeadAttention` (`keras_multi_head`) and what both share with Keras
(`keras_common`).
"""
