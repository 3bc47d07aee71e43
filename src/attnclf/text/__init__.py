"""Text to ids: `tokens` (tokenize(), Vocab, Encoder), Keras 2's own text handling for imported
models (`keras_text`), and token ids packed into padded batches of similar length (`batches`).
"""
