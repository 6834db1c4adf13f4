"""Training-free nearest-neighbour patch-residual baseline."""

from gad.models.patch_residual.lightning_model import PatchResidual
from gad.models.patch_residual.torch_model import PatchResidualModel

__all__ = ["PatchResidual", "PatchResidualModel"]
