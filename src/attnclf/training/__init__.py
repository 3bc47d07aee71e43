"""Making models: fit(), the training loop (`loop`), its checkpoints (`checkpoint`) and
torchrun (`distributed`); the experiment that trains families side by side (`compare`), its
presets and report; pretrained word vectors (`embeddings`) and self-training (`self_training`).
"""
