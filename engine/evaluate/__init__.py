"""Retrieval evaluation: metrics (Recall@K, MRR, nDCG@K, mAP) and TREC qrels/run files.

Pure Python + numpy; see `engine.evaluate.metrics` for the definitions.
"""

from engine.evaluate.metrics import PRIMARY_METRIC, evaluate_run

__all__ = ["PRIMARY_METRIC", "evaluate_run"]
