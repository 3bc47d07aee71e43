"""Other formats in and out: a classifier as an ONNX graph (`onnx_export`) and a Keras 2 .h5
model of the tutorial's kind brought in (`keras_import`).
"""
