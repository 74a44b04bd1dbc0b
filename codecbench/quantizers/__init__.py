"""Quantizers: importing this package registers every built-in implementation."""

from codecbench.quantizers import factorized, fsq, rvq, split_rvq, vq
from codecbench.quantizers.base import QUANTIZERS, Quantizer
from codecbench.quantizers.codebook import Codebook
from codecbench.quantizers.factorized import FactorizedResidualVectorQuantizer
from codecbench.quantizers.fsq import FiniteScalarQuantizer
from codecbench.quantizers.residual import ResidualQuantizer
from codecbench.quantizers.rvq import ResidualVectorQuantizer
from codecbench.quantizers.split_rvq import SplitResidualVectorQuantizer
from codecbench.quantizers.vq import VectorQuantizer

__all__ = [
    "QUANTIZERS",
    "Codebook",
    "FactorizedResidualVectorQuantizer",
    "FiniteScalarQuantizer",
    "Quantizer",
    "ResidualQuantizer",
    "ResidualVectorQuantizer",
    "SplitResidualVectorQuantizer",
    "VectorQuantizer",
    "factorized",
    "fsq",
    "rvq",
    "split_rvq",
    "vq",
]
