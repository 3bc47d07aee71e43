"""Making models: fit(), the training loop (`loop`), what it tells as it goes (`logs`: progress,
TensorBoard), its checkpoints (`checkpoint`) and torchrun (`distributed`); one model trained on
prepared data, from a file or from memory (`run`: prepare_data, train_model); the experiment that
trains families side by side (`compare`), its presets and report; pretrained word vectors
(`embeddings`), self-training (`self_training`) and the scikit-learn estimator
(`estimator`: attnclf.AttentionClassifier).
"""
