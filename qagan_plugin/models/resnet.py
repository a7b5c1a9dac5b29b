"""ResNet generator and critic of Gulrajani et al. (2017) as packaged in BWGAN/QAGAN.

methods-spec section 2.4. Building blocks:

- ``conv``: 3x3, stride 1, same padding, bias; He-uniform kernel (bound
  ``sqrt(6 / fan_in)``), zero bias. 1x1 shortcut convs and the generator's last
  conv: Glorot-uniform. Linear layers: Glorot-uniform, zero bias.
- ``upsample``: nearest x2; ``downsample``: 2x2 mean pooling.
- ResBlock-up (generator): ``conv(ReLU(BN(conv(up(ReLU(BN(x)))))))`` + ``conv1x1(up(x))``.
- ResBlock-down (critic): ``pool(conv(ReLU(conv(ReLU(x)))))`` + ``pool(conv1x1(x))``.
- ResBlock (critic): ``conv(ReLU(conv(ReLU(x))))`` + ``x``.
- OptimizedBlock (critic, first): ``pool(conv(ReLU(conv(x))))`` + ``conv1x1(pool(x))``.
- BN only in the generator (momentum 0.1 in PyTorch = TF 0.9, eps 1e-5, affine).

=========  ==========================================  ====================================
img_size   generator                                   critic
=========  ==========================================  ====================================
32         Linear -> 4x4, 3 up blocks: 4->8->16->32     Opt 32->16, down 16->8, 2 blocks at 8
48         Linear -> 6x6, 3 up blocks: 6->12->24->48    Opt 48->24, down 24->12, 2 blocks at 12
64         Linear -> 4x4, 4 up blocks: 4->...->64       Opt 64->32, down 32->16, 2 blocks at 16
=========  ==========================================  ====================================

``width`` (default 128) is the channel count of every block.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

# img_size -> (generator's initial spatial size, number of up blocks)
GENERATOR_LAYOUT = {32: (4, 3), 48: (6, 3), 64: (4, 4)}


def _he_uniform_(weight: torch.Tensor) -> None:
    fan_in = weight[0].numel()
    bound = math.sqrt(6.0 / fan_in)
    nn.init.uniform_(weight, -bound, bound)


def _glorot_uniform_(weight: torch.Tensor) -> None:
    nn.init.xavier_uniform_(weight)  # bound sqrt(6 / (fan_in + fan_out)), receptive field included


def conv3x3(cin: int, cout: int, init: str = "he") -> nn.Conv2d:
    conv = nn.Conv2d(cin, cout, 3, padding=1, bias=True)
    (_he_uniform_ if init == "he" else _glorot_uniform_)(conv.weight)
    nn.init.zeros_(conv.bias)
    return conv


def conv1x1(cin: int, cout: int) -> nn.Conv2d:
    conv = nn.Conv2d(cin, cout, 1, bias=True)
    _glorot_uniform_(conv.weight)
    nn.init.zeros_(conv.bias)
    return conv


def linear(cin: int, cout: int) -> nn.Linear:
    lin = nn.Linear(cin, cout)
    _glorot_uniform_(lin.weight)
    nn.init.zeros_(lin.bias)
    return lin


def upsample(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode="nearest")


def downsample(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, 2)


def batch_norm(ch: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(ch, eps=1e-5, momentum=0.1, affine=True)


class ResBlockUp(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.bn1, self.conv1 = batch_norm(cin), conv3x3(cin, cout)
        self.bn2, self.conv2 = batch_norm(cout), conv3x3(cout, cout)
        self.shortcut = conv1x1(cin, cout)

    def forward(self, x):
        h = self.conv1(upsample(F.relu(self.bn1(x))))
        h = self.conv2(F.relu(self.bn2(h)))
        return h + self.shortcut(upsample(x))


class OptimizedBlock(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1, self.conv2 = conv3x3(cin, cout), conv3x3(cout, cout)
        self.shortcut = conv1x1(cin, cout)

    def forward(self, x):
        h = downsample(self.conv2(F.relu(self.conv1(x))))
        return h + self.shortcut(downsample(x))


class ResBlockDown(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1, self.conv2 = conv3x3(cin, cout), conv3x3(cout, cout)
        self.shortcut = conv1x1(cin, cout)

    def forward(self, x):
        h = downsample(self.conv2(F.relu(self.conv1(F.relu(x)))))
        return h + downsample(self.shortcut(x))


class ResBlock(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.conv1, self.conv2 = conv3x3(ch, ch), conv3x3(ch, ch)

    def forward(self, x):
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


def _check_size(img_size: int) -> None:
    if img_size not in GENERATOR_LAYOUT:
        raise ValueError(f"img_size: expected one of {sorted(GENERATOR_LAYOUT)}, got {img_size!r}")


class ResNetGenerator(nn.Module):
    """``z (N, z_dim) -> images (N, 3, img_size, img_size)`` in [-1, 1]."""

    def __init__(self, img_size: int = 32, width: int = 128, z_dim: int = 128, channels: int = 3):
        super().__init__()
        _check_size(img_size)
        self.img_size, self.width, self.z_dim = img_size, width, z_dim
        self.start, n_up = GENERATOR_LAYOUT[img_size]
        self.linear = linear(z_dim, self.start * self.start * width)
        self.blocks = nn.Sequential(*[ResBlockUp(width, width) for _ in range(n_up)])
        self.bn = batch_norm(width)
        self.out = conv3x3(width, channels, init="glorot")

    def forward(self, z):
        h = self.linear(z).view(z.shape[0], self.width, self.start, self.start)
        h = self.blocks(h)
        return torch.tanh(self.out(F.relu(self.bn(h))))


class ResNetCritic(nn.Module):
    """``images (N, 3, img_size, img_size) -> logits (N,)``; no normalisation.

    Same layout for every size (two downsamplings): OptimizedBlock, ResBlock-down,
    two ResBlocks, ReLU, global mean pool, Linear -> 1.
    """

    def __init__(self, img_size: int = 32, width: int = 128, channels: int = 3):
        super().__init__()
        _check_size(img_size)
        self.img_size, self.width = img_size, width
        self.blocks = nn.Sequential(OptimizedBlock(channels, width), ResBlockDown(width, width),
                                    ResBlock(width), ResBlock(width))
        self.linear = linear(width, 1)

    def forward(self, x):
        h = F.relu(self.blocks(x)).mean(dim=(2, 3))
        return self.linear(h).reshape(-1)


def build_resnet(img_size: int = 32, width: int = 128, z_dim: int = 128):
    """``(generator, critic)`` for CIFAR-10 (32), STL-10 (48) or CelebA (64)."""
    return ResNetGenerator(img_size, width, z_dim), ResNetCritic(img_size, width)

