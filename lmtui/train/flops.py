"""Training FLOPs per token and the GPU's dense bf16 peak: the two halves of MFU.

MFU (model FLOPs utilisation, PaLM appendix B) = tokens/s x FLOPs per token / (peak FLOP/s x
processes).
"""

from __future__ import annotations

import torch

from lmtui.train.model import parameter_counts


def flops_per_token(model, seq_len: int, mlm_fraction: float) -> float:
    """Training FLOPs per token: 6N + 12*L*H*T + 6*H*V*f.

    N is non-embedding parameters without the vocabulary projection, L layers, H hidden size,
    T sequence length, V vocabulary size, f the fraction of positions reaching the MLM head
    (Kaplan et al. 2020 / PaLM appendix B accounting, as stated in the lmtui speed issue).
    """
    cfg = model.config
    hidden = getattr(cfg, "hidden_size", None) or cfg.dim
    layers = getattr(cfg, "num_hidden_layers", None) or cfg.n_layers
    vocab = cfg.vocab_size
    _, non_embedding = parameter_counts(model)
    out = model.get_output_embeddings()
    if out is not None and out.weight is not model.get_input_embeddings().weight:  # untied projection
        non_embedding -= out.weight.numel()
    return 6 * non_embedding + 12 * layers * hidden * seq_len + 6 * hidden * vocab * mlm_fraction


GPU_PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "H800": 989e12, "A100": 312e12, "A10": 125e12,
                 "L4": 121e12, "L40": 181e12, "L40S": 362e12, "4090": 165e12, "3090": 71e12, "V100": 125e12,
                 "T4": 65e12}
"""Dense (no sparsity) bf16 tensor-core peak FLOP/s by the model name in the CUDA device name,
from NVIDIA's datasheets (L40S: "BF16 Tensor Core 362.05 TFLOPS", 733 with sparsity; L40:
181.05; L4: 121)."""


def peak_flops_for(device_name: str) -> float | None:
    """Dense bf16 peak FLOP/s of the GPU called ``device_name`` (``torch.cuda.get_device_name()``),
    or None if unknown. The longest key the name contains wins: "NVIDIA L40S" is an L40S, not an
    L4 or an L40; "NVIDIA A100-SXM4-40GB" an A100, not an A10."""
    matches = [key for key in GPU_PEAK_BF16 if key in device_name]
    return GPU_PEAK_BF16[max(matches, key=len)] if matches else None


def gpu_peak_flops() -> float | None:
    """Dense bf16 peak FLOP/s of the current CUDA device, or None without CUDA or for an unknown GPU."""
    if not torch.cuda.is_available():
        return None
    return peak_flops_for(torch.cuda.get_device_name())
