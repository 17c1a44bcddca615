"""Synthetic month-end scenarios with planted, labelled anomalies, and the score of a run against them."""

from .labels import Labels, PlantedLabel
from .scenario import generate, load_labels
from .scoring import score

__all__ = ["Labels", "PlantedLabel", "generate", "load_labels", "score"]
