"""PyTorch-StudioGAN integration: the plugin (plugin.py) and the patch installer (installer.py)."""
