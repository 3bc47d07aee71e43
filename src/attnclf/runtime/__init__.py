"""Where and how the code runs, below everything else: the device, seeds and precision
(`device`), how many threads compute beside other work on the machine (`threads`), the C heap
kept from growing during training (`heap`), and atomic file writes (`files`). Nothing here
imports another attnclf subpackage.
"""
