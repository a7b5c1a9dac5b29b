"""Shared test settings: deterministic, small, CPU-only."""
import pytest
import torch


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield
