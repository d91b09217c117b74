"""Newsroom assistant: retrieval, cited answers, the app and the API."""
import os

__version__ = "0.1.0"

# OpenBLAS's idle threads spin for about 0.1 s after each matrix product before they sleep.
# USE's encoder runs single-threaded between its small products, so on a few cores that
# spinning takes the CPU that parser processes and other requests could use; 2^4 cycles makes
# them sleep at once, at no cost to the encoder (bench/README.md). OpenBLAS reads this when
# numpy loads, so it is set here, before any of our modules imports numpy; a set value wins.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
