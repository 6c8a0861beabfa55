"""Numba kernels. Only numpy and numba are imported here; every function compiles lazily
on its first call (``cache=True`` stores the machine code beside the module)."""

#: how a skip-gram window's pairs use the center's output rows (``skipgram_sentence``'s
#: ``share_mode``; ``window_update`` "exact", "batch", "sequential" in the configs): exact
#: per-pair draws, one draw updated as a mini-batch, one draw updated pair after pair
SHARE_NONE, SHARE_BATCH, SHARE_SEQUENTIAL = 0, 1, 2
