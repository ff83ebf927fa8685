"""Policies and what they need: output parsing, history processing, prompt templates, the litellm adapter.

Nothing here imports litellm at import time; `model.LiteLLMModel` imports it on first use.
"""

from mlgym_tui.agents.errors import (
    ContextWindowExceeded,
    CostLimitExceeded,
    FormatLimitExceeded,
    ModelAPIError,
    PolicyError,
)
from mlgym_tui.agents.parser import FormatError, ParsedAction, parse_response
from mlgym_tui.agents.proposal import Policy, Proposal

__all__ = [
    "ContextWindowExceeded",
    "CostLimitExceeded",
    "FormatError",
    "FormatLimitExceeded",
    "ModelAPIError",
    "ParsedAction",
    "Policy",
    "PolicyError",
    "Proposal",
    "parse_response",
]
