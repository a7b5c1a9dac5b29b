import pytest

from qagan_plugin.config import NIQEConfig, RecipeConfig, SobolevConfig, SSIMConfig


def test_defaults_are_valid_and_frozen():
    cfg = RecipeConfig()
    assert cfg.recipe == "qagan_niqe" and cfg.niqe.pristine_interval == 16
    with pytest.raises(Exception):
        cfg.gp_lambda = 3.0  # frozen


def test_unknown_key_names_key_and_suggests():
    with pytest.raises(ValueError, match=r"RecipeConfig: unknown key 'gp_lamda'; did you mean 'gp_lambda'"):
        RecipeConfig.from_dict({"gp_lamda": 1.0})
    with pytest.raises(ValueError, match=r"NIQEConfig: unknown key 'ema'"):
        RecipeConfig.from_dict({"niqe": {"ema": 0.5}})


@pytest.mark.parametrize("cls, field, value, allowed", [
    (NIQEConfig, "ema_decay", 1.5, r"in \[0, 1\)"),
    (NIQEConfig, "pristine_interval", 0, r"an int in \[1"),
    (NIQEConfig, "min_samples", 10, r"\[37"),
    (NIQEConfig, "patch_size", 7, "even int >= 8"),
    (NIQEConfig, "inverse", "lu", r"one of \['pinv', 'cholesky'\]"),
    (SSIMConfig, "dq_min", 0.0, r"\(0, 1\]"),
    (SSIMConfig, "pooling", "max", "mean_sqrt"),
    (SSIMConfig, "data_range", -1, r"\(0"),
    (SobolevConfig, "p", 0.5, ">= 1"),
    (RecipeConfig, "variant", "mine", "paper"),
    (RecipeConfig, "gp_lambda", -1.0, r"\[0"),
    (RecipeConfig, "qa_interval", 1.5, "an int"),
])
def test_out_of_range_values_name_field_value_and_range(cls, field, value, allowed):
    with pytest.raises(ValueError) as info:
        cls.from_dict({field: value})
    msg = str(info.value)
    assert f"{cls.__name__}.{field}" in msg and repr(value) in msg
    assert pytest.importorskip("re").search(allowed, msg), msg


def test_bool_is_not_a_number():
    with pytest.raises(ValueError, match="gp_lambda"):
        RecipeConfig(gp_lambda=True)


def test_round_trip_through_dict():
    cfg = RecipeConfig.from_dict({"recipe": "qagan_ssim", "ssim": {"pooling": "mean_sqrt"}, "qa_lambda": 0.2})
    again = RecipeConfig.from_dict(cfg.to_dict())
    assert again == cfg and isinstance(again.ssim, SSIMConfig)
