"""codecbench-cqt: an example codecbench plugin adding the multi-scale sub-band CQT discriminator ``cqt``.

Importing this package registers ``@codecbench.discriminators.cqt()``; codecbench imports it through
the ``codecbench.plugins`` entry point declared in this distribution's pyproject.toml.
"""

from __future__ import annotations

from codecbench_cqt.cqt import ConstantQTransform, cqt_frequencies, q_factor
from codecbench_cqt.discriminator import MultiScaleSubBandCQTDiscriminator, SubBandCQTDiscriminator

__all__ = [
    "ConstantQTransform",
    "MultiScaleSubBandCQTDiscriminator",
    "SubBandCQTDiscriminator",
    "cqt_frequencies",
    "q_factor",
]
__version__ = "0.1.0"
