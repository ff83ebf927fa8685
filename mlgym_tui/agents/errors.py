"""Why a policy could not produce an action. The episode runner maps each to an MLGym exit status (runner.POLICY_EXITS)."""

from __future__ import annotations


class PolicyError(Exception):
    """Base class; the message is one line meant for people."""


class FormatLimitExceeded(PolicyError):
    """Too many malformed answers in a row (exit_format)."""


class CostLimitExceeded(PolicyError):
    """The accumulated model cost reached the limit before a query (autosubmission (exit_cost))."""


class ContextWindowExceeded(PolicyError):
    """The prompt no longer fits the model's context window (autosubmission (exit_context))."""


class ModelAPIError(PolicyError):
    """The model API refused the request or kept failing after retries (exit_api)."""


class ModelConfigError(ModelAPIError):
    """The model cannot be used as configured: no key, a key refused, a model the provider or litellm does not
    know (exit_config). The agent never had its say, so the episode ends without scoring anything for it."""
