"""Numba kernels. Only numpy and numba are imported here; every function compiles lazily
on its first call (``cache=True`` stores the machine code beside the module)."""
