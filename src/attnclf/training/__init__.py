"""Making models: fit(), the training loop (`loop`), its checkpoints (`checkpoint`) and
torchrun (`distributed`); one model trained on prepared data (`run`: prepare_data, train_model);
the experiment that trains families side by side (`compare`), its presets and report;
pretrained word vectors (`embeddings`) and self-training (`self_training`).
"""
