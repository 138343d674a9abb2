"""Models built from the course's layers."""

from course.models.two_layer_net import TwoLayerNet

__all__ = ["TwoLayerNet"]
