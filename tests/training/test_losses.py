"""Vid-ODE objective (Eq. 3-7) on known inputs."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from hurricane_ode.config import LossConfig
from hurricane_ode.data.clips import Clip
from hurricane_ode.models.base import ModelOutput
from hurricane_ode.training.losses import (
    difference_loss,
    discriminator_loss,
    generator_loss,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
    reconstruction_loss,
    sequence_pairs,
    target_differences,
)

B, T, K, C, H, W = 2, 3, 4, 2, 5, 6


def make_batch(seed: int = 0) -> Clip:
    g = torch.Generator().manual_seed(seed)
    return Clip(
        inputs=torch.randn(B, T, C, H, W, generator=g),
        input_times=torch.tensor([[0.0, 3.0, 6.0]] * B),
        input_mask=torch.ones(B, T, dtype=torch.bool),
        targets=torch.randn(B, K, C, H, W, generator=g),
        target_times=torch.tensor([[9.0, 12.0, 15.0, 18.0]] * B),
        target_mask=torch.ones(B, K, dtype=torch.bool),
    )


class Const(nn.Module):
    """A 'discriminator' that scores every sample ``value`` (and records what it saw)."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value
        self.seen: list[torch.Tensor] = []

    def forward(self, x):
        self.seen.append(x)
        return torch.full((x.shape[0], 1), self.value) + 0 * x.flatten(1).sum(1, keepdim=True)


def test_perfect_prediction_has_zero_recon_and_diff():
    batch = make_batch()
    delta, mask = target_differences(batch)
    out = ModelOutput(frames=batch.targets.clone(), difference=delta)
    assert reconstruction_loss(out, batch) == 0
    assert difference_loss(out, batch) == 0
    assert mask.all()


def test_l1_values_and_target_mask():
    batch = make_batch()
    frames = batch.targets + 0.5
    frames[0, 2] += 100.0  # a missing target: must not count
    batch.target_mask[0, 2] = False
    out = ModelOutput(frames=frames, difference=None)
    assert reconstruction_loss(out, batch).item() == pytest.approx(0.5)
    assert difference_loss(out, batch) is None
    # the difference after a missing target is undefined too
    _, mask = target_differences(batch)
    assert mask[0].tolist() == [True, True, False, False] and mask[1].all()


def test_difference_starts_from_reference_frame():
    batch = make_batch()
    batch.input_mask[:, -1] = False  # last input unobserved: X_s0 is the one before it
    delta, _ = target_differences(batch)
    assert torch.equal(delta[:, 0], batch.targets[:, 0] - batch.inputs[:, 1])
    assert torch.equal(delta[:, 2], batch.targets[:, 2] - batch.targets[:, 1])


def test_lsgan_values():
    real, fake = torch.full((4, 1), 0.25), torch.full((4, 1), 0.75)
    assert lsgan_generator_loss(fake).item() == pytest.approx(0.0625)
    assert lsgan_discriminator_loss(real, fake).item() == pytest.approx(0.5625 + 0.5625)
    assert lsgan_discriminator_loss(torch.ones(3), torch.zeros(3)).item() == 0.0


def test_extrapolation_sequence_windows_follow_eq4():
    batch = make_batch()
    gen = torch.randn(B, K, C, H, W)
    real, fake = sequence_pairs(batch, gen, "extrapolation")
    assert real.shape == fake.shape == (B * K, T + 1, C, H, W)
    full = torch.cat([batch.inputs, batch.targets], 1)
    for b in range(B):
        for i in range(K):  # window i: X_{t_i..T} + X_{s_1..s_i}, i.e. full[i : T + i + 1]
            r, f = real[b * K + i], fake[b * K + i]
            assert torch.equal(r, full[b, i : T + i + 1])
            assert torch.equal(f[:-1], full[b, i : T + i])  # real frames up to s_{i-1}
            assert torch.equal(f[-1], gen[b, i])  # generated X_hat_{s_i}


def test_interpolation_sequence_is_time_ordered_with_generated_targets():
    batch = make_batch()
    batch.target_times[:] = torch.tensor([1.5, 4.5, 6.0, 7.5])
    gen = torch.randn(B, K, C, H, W)
    real, fake = sequence_pairs(batch, gen, "interpolation")
    assert real.shape == (B, T + K, C, H, W)
    # times 0, 1.5, 3, 4.5, 6 (input), 6 (target), 7.5
    order_real = [batch.inputs[0, 0], batch.targets[0, 0], batch.inputs[0, 1], batch.targets[0, 1],
                  batch.inputs[0, 2], batch.targets[0, 2], batch.targets[0, 3]]  # fmt: skip
    for got, want in zip(real[0], order_real):
        assert torch.equal(got, want)
    assert torch.equal(fake[0, 1], gen[0, 0]) and torch.equal(fake[0, 0], batch.inputs[0, 0])
    with pytest.raises(ValueError, match="unknown task"):
        sequence_pairs(batch, gen, "sideways")


def test_missing_targets_stay_real_in_fake_sequences():
    batch = make_batch()
    batch.target_mask[1, 0] = False
    gen = torch.randn(B, K, C, H, W)
    _, fake = sequence_pairs(batch, gen, "extrapolation")
    assert torch.equal(fake[1 * K + 0, -1], batch.targets[1, 0])


def test_total_objective_eq7_with_constant_discriminators():
    batch = make_batch()
    delta, _ = target_differences(batch)
    out = ModelOutput(
        frames=batch.targets + 1.0,
        difference=delta - 2.0,
        aux_losses={"kl": torch.tensor(0.125)},
    )
    w = LossConfig(lambda_diff=0.5, lambda_img=0.1, lambda_seq=0.2)
    discs = {"img": Const(0.5), "seq": Const(-1.0)}
    total, terms = generator_loss(out, batch, w, discs, "extrapolation")
    expected = 1.0 + 0.5 * 2.0 + 0.1 * 0.25 + 0.2 * 4.0 + 0.125
    assert total.item() == pytest.approx(expected)
    assert terms["g_img"].item() == pytest.approx(0.25) and terms["g_seq"].item() == pytest.approx(
        4.0
    )
    assert terms["aux_kl"].item() == 0.125 and terms["loss"].item() == pytest.approx(expected)
    assert discs["img"].seen[0].shape == (B * K, C, H, W)
    # no discriminators: recon + diff + aux only
    total, terms = generator_loss(out, batch, w, None)
    assert total.item() == pytest.approx(1.0 + 1.0 + 0.125) and "g_img" not in terms

    d_total, d_terms = discriminator_loss(out.frames, batch, {"img": Const(1.0), "seq": Const(0.5)})
    # img: (1-1)^2 + 1^2 = 1 ; seq: (0.5-1)^2 + 0.5^2 = 0.5
    assert d_terms["d_img"].item() == pytest.approx(1.0)
    assert d_terms["d_seq"].item() == pytest.approx(0.5)
    assert d_total.item() == pytest.approx(1.5)


def test_generator_gradients_reach_frames_but_discriminator_step_is_detached():
    batch = make_batch()
    frames = (batch.targets + 0.1).requires_grad_(True)
    d = nn.ModuleDict({"img": nn.Conv2d(C, 1, 3), "seq": nn.Conv3d(C, 1, 3, padding=1)})

    class SeqWrap(nn.Module):
        def __init__(self, conv):
            super().__init__()
            self.conv = conv

        def forward(self, x):
            return self.conv(x.transpose(1, 2))

    discs = {"img": d["img"], "seq": SeqWrap(d["seq"])}
    total, _ = generator_loss(ModelOutput(frames=frames), batch, LossConfig(), discs)
    total.backward()
    assert frames.grad is not None and frames.grad.abs().sum() > 0
    d_total, _ = discriminator_loss(frames, batch, discs)
    frames.grad = None
    d_total.backward()
    assert frames.grad is None and d["img"].weight.grad is not None


def test_sequence_loss_counts_every_generated_frame_as_fake_and_scores_target_windows():
    from hurricane_ode.models.discriminators import SequenceDiscriminator
    from hurricane_ode.training.losses import sequence_clips

    batch = make_batch()
    gen = torch.randn(B, K, C, H, W)
    real, fake = sequence_clips(batch, gen, "extrapolation")
    assert real.shape == fake.shape == (B, T + K, C, H, W)
    assert torch.equal(fake[:, T:], gen) and torch.equal(fake[:, :T], batch.inputs)
    seen = []
    d = SequenceDiscriminator(C, base_channels=4, n_layers=1, window=T + 1)
    d.register_forward_hook(lambda mod, args, out: seen.append(out.shape))
    discs = {"img": Const(0.0), "seq": d}
    generator_loss(ModelOutput(frames=gen), batch, LossConfig(), discs, "extrapolation")
    assert seen[-1][:3] == (B, 1, K)  # only the K windows that end at a target
    discriminator_loss(gen, batch, discs, "extrapolation")
    assert seen[-1][:3] == (2 * B, 1, K)  # real and fake in one call
    # the one-call D loss equals separate calls
    real_s, fake_s = d(real, last=K), d(fake, last=K)
    _, terms = discriminator_loss(gen, batch, discs, "extrapolation")
    assert terms["d_seq"].item() == pytest.approx(lsgan_discriminator_loss(real_s, fake_s).item(), rel=1e-5)


def test_image_gan_terms_ignore_missing_targets_without_mask_indexing():
    torch.manual_seed(0)
    batch = make_batch()
    batch.target_mask[0, 1] = False
    batch.targets[0, 1] = float("nan")  # a missing target's content must not leak
    gen = torch.randn(B, K, C, H, W)
    d = nn.Conv2d(C, 1, 3)
    discs = {"img": d, "seq": Const(0.0)}
    _, terms = generator_loss(ModelOutput(frames=gen), batch, LossConfig(), discs)
    valid = batch.target_mask.reshape(-1)
    want = ((d(gen.flatten(0, 1)[valid]) - 1) ** 2).mean()
    assert terms["g_img"].item() == pytest.approx(want.item(), rel=1e-5)
    _, dterms = discriminator_loss(gen, batch, discs)
    real = batch.targets.flatten(0, 1)[valid]
    want_d = ((d(real) - 1) ** 2).mean() + (d(gen.flatten(0, 1)[valid]) ** 2).mean()
    assert math.isfinite(dterms["d_img"].item())
    assert dterms["d_img"].item() == pytest.approx(want_d.item(), rel=1e-5)


def test_gradient_loss_charges_a_blurred_field_and_enters_the_total_only_when_weighted():
    from hurricane_ode.training.losses import gradient_loss

    batch = make_batch()
    exact = ModelOutput(frames=batch.targets.clone())
    assert gradient_loss(exact, batch) == 0
    # a box-blurred forecast: small L1 change, but its gradients are weaker than the truth's
    blurred = batch.targets.clone()
    blurred[..., 1:-1, 1:-1] = sum(batch.targets[..., 1 + a : H - 1 + a, 1 + b : W - 1 + b]
                                   for a in (-1, 0, 1) for b in (-1, 0, 1)) / 9.0  # fmt: skip
    blur = ModelOutput(frames=blurred)
    assert gradient_loss(blur, batch) > 0.3
    # a uniform offset changes L1 but not one gradient
    shifted = ModelOutput(frames=batch.targets + 2.0)
    assert float(gradient_loss(shifted, batch)) < 1e-6 and reconstruction_loss(shifted, batch) == pytest.approx(2.0)
    total0, terms0 = generator_loss(blur, batch, LossConfig())
    total1, terms1 = generator_loss(blur, batch, LossConfig(lambda_grad=0.5))
    assert "grad" not in terms0 and "grad" in terms1
    assert float(total1 - total0) == pytest.approx(0.5 * float(terms1["grad"]), rel=1e-5)


def test_intensity_loss_is_the_error_of_the_deepest_minimum():
    from hurricane_ode.training.losses import intensity_loss

    batch = make_batch()
    assert intensity_loss(ModelOutput(frames=batch.targets.clone()), batch, 1) == 0
    filled = batch.targets.clone()
    true_min = batch.targets[:, :, 1].flatten(2).amin(2)
    filled[:, :, 1] = torch.maximum(filled[:, :, 1], true_min[..., None, None] + 0.5)  # fill the lows by 0.5
    assert float(intensity_loss(ModelOutput(frames=filled), batch, 1)) == pytest.approx(0.5, rel=1e-5)
    moved = ModelOutput(frames=batch.targets.flip(-1))  # the same low elsewhere costs nothing
    assert float(intensity_loss(moved, batch, 1)) < 1e-6
    total0, _ = generator_loss(ModelOutput(frames=filled), batch, LossConfig())
    total1, terms = generator_loss(ModelOutput(frames=filled), batch, LossConfig(lambda_intensity=2.0, intensity_channel=1))
    assert float(total1 - total0) == pytest.approx(1.0, rel=1e-4) and "intensity" in terms
    with pytest.raises(ValueError, match="channel 5"):
        intensity_loss(ModelOutput(frames=filled), batch, 5)


def stormy_batch():
    """``(batch, the same with a "storm" in the top-left 2 x 2 corner of every target)``."""
    from dataclasses import replace

    batch = make_batch()
    b, k, c, h, w = batch.targets.shape
    weights = torch.zeros(b, k, h, w)
    weights[..., :2, :2] = 1.0
    return batch, replace(batch, target_weights=weights)


def test_storm_loss_weighs_the_error_near_storms_only():
    from hurricane_ode.training.losses import storm_loss

    batch, stormy = stormy_batch()
    far = batch.targets.clone()
    far[..., 3:, 3:] += 4.0  # an error away from the storm: free
    assert float(storm_loss(ModelOutput(frames=far), stormy)) == 0
    near = batch.targets.clone()
    near[..., :2, :2] += 4.0  # the same error on the storm: the whole weighted mean
    assert float(storm_loss(ModelOutput(frames=near), stormy)) == pytest.approx(4.0, rel=1e-5)
    total0, _ = generator_loss(ModelOutput(frames=near), stormy, LossConfig())
    total1, terms = generator_loss(ModelOutput(frames=near), stormy, LossConfig(lambda_storm=0.5))
    assert float(total1 - total0) == pytest.approx(2.0, rel=1e-4) and "storm" in terms
    with pytest.raises(ValueError, match="storm_sigma_km"):
        generator_loss(ModelOutput(frames=near), batch, LossConfig(lambda_storm=0.5))


def test_lead_weighting_makes_each_lead_count_by_its_persistence_error():
    from dataclasses import replace

    from hurricane_ode.training.losses import lead_weighted_l1

    batch = make_batch()
    last = batch.inputs[:, -1:]
    # truth drifts away from the last input: persistence error grows 1, 2, 3, 4 with lead
    targets = last + torch.arange(1.0, K + 1)[None, :, None, None, None]
    batch = replace(batch, targets=targets)
    # the same absolute error at lead 1 weighs 4 times what it weighs at lead 4
    early, late = targets.clone(), targets.clone()
    early[:, 0] += 1.0
    late[:, 3] += 1.0
    le = float(lead_weighted_l1(ModelOutput(frames=early), batch))
    ll = float(lead_weighted_l1(ModelOutput(frames=late), batch))
    assert le == pytest.approx(4 * ll, rel=1e-5)
    # w_1 = mean(P) / P_1, and the error sits at one of the K leads
    p = torch.arange(1.0, K + 1)
    assert le == pytest.approx(float(p.mean() / p[0]) / K, rel=1e-5)
    # persistence itself scores the same as under Eq. 5 (weights * errors = mean error)
    pers = last.expand_as(targets).clone()
    assert float(lead_weighted_l1(ModelOutput(frames=pers), batch)) == pytest.approx(float(p.mean()), rel=1e-5)
    # a missing lead drops out; the loss config switches Eq. 5 for it
    masked = replace(batch, target_mask=batch.target_mask.clone().index_fill_(1, torch.tensor([0]), False))
    assert float(lead_weighted_l1(ModelOutput(frames=early), masked)) == 0
    total, terms = generator_loss(ModelOutput(frames=early), batch, LossConfig(lead_weighting="persistence"))
    assert float(terms["recon"]) == pytest.approx(le, rel=1e-5)


def test_mask_loss_pulls_towards_the_warped_frame():
    from hurricane_ode.training.losses import mask_loss

    batch = make_batch()
    b, k, c, h, w = batch.targets.shape
    warped_only = ModelOutput(frames=batch.targets.clone(), mask=torch.ones(b, k, 1, h, w))
    assert float(mask_loss(warped_only, batch)) == 0
    half = torch.ones(b, k, 1, h, w)
    half[:, 1] = 0.0  # one of the K frames entirely from the other path
    out = ModelOutput(frames=batch.targets.clone(), mask=half)
    assert float(mask_loss(out, batch)) == pytest.approx(1 / k)
    total0, _ = generator_loss(out, batch, LossConfig())
    total1, terms = generator_loss(out, batch, LossConfig(lambda_mask=2.0))
    assert float(total1 - total0) == pytest.approx(2 / k, rel=1e-5) and "mask" in terms
    with pytest.raises(ValueError, match="lambda_mask"):
        generator_loss(ModelOutput(frames=batch.targets.clone()), batch, LossConfig(lambda_mask=1.0))


def test_storm_mask_loss_pulls_the_mask_up_near_storms_only():
    from dataclasses import replace

    from hurricane_ode.training.losses import storm_mask_loss

    batch, stormy = stormy_batch()
    b, k, c, h, w = batch.targets.shape
    mask = torch.ones(b, k, 1, h, w)
    mask[..., 3:, 3:] = 0.0  # the other path away from the storm: free
    out = ModelOutput(frames=batch.targets.clone(), mask=mask)
    assert float(storm_mask_loss(out, stormy)) == 0
    mask[..., :2, :2] = 0.25  # on the storm: 1 - M, the weighted mean
    assert float(storm_mask_loss(out, stormy)) == pytest.approx(0.75, rel=1e-6)
    missing = replace(stormy, target_mask=torch.zeros_like(batch.target_mask))
    assert float(storm_mask_loss(out, missing)) == 0  # missing targets never count
    total0, _ = generator_loss(out, stormy, LossConfig())
    total1, terms = generator_loss(out, stormy, LossConfig(lambda_storm_mask=2.0))
    assert float(total1 - total0) == pytest.approx(1.5, rel=1e-5) and "storm_mask" in terms
    with pytest.raises(ValueError, match="storm_sigma_km"):
        generator_loss(out, batch, LossConfig(lambda_storm_mask=1.0))
    with pytest.raises(ValueError, match="lambda_storm_mask"):
        generator_loss(ModelOutput(frames=batch.targets.clone()), stormy, LossConfig(lambda_storm_mask=1.0))


def test_storm_flow_loss_is_the_weighted_l1_of_the_flow_against_the_storm_motion():
    from dataclasses import replace

    from hurricane_ode.training.losses import storm_flow_loss

    batch = make_batch()
    b, k, c, h, w = batch.targets.shape
    motion = torch.zeros(b, k, 3, h, w)
    motion[:, :, 0, :2, :2] = -2.0  # the storm moved 2 pixels east: the warp samples 2 to the west
    motion[:, :, 2, :2, :2] = 1.0
    stormy = replace(batch, target_motion=motion)
    flow = torch.zeros(b, k, 2, h, w)
    flow[:, :, 1, 3:, 3:] = 5.0  # flow away from the storm: free
    out = ModelOutput(frames=batch.targets.clone(), flow=flow)
    assert float(storm_flow_loss(out, stormy)) == pytest.approx(2.0)  # |0 - (-2)| on the storm
    flow[:, :, 0, :2, :2] = -2.0
    assert float(storm_flow_loss(out, stormy)) == 0
    flow[:, :, 1, :2, :2] = 0.5
    total0, _ = generator_loss(out, stormy, LossConfig())
    total1, terms = generator_loss(out, stormy, LossConfig(lambda_storm_flow=2.0))
    assert float(total1 - total0) == pytest.approx(1.0, rel=1e-5) and "storm_flow" in terms
    missing = replace(stormy, target_mask=torch.zeros_like(batch.target_mask))
    assert float(storm_flow_loss(out, missing)) == 0  # missing targets never count
    with pytest.raises(ValueError, match="target_motion"):
        storm_flow_loss(out, batch)
    with pytest.raises(ValueError, match="use_warp"):
        storm_flow_loss(ModelOutput(frames=batch.targets.clone()), stormy)
