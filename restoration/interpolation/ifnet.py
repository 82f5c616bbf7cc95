"""RIFE's IFNet, the 4.25/4.26 layout (Practical-RIFE, MIT), written for this project.

Five blocks refine a flow field from coarse to fine (motion first seen at 1/16 of the frame, last at
full size; at 1/32 to 1/2 when motion is estimated at half resolution). Each block takes both frames
warped by the flow so far, both frames' features warped likewise, the moment ``t``, the last mask and
the last block's hidden features, and returns a flow correction, a new mask and new features. The
in-between frame is the two warped frames mixed by the final mask.

The parameter names follow the published ``flownet.pkl`` files (``block0``..``block4``, ``encode``),
so those load as they are. A frame's features (``encode``) do not depend on the other frame: they are
computed once per frame (``features``) and reused for every pair the frame is in.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

BLOCK_WIDTHS = (192, 128, 96, 64, 32)
FEATURES = 4  # channels of a frame's features (``encode``)
HIDDEN = 8  # hidden features a block hands to the next
STEPS = (16, 8, 4, 2, 1)  # how much smaller than the frame each block sees it (motion at full resolution)


def _act() -> nn.LeakyReLU:
    return nn.LeakyReLU(0.2, inplace=True)


class _Encoder(nn.Module):
    """A frame's features: 16 channels at half size, back to full size as ``FEATURES`` channels."""

    def __init__(self) -> None:
        super().__init__()
        self.cnn0 = nn.Conv2d(3, 16, 3, 2, 1)
        self.cnn1 = nn.Conv2d(16, 16, 3, 1, 1)
        self.cnn2 = nn.Conv2d(16, 16, 3, 1, 1)
        self.cnn3 = nn.ConvTranspose2d(16, FEATURES, 4, 2, 1)
        self.act = _act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.cnn0(x))
        x = self.act(self.cnn1(x))
        x = self.act(self.cnn2(x))
        return self.cnn3(x)


class _Residual(nn.Module):
    """A 3x3 convolution with a learned per-channel gain, added to its input."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, 1, 1)
        self.beta = nn.Parameter(torch.ones(1, c, 1, 1))
        self.act = _act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x) * self.beta + x)


def _down(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, 2, 1), _act())


class _Block(nn.Module):
    """One refinement step at 1/``step`` of the frame: flow (4 channels, both directions), mask (1) and
    hidden features (``HIDDEN``), all at the frame's size."""

    def __init__(self, c_in: int, c: int) -> None:
        super().__init__()
        self.conv0 = nn.Sequential(_down(c_in, c // 2), _down(c // 2, c))
        self.convblock = nn.Sequential(*(_Residual(c) for _ in range(8)))
        self.lastconv = nn.Sequential(nn.ConvTranspose2d(c, 4 * (4 + 1 + HIDDEN), 4, 2, 1), nn.PixelShuffle(2))

    def forward(self, parts: list[torch.Tensor], flow: torch.Tensor | None, step: float
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``parts``: full-size fp32 inputs, each made ``step`` times smaller before they are joined (the
        same as joining first: bilinear resizing treats channels alone, and joining small costs less).
        The convolutions run in the block's own precision; what comes out is fp32 at full size."""
        small = [F.interpolate(p, scale_factor=1.0 / step, mode="bilinear", align_corners=False) for p in parts]
        if flow is not None:
            small.append(F.interpolate(flow, scale_factor=1.0 / step, mode="bilinear", align_corners=False) / step)
        weight = self.conv0[0][0].weight
        x = torch.cat(small, 1).to(weight.dtype)
        if weight.dtype == torch.bfloat16 and x.device.type == "cpu":
            x = x.contiguous(memory_format=torch.channels_last)
        out = self.lastconv(self.convblock(self.conv0(x))).float()
        out = F.interpolate(out, scale_factor=step, mode="bilinear", align_corners=False)
        return out[:, :4] * step, out[:, 4:5], out[:, 5:]


class IFNet(nn.Module):
    """RIFE 4.25/4.26. ``features(frame)`` once per frame; ``forward(a, b, fa, fb, t)`` for each moment.

    Frames are fp32 (N, 3, H, W) in [0, 1], H and W multiples of ``multiple(coarse)``. ``coarse``:
    1 estimates motion from 1/16 to full size (RIFE's own setting up to 1080p), 2 from 1/32 to 1/2
    (what its authors use for 4K). Only the convolutions run in the network's own precision (bf16 or
    fp16 where chosen), on the small pictures inside each block; the full-size frames, the flow, the
    sampling positions and the warps stay fp32.
    """

    def __init__(self) -> None:
        super().__init__()
        c_first = 3 + 3 + 2 * FEATURES + 1
        c_next = c_first + 1 + HIDDEN + 4
        for i, width in enumerate(BLOCK_WIDTHS):
            self.add_module(f"block{i}", _Block(c_first if i == 0 else c_next, width))
        self.encode = _Encoder()
        self._grids: dict[tuple[int, int, str], torch.Tensor] = {}

    @staticmethod
    def multiple(coarse: int = 1) -> int:
        """What a frame's sides must be a multiple of: the coarsest block sees 1/(16*coarse) of the frame
        and halves that twice."""
        return 64 * coarse

    def features(self, frame: torch.Tensor) -> torch.Tensor:
        """A frame's features (fp32), computed in the network's precision."""
        weight = self.encode.cnn0.weight
        x = frame.to(weight.dtype)
        if weight.dtype == torch.bfloat16 and x.device.type == "cpu":
            x = x.contiguous(memory_format=torch.channels_last)
        return self.encode(x).float().contiguous()

    def forward(self, a: torch.Tensor, b: torch.Tensor, fa: torch.Tensor, fb: torch.Tensor,
                t: float | torch.Tensor, coarse: int = 1) -> torch.Tensor:
        """The frame at moment ``t`` between ``a`` and ``b`` (fp32, with their ``features``), fp32."""
        n, _, h, w = a.shape
        moment = t if torch.is_tensor(t) else torch.tensor(float(t))
        moment = moment.to(a).reshape(-1, 1, 1, 1).expand(n, 1, h, w)
        blocks = [getattr(self, f"block{i}") for i in range(len(BLOCK_WIDTHS))]
        flow, mask, hidden = blocks[0]([a, b, fa, fb, moment], None, STEPS[0] * coarse)
        wa, wb = self.warp(a, flow[:, :2]), self.warp(b, flow[:, 2:])
        for block, step in zip(blocks[1:], STEPS[1:], strict=True):
            parts = [wa, wb, self.warp(fa, flow[:, :2]), self.warp(fb, flow[:, 2:]), moment, mask, hidden]
            delta, mask, hidden = block(parts, flow, step * coarse)
            flow = flow + delta
            wa, wb = self.warp(a, flow[:, :2]), self.warp(b, flow[:, 2:])
        mask = torch.sigmoid(mask)
        return wa * mask + wb * (1 - mask)

    def warp(self, x: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        """``x`` (fp32) sampled at each pixel's position plus ``flow`` (in pixels), bilinear, edges
        repeated."""
        h, w = x.shape[-2:]
        key = (h, w, str(x.device))
        grid = self._grids.get(key)
        if grid is None:
            ys, xs = torch.meshgrid(torch.linspace(-1.0, 1.0, h, device=x.device),
                                    torch.linspace(-1.0, 1.0, w, device=x.device), indexing="ij")
            grid = self._grids[key] = torch.stack((xs, ys), -1)[None]
        per_pixel = torch.tensor([2.0 / (w - 1), 2.0 / (h - 1)], device=x.device)
        where = grid + flow.float().permute(0, 2, 3, 1) * per_pixel
        return F.grid_sample(x, where, mode="bilinear", padding_mode="border", align_corners=True)
