import pytest
import torch

from hurricane_ode.data.clips import Clip, collate_clips


def make_clip(t_in=5, t_out=3, c=3, h=8, w=10, offset=0.0):
    return Clip(
        inputs=torch.randn(t_in, c, h, w),
        input_times=torch.arange(t_in, dtype=torch.float32) * 6 + offset,
        input_mask=torch.ones(t_in, dtype=torch.bool),
        targets=torch.randn(t_out, c, h, w),
        target_times=torch.arange(t_out, dtype=torch.float32) * 3 + 30,
        target_mask=torch.ones(t_out, dtype=torch.bool),
    )


@pytest.mark.parametrize("c", [1, 3, 7])
def test_collate_keeps_per_sample_times(c):
    batch = collate_clips([make_clip(c=c), make_clip(c=c, offset=1.5)])
    assert batch.batched and batch.inputs.shape == (2, 5, c, 8, 10)
    assert batch.input_times.shape == (2, 5)
    assert batch.input_times[1, 0] == 1.5
    assert batch.n_channels == c and batch.image_size == (8, 10)


def test_schema_errors_name_the_field():
    clip = make_clip()
    with pytest.raises(ValueError, match="input_times"):
        Clip(**{**clip.__dict__, "input_times": torch.zeros(4)})
    with pytest.raises(ValueError, match="targets"):
        Clip(**{**clip.__dict__, "targets": torch.zeros(3, 2, 8, 10)})
    with pytest.raises(ValueError, match="mask"):
        Clip(**{**clip.__dict__, "input_mask": torch.ones(5)})
    with pytest.raises(ValueError, match=r"target_weights must be a float tensor of shape \(3, 8, 10\)"):
        Clip(**{**clip.__dict__, "target_weights": torch.ones(3, 1, 8, 10)})  # no channel axis
    weighted = Clip(**{**clip.__dict__, "target_weights": torch.rand(3, 8, 10)})
    assert weighted.to("cpu").target_weights.shape == (3, 8, 10) and clip.to("cpu").target_weights is None
