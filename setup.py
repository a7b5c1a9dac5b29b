"""qagan-plugin: quality-aware GAN regularizers (QAGAN SSIM-GP / NIQE-GP, Banach WGAN) for PyTorch and StudioGAN."""
import os
import shutil

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


class BuildPyWithStudioGANAssets(build_py):
    """Ship patches/studiogan/ and configs/studiogan/ (canonical at the repository root) inside the package as
    qagan_plugin/integrations/studiogan/assets/{patches,configs}, for `qagan-plugin studiogan install`.
    An editable install reads them from the repository root instead (see that module's docstring)."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        assets = os.path.join(self.build_lib, "qagan_plugin", "integrations", "studiogan", "assets")
        shutil.rmtree(assets, ignore_errors=True)
        for src, dst in (("patches/studiogan", "patches"), ("configs/studiogan", "configs")):
            if os.path.isdir(os.path.join(HERE, src)):
                shutil.copytree(os.path.join(HERE, src), os.path.join(assets, dst),
                                ignore=shutil.ignore_patterns("__pycache__", "*.py[co]"))


setup(
    name="qagan-plugin",
    version="0.1.0",
    description="Quality-aware GAN regularizers (QAGAN SSIM-GP, NIQE-GP; Banach WGAN Sobolev/L^p GP) "
                "for PyTorch and PyTorch-StudioGAN",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.9",
    packages=find_packages(include=["qagan_plugin", "qagan_plugin.*"]),
    package_data={"qagan_plugin": ["data/*.npz", "data/images/*.png"]},
    include_package_data=True,
    cmdclass={"build_py": BuildPyWithStudioGANAssets},
    # scikit-image: the embedded natural photographs (and the SSIM oracle in tests);
    # matplotlib: the demo's curves and the inspection figure
    install_requires=["torch>=2.1", "torchvision", "numpy", "scipy", "pyyaml", "tqdm", "pillow", "scikit-image",
                      "matplotlib"],
    extras_require={
        "test": ["pytest", "hypothesis"],
        # peers measured by benchmarks/ only; never imported by the package
        "bench": ["pytorch_msssim", "pyiqa"],
    },
    entry_points={
        "console_scripts": ["qagan-plugin = qagan_plugin.cli:main"],
        # the StudioGAN plugin API added by patches/studiogan (docs/studiogan-plugin-api.md)
        "studiogan.losses": [f"{name} = qagan_plugin.integrations.studiogan.plugin:WassersteinLoss"
                             for name in ("qagan_ssim", "qagan_niqe", "bwgan_sobolev", "bwgan_lp", "wgan_gp",
                                          "pggan_wgan_gp")],
        "studiogan.regularizers": ["qagan = qagan_plugin.integrations.studiogan.plugin:QAGANRegularizer"],
        "studiogan.backbones": ["qagan_resnet = qagan_plugin.models.qagan_resnet",
                                "pggan = qagan_plugin.models.pggan"],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
