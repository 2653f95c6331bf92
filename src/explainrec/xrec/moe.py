"""The collaborative information adapter (paper 001 §3.2.1): a mixture of linear experts.

As in XRec's released code (``MoEAdaptorLayer``): ``experts`` bias-free linear maps from
the graph embedding (64) to the LLM's hidden size, each initialised N(0, 0.02) and fed
``dropout(x) - b`` with a learned input offset ``b`` that starts at zero (the code's
"parametric whitening"); a soft gate over all experts (no top-k), ``softmax(x W_gate)``,
with, in training only, Gaussian noise of std ``softplus(x W_noise) + 0.01`` on the gate
logits. ``W_gate`` and ``W_noise`` start at zero, so an untrained adapter averages its
experts. One adapter maps users, another items.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from explainrec.core.config import check_bool, check_int, check_number


@dataclass(frozen=True)
class MoEConfig:
    """``xrec.moe``: experts per adapter, input dropout and the gate's noise floor."""

    experts: int = 8
    dropout: float = 0.2
    noise_epsilon: float = 0.01
    noisy_gating: bool = True

    def __post_init__(self) -> None:
        check_int(self.experts, "experts")
        check_number(self.dropout, "dropout", 0.0, 1.0, high_open=True)
        check_number(self.noise_epsilon, "noise_epsilon", 0.0, 1.0)
        check_bool(self.noisy_gating, "noisy_gating")


class Expert(nn.Module):
    """``W (dropout(x) - b)``: a bias-free linear map after a learned input offset."""

    def __init__(self, d_in: int, d_out: int, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.offset = nn.Parameter(torch.zeros(d_in))
        self.linear = nn.Linear(d_in, d_out, bias=False)
        nn.init.normal_(self.linear.weight, mean=0.0, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.dropout(x) - self.offset)


class MoEAdapter(nn.Module):
    """``sum_e gate_e(x) * expert_e(x)``, from ``d_in`` to ``d_out``."""

    def __init__(self, d_in: int, d_out: int, config: MoEConfig = MoEConfig()):
        super().__init__()
        self.config = config
        self.experts = nn.ModuleList(Expert(d_in, d_out, config.dropout) for _ in range(config.experts))
        self.w_gate = nn.Parameter(torch.zeros(d_in, config.experts))
        self.w_noise = nn.Parameter(torch.zeros(d_in, config.experts))

    def gates(self, x: torch.Tensor) -> torch.Tensor:
        """[B, experts] soft gates; noisy only in training mode."""
        logits = x @ self.w_gate
        if self.config.noisy_gating and self.training:
            std = F.softplus(x @ self.w_noise) + self.config.noise_epsilon
            logits = logits + torch.randn_like(logits) * std
        return torch.softmax(logits, dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gates = self.gates(x)
        outs = torch.stack([e(x) for e in self.experts], dim=-2)
        return (gates.unsqueeze(-1) * outs).sum(dim=-2)


class Adapters(nn.Module):
    """The user and the item adapter, from the graph's width to the LLM's hidden size."""

    def __init__(self, d_graph: int, hidden: int, config: MoEConfig = MoEConfig()):
        super().__init__()
        self.user = MoEAdapter(d_graph, hidden, config)
        self.item = MoEAdapter(d_graph, hidden, config)

    @property
    def device(self) -> torch.device:
        """Where the adapters' weights are (their inputs go there)."""
        return self.user.w_gate.device

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Adapted vectors for ``users`` and ``items`` ([B, d_graph] each, moved to :attr:`device`)."""
        w = self.user.w_gate
        users, items = users.to(device=w.device, dtype=w.dtype), items.to(device=w.device, dtype=w.dtype)
        return self.user(users), self.item(items)
