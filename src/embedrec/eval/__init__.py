"""Evaluation: offline recommendation metrics and splits.

Word-embedding benchmarks (analogies, word-pair similarity) are methods of
:class:`embedrec.vectors.Embeddings`: :meth:`~embedrec.vectors.Embeddings.evaluate_analogies` and
:meth:`~embedrec.vectors.Embeddings.evaluate_pairs`.
"""
