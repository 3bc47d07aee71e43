"""Where and how the code runs, below everything else: the device, seeds and precision
(`device`), the C heap kept from growing during training (`heap`), and atomic file writes
(`files`). Nothing here imports another attnclf subpackage.
"""
