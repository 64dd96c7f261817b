"""One BLAS thread for the understanding heads' small numpy products.

numpy's OpenBLAS wakes its threads even for a product as small as 5 x 2304 x 60 (the
intent head on a 5-hypothesis list) and leaves them spinning afterwards, on the two cores
the encoder's onnxruntime pool needs next. Measured here (AMD EPYC, 2 cores): the
classifier on 5-hypothesis lists took 39-41 ms p50 with OpenBLAS free, 20-22 ms limited to
one thread around the heads. The limit holds only inside the ``with`` block.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from threadpoolctl import ThreadpoolController


class OneBlasThread:
    """Calling it gives a context manager: its block runs with OpenBLAS (or MKL) on one thread."""

    def __init__(self) -> None:
        # Finding the loaded BLAS libraries takes a while; limiting with a known controller, 17 us.
        self._controller = ThreadpoolController()

    def __call__(self) -> AbstractContextManager[object]:
        return self._controller.limit(limits=1, user_api="blas")
