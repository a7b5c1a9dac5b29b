"""Network definitions: the ResNet pair of Gulrajani et al. (demo, benchmarks)."""
from .resnet import ResNetCritic, ResNetGenerator, build_resnet

__all__ = ["ResNetCritic", "ResNetGenerator", "build_resnet"]
