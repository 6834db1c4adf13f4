"""DictAS model and LightningModule with the tiny random CLIP: maps, dictionaries, gradients, training, phases."""

from __future__ import annotations

import math

import pytest
import torch

from gad.data.batch import Batch
from gad.errors import ConfigError
from gad.models.components.clip_backbone import ClipConfig
from gad.models.dictas import DictAS, DictASModel
from gad.models.dictas.attention import AttentionBlock
from gad.models.dictas.lightning_model import PHASE_KEY

# 56 px (a 7x7 grid) rather than the tiny CLIP's native 112: none of these tests is about the size, and the sparse
# lookup's cost grows with the square of the token count.
SIZE = 56
TINY = ClipConfig(model_name="gad-tiny-vit", pretrained=None, layers=[1, 2, 3, 4], image_size=SIZE)


def make_module(**kwargs) -> DictAS:
    torch.manual_seed(0)
    return DictAS(backbone=TINY, **kwargs)


def images(count: int, seed: int) -> torch.Tensor:
    return torch.rand(count, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(seed))


def training_batch(size: int = 4, seed: int = 0) -> Batch:
    query = images(size, seed)
    mask = torch.zeros(size, 1, SIZE, SIZE)
    square = (slice(None, size // 2), slice(None), slice(15, 35), slice(15, 35))  # the defect of the first half
    mask[square] = 1
    query[square] = 1 - query[square]
    support = query.clone()
    support[square] = 1 - support[square]  # the normal image
    return Batch(
        image=query,
        label=(mask.flatten(1).amax(1) > 0).long(),
        mask=mask,
        category=["brick", "grass"] * (size // 2),
        defect=["x"] * size,
        path=["p"] * size,
        support=support.flip(-1).unsqueeze(1),
    )


def make_identity_like(block: AttentionBlock) -> None:
    """block(x) = LN(LN(x)) per token: queries and keys match best on identical tokens, values stay per-token."""
    with torch.no_grad():
        for linear in (block.fc1,):
            linear.weight.zero_()
            linear.bias.zero_()
        block.fc2.weight.copy_(torch.eye(block.fc2.weight.shape[0]))
        block.fc2.bias.zero_()
        block.fc3.weight.copy_(torch.eye(block.fc3.weight.shape[0]))


@pytest.fixture()
def module() -> DictAS:
    return make_module()


def test_prediction_shapes(module: DictAS) -> None:
    module.eval()
    module.model.set_references("brick", images(3, 1))
    out = module.model(images(2, 2), "brick")
    assert out.score.shape == (2,) and out.anomaly_map.shape == (2, 1, SIZE, SIZE)
    assert set(out.parts) == {"map", "text"} and ((out.parts["text"] >= 0) & (out.parts["text"] <= 1)).all()
    torch.testing.assert_close(out.score, out.parts["map"])  # alpha 0: the map maximum


@pytest.mark.parametrize("shots", [1, 2])
def test_query_found_in_the_dictionary_gives_a_zero_map(shots: int) -> None:
    """The query image as the last reference (shot 2 when K=2) is retrieved exactly: zero map everywhere."""
    module = make_module(lookup="maximum", scales=(1,), sigma=0.0)
    for block in (module.model.generators.query, module.model.generators.key, module.model.generators.value.block):
        make_identity_like(block)
    module.eval()
    query = images(1, 3)
    module.model.set_references("brick", torch.cat([images(shots - 1, 4), query]))
    out = module.model(query, "brick")
    assert out.anomaly_map.abs().max() < 1e-5
    other = module.model(images(1, 5), "brick")
    assert other.anomaly_map.max() > 1e-3


def test_dictionary_is_built_once_per_category(monkeypatch: pytest.MonkeyPatch) -> None:
    module = make_module(lookup="dense")  # the lookup does not matter here; dense is the cheapest
    module.eval()
    backbone = module.model.backbone
    calls: list[int] = []
    original = backbone.forward

    def counting(x: torch.Tensor, embedding: bool = False):
        calls.append(x.shape[0])
        return original(x, embedding)

    monkeypatch.setattr(backbone, "forward", counting)
    module.model.set_references("brick", images(4, 1))
    module.model.set_references("grass", images(4, 2))
    assert calls == [4, 4]
    for seed in range(3):
        module.model(images(2, 10 + seed), "brick")
        module.model(images(1, 20 + seed), "grass")
    assert calls == [4, 4] + [2, 1] * 3
    dictionary = module.model._references["brick"]
    assert set(dictionary.entries) == {(p, k) for p in range(4) for k in (1, 3)}
    keys, values = dictionary.entries[(0, 1)]
    assert keys.shape == values.shape == (1, 4 * 7 * 7, 64)


def test_screw_rule_adds_rotated_references() -> None:
    torch.manual_seed(0)
    module = DictAS(
        backbone=ClipConfig("gad-tiny-vit-l", None, [6, 12, 18, 24], image_size=SIZE), official_protocol=True
    )
    model: DictASModel = module.model
    model.eval()
    model.protocol = "mvtec"
    model.set_references("screw", images(2, 1))
    model.set_references("bottle", images(2, 1))
    tokens = 4 * 4  # 56 px with 14 px patches
    assert model._references["screw"].entries[(0, 1)][0].shape[1] == 2 * 10 * tokens
    assert set(model._references["bottle"].entries) == {(p, k) for p in (0, 1) for k in (1, 3)}  # layers 6, 12
    assert model(images(1, 2), "screw").anomaly_map.shape == (1, 1, SIZE, SIZE)


def test_invalid_settings_fail_early() -> None:
    with pytest.raises(ConfigError, match="do not tap|does not tap"):
        make_module(test_layers=[6])
    with pytest.raises(ConfigError, match="include 1"):
        make_module(scales=(3,))


def test_only_generators_and_head_receive_gradients(module: DictAS) -> None:
    batch = training_batch()
    module.model.losses(batch.image, batch.support, batch.mask, batch.label, batch.category).loss.backward()
    for name, p in module.model.named_parameters():
        if name.startswith("backbone."):
            assert p.grad is None and not p.requires_grad, name
        else:
            assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_losses_are_finite_under_bf16_autocast(module: DictAS) -> None:
    batch = training_batch()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        losses = module.model.losses(batch.image, batch.support, batch.mask, batch.label, batch.category)
        module.eval()
        module.model.set_references("brick", images(2, 1))
        out = module.model(images(1, 2), "brick")
    assert all(torch.isfinite(t) for t in (losses.loss, losses.query, losses.cqc, losses.tac))
    assert torch.isfinite(out.anomaly_map).all()


@pytest.mark.slow
def test_a_few_steps_reduce_the_loss_on_a_fixed_batch(module: DictAS) -> None:
    batch = training_batch()
    module.model.generators.eval()  # no dropout: the same batch gives the same loss
    optimizer = torch.optim.Adam(module.model.trainable_parameters(), lr=1e-3, betas=(0.5, 0.999))
    history = []
    for _ in range(15):
        losses = module.model.losses(batch.image, batch.support, batch.mask, batch.label, batch.category)
        optimizer.zero_grad()
        losses.loss.backward()
        optimizer.step()
        history.append((losses.loss.item(), losses.query.item()))
    assert history[-1][0] < 0.8 * history[0][0] and history[-1][1] < history[0][1]


# ----- two-phase Value generator schedule --------------------------------------------------------------------
def _perturb(module: DictAS) -> None:
    with torch.no_grad():
        for p in module.model.trainable_parameters():
            p.add_(torch.randn_like(p))


def test_value_generator_freezes_on_the_first_non_improving_epoch(module: DictAS) -> None:
    optimizer, _ = _optimizer_and_scheduler(module)
    value_ids = {id(p) for p in module.model.value_parameters()}
    module.update_value_phase(0.30, [optimizer])
    module.update_value_phase(0.50, [optimizer])
    best = {n: p.detach().clone() for n, p in module.model.named_parameters()}
    _perturb(module)
    _train_step(module, optimizer)
    assert optimizer.state and not module.value_frozen
    module.update_value_phase(0.50, [optimizer])  # equal is not an improvement
    assert module.value_frozen and module.best_metric == 0.50
    for name, p in module.model.named_parameters():
        torch.testing.assert_close(p, best[name], msg=name)
    assert not optimizer.state
    assert all(id(p) not in value_ids for g in optimizer.param_groups for p in g["params"])
    frozen_value = [p.detach().clone() for p in module.model.value_parameters()]
    _train_step(module, optimizer)
    for before, p in zip(frozen_value, module.model.value_parameters()):
        torch.testing.assert_close(p, before)
    module.update_value_phase(0.90, [optimizer])  # later epochs change nothing
    assert module.value_frozen and module.best_metric == 0.50


def test_nan_metric_counts_as_not_improving(module: DictAS) -> None:
    optimizer, _ = _optimizer_and_scheduler(module)
    module.update_value_phase(math.nan, [optimizer])
    assert module.value_frozen


def test_phase_survives_checkpoints_and_shapes_the_optimizer(module: DictAS) -> None:
    optimizer, _ = _optimizer_and_scheduler(module)
    module.update_value_phase(0.4, [optimizer])
    checkpoint: dict = {"state_dict": module.state_dict()}
    module.on_save_checkpoint(checkpoint)
    assert checkpoint[PHASE_KEY]["snapshot"] is not None and not checkpoint[PHASE_KEY]["value_frozen"]
    module.update_value_phase(0.3, [optimizer])
    checkpoint = {"state_dict": module.state_dict()}
    module.on_save_checkpoint(checkpoint)

    resumed = make_module()
    resumed.on_load_checkpoint(checkpoint)
    assert resumed.value_frozen and resumed.best_metric == 0.4
    fresh, _ = _optimizer_and_scheduler(resumed)
    assert sum(len(g["params"]) for g in fresh.param_groups) == sum(len(g["params"]) for g in optimizer.param_groups)
    fresh.load_state_dict(optimizer.state_dict())


def test_training_step_logs_each_term_and_needs_supports(module: DictAS, monkeypatch: pytest.MonkeyPatch) -> None:
    logged: dict[str, float] = {}
    monkeypatch.setattr(module, "log", lambda name, value, **kwargs: logged.__setitem__(name, float(value)))
    monkeypatch.setattr(
        module, "log_dict", lambda values, **kwargs: logged.update({k: float(v) for k, v in values.items()})
    )
    loss = module.training_step(training_batch(), 0)
    assert {"train/loss", "train/loss_query", "train/loss_cqc", "train/loss_tac"} <= set(logged)
    module.on_train_epoch_end()  # the epoch mean that the plateau scheduler monitors
    assert "train/loss_query_epoch" in logged
    expected = logged["train/loss_query"] + 0.1 * logged["train/loss_cqc"] + 0.1 * logged["train/loss_tac"]
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    batch = training_batch()
    batch.support = None
    with pytest.raises(ConfigError, match="train_pipeline"):
        module.training_step(batch, 0)


def _optimizer_and_scheduler(module: DictAS) -> tuple[torch.optim.Optimizer, object]:
    config = module.configure_optimizers()
    return config["optimizer"], config["lr_scheduler"]


def _train_step(module: DictAS, optimizer: torch.optim.Optimizer) -> None:
    batch = training_batch(2)
    losses = module.model.losses(
        batch.image, batch.support, batch.mask, batch.label, batch.category, query_through_value=module.value_frozen
    )
    optimizer.zero_grad()
    losses.loss.backward()
    optimizer.step()


def test_hyperparameters_round_trip() -> None:
    module = make_module(lookup="dense", sigma=3.0)
    assert isinstance(module.hparams["backbone"], dict)  # plain types: checkpoints load with weights_only=True
    restored = DictAS(**module.hparams)
    assert restored.model.lookup == "dense" and restored.model.inference.sigma == 3.0
    shapes = {k: v.shape for k, v in module.state_dict().items()}
    assert {k: v.shape for k, v in restored.state_dict().items()} == shapes  # the same architecture is rebuilt
