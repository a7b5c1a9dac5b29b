import sys
import types
from importlib import metadata

import pytest

from qagan_plugin import RECIPES, REGULARIZERS, Registry


def test_builtins_registered():
    assert {"wgan_gp", "qagan_ssim", "qagan_niqe", "bwgan_sobolev", "bwgan_lp"} <= set(RECIPES.available())
    assert {"wgan_gp", "drift", "ssim_gp", "niqe_gp", "banach_gp"} <= set(REGULARIZERS.available())


def test_duplicate_and_unknown_names():
    reg = Registry("widget")

    @reg.register("a")
    class A:
        pass

    class B:
        pass

    with pytest.raises(KeyError, match=r"widget 'a' is already registered"):
        reg.register("a", B)
    reg.register("a", B, force=True)
    assert reg.get("a") is B
    with pytest.raises(KeyError, match=r"unknown widget 'b'; available: a"):
        reg.get("b")
    with pytest.raises(KeyError, match=r"did you mean 'qagan_niqe'"):
        RECIPES.get("qagan_nique")


def test_build_passes_arguments():
    reg = Registry("thing")
    reg.register("pair", lambda a, b=2: (a, b))
    assert reg.build("pair", 1, b=3) == (1, 3)


class _FakeEntryPoint:
    def __init__(self, name, value, loader):
        self.name, self.value, self._loader = name, value, loader

    def load(self):
        return self._loader()


def test_entry_point_discovery(monkeypatch):
    mod = types.ModuleType("fake_plugin_mod")

    class ThirdParty:
        """A third-party penalty."""

    def broken():
        raise ImportError("missing dependency xyz")

    mod.ThirdParty = ThirdParty
    monkeypatch.setitem(sys.modules, "fake_plugin_mod", mod)
    calls = []

    def fake_entry_points(group):
        calls.append(group)
        return [_FakeEntryPoint("third", "fake_plugin_mod:ThirdParty", lambda: ThirdParty),
                _FakeEntryPoint("broken", "fake_plugin_mod:nothing", broken)]

    monkeypatch.setattr(metadata, "entry_points", fake_entry_points)
    reg = Registry("regularizer", "test.group")
    assert calls == []  # lazy: nothing scanned before the first lookup
    with pytest.warns(RuntimeWarning, match=r"plugin 'broken'.*missing dependency xyz"):
        assert reg.get("third") is ThirdParty
    assert calls == ["test.group"]
    assert "broken" not in reg.available()
