"""Saved models put to work: the model folder format (`folder`), a trained classifier
(`classifier`), ensembles (`ensemble`), a folder's exported ONNX graph (`onnx_runtime`), the one
door that loads any classifier folder (`loading`: `attnclf.load`), scoring a folder on a data
source (`scoring`) and predictions for a whole file (`batch_files`). Nothing here imports
training code.
"""
