"""Baselines behind the same interface as VidODE; importing this package registers them.

Names (``ModelConfig.name``): ``convgru_delta_t``, ``convgru_decay``, ``latent_ode``,
``ode2vae``, ``vid_rnn`` (trainable) and ``persistence``, ``linear_blend``, ``advection``
(``trainable = False``: no parameters, evaluation only).
"""

from hurricane_ode.models.baselines.advection import Advection
from hurricane_ode.models.baselines.convgru_decay import ConvGRUDecay
from hurricane_ode.models.baselines.convgru_delta_t import ConvGRUDeltaT
from hurricane_ode.models.baselines.latent_ode import LatentODE
from hurricane_ode.models.baselines.linear_blend import LinearBlend
from hurricane_ode.models.baselines.ode2vae import ODE2VAE
from hurricane_ode.models.baselines.persistence import Persistence
from hurricane_ode.models.baselines.vid_rnn import VidRNN

__all__ = ["Advection", "ConvGRUDecay", "ConvGRUDeltaT", "LatentODE", "LinearBlend", "ODE2VAE", "Persistence", "VidRNN"]
