"""The LLM policy: renders the prompts, keeps the history, asks the model, parses its answer.

Contract with the episode runner (the Policy protocol in proposal.py):
- `propose(step, observation, state)` returns the model's next action (a `Proposal`), which stays pending
  until the loop says what became of it;
- `record_step(action, observation, author)` after every step that ran, whoever ran it. An agent step whose
  action differs from the pending proposal was edited by a person and is recorded as what really ran; a
  human step enters the history as done by a human operator;
- `discard_proposal(comment)` when the pending proposal was rejected and will not run;
- if `propose` is called while a proposal is still pending and nothing recorded it, the loop is taken to
  have run it unchanged, with `observation` as its output (so a minimal loop needs only `propose`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from mlgym_tui.agents.errors import CostLimitExceeded, FormatLimitExceeded
from mlgym_tui.agents.history import AGENT_NAME, History
from mlgym_tui.agents.model import LiteLLMModel, ModelReply
from mlgym_tui.agents.parser import FormatError, parse_response
from mlgym_tui.agents.proposal import Proposal
from mlgym_tui.agents.templates import render_template
from mlgym_tui.config.agent import AgentConfig
from mlgym_tui.stream import events
from mlgym_tui.stream.events import Event

DEFAULT_WORKING_DIR = "/home/agent/workspace"


class LLMPolicy:
    is_person = False

    def __init__(
        self,
        config: AgentConfig,
        command_docs: str,
        task_description: str,
        emit: Callable[[Event], None],
        model: LiteLLMModel | None = None,
    ) -> None:
        if config.model is None:
            raise ValueError(f"agent config {config.name!r}: policy 'llm' needs a 'model' section")
        self.config = config
        self.templates = config.templates
        self.command_docs = command_docs
        self.task_description = task_description
        self.emit = emit
        self.model = model or LiteLLMModel(config.model)
        # Both can be changed while the episode runs (the controller's set_limit).
        self.max_steps = config.limits.max_steps
        self.cost_limit = config.limits.cost_limit
        self._history = History(config.history.keep_last_observations, config.history.omitted_note)
        # What happened since the agent's last answer, in order: (kind, text). Becomes the next user message.
        self._since_last_answer: list[tuple[str, str]] = []
        self.pending: Proposal | None = None
        self.total_cost = 0.0
        self.tokens_sent = 0
        self.tokens_received = 0
        self.api_calls = 0

    # -- what the loop reads ----------------------------------------------------------------------------------
    @property
    def history(self) -> list[dict[str, Any]]:
        return self._history.entries

    def history_view(self) -> list[dict[str, Any]]:
        """The history without a copy; callers must not change it."""
        return self._history.view()

    @property
    def model_stats(self) -> dict[str, Any]:
        return {
            "total_cost": self.total_cost,
            "task_cost": self.total_cost,
            "tokens_sent": self.tokens_sent,
            "tokens_received": self.tokens_received,
            "api_calls": self.api_calls,
        }

    # -- what the loop tells ----------------------------------------------------------------------------------
    def record_step(self, action: str, observation: str, author: str, thought: str = "") -> None:
        if author == "human":
            # The runner discards a pending proposal before a person's step (it never saw it); a policy driven
            # without a runner keeps it.
            text = render_template(self.templates.human_step, {"action": action, "observation": observation})
            self._since_last_answer.append(("human", text))
            return
        pending, self.pending = self.pending, None
        if pending is not None:
            self._history.add_assistant(pending.response, thought or pending.thought, action)
            if action.strip() != pending.action.strip():
                self._since_last_answer.append(("edited", render_template(self.templates.edited_step, {"action": action})))
        else:
            # A step the model never wrote (replayed prefix of a fork, a baseline step) still reads as its own.
            response = f"{thought}\n```\n{action}\n```" if thought else f"```\n{action}\n```"
            self._history.add_assistant(response, thought, action)
        self._since_last_answer.append(("observation", observation))

    def discard_proposal(self, comment: str = "") -> None:
        """The pending proposal was rejected; the agent is told it did not run (and why, if a comment is given)."""
        pending, self.pending = self.pending, None
        if pending is not None:
            self._history.add_assistant(pending.response, pending.thought, pending.action)
            self._since_last_answer.append(("not_run", render_template(self.templates.not_run, {"action": pending.action})))
        if comment:
            self.add_user_message(comment)

    def add_user_message(self, text: str) -> None:
        self._since_last_answer.append(("message", render_template(self.templates.user_message, {"message": text})))

    # -- prompting ------------------------------------------------------------------------------------------------
    def _values(self, step: int, state: dict[str, Any]) -> dict[str, Any]:
        # MLGym shows the number of steps taken so far and how many are left.
        done = max(0, step - 1)
        max_steps = int(state.get("max_steps", self.max_steps))
        return {
            "command_docs": self.command_docs,
            "task_description": self.task_description,
            "current_step": state.get("current_step", done),
            "remaining_steps": state.get("remaining_steps", max(0, max_steps - done)),
            "open_file": state.get("open_file", "n/a"),
            "working_dir": state.get("working_dir", DEFAULT_WORKING_DIR),
            "memory_records_num": state.get("memory_records_num", "no records, write to memory first"),
            "memory_records_tags": state.get("memory_records_tags", "n/a"),
        }

    def _observation_text(self) -> str | None:
        """Everything since the last answer as one observation; None when there is nothing to show."""
        parts = self._since_last_answer
        if all(kind == "observation" and not text.strip() for kind, text in parts):
            return None
        if len(parts) == 1:
            return parts[0][1]
        texts = []
        for i, (kind, text) in enumerate(parts):
            if kind == "observation":
                text = text if text.strip() else "(no output)"
                if i > 0 and parts[i - 1][0] != "edited":
                    text = "Output of your command:\n" + text
            texts.append(text)
        return "\n\n".join(texts)

    def prime(self, observation: str, state: dict[str, Any]) -> None:
        """Put the system and task prompt into an empty history (a fork records replayed steps after it)."""
        if len(self._history) == 0:
            self._add_prompt(1, observation, state)

    def _add_prompt(self, step: int, observation: str, state: dict[str, Any]) -> list[tuple[str, str]] | None:
        """Add the prompt for the next answer; returns what its last user message was made of (None when the
        task prompt alone asks for the first answer)."""
        values = self._values(step, state)
        if len(self._history) == 0:
            self._history.add("system", render_template(self.templates.system, values))
            self._history.add("user", render_template(self.templates.task, values))
            if observation.strip():
                self._since_last_answer.insert(0, ("observation", observation))
            if not self._since_last_answer:
                return None
        consumed = self._since_last_answer
        text = self._observation_text()
        if text is None:
            content = render_template(self.templates.next_step_no_output, values)
        else:
            content = render_template(self.templates.next_step, {**values, "observation": text})
        self._history.add("user", content)
        self._since_last_answer = []
        return consumed

    def _check_cost(self) -> None:
        if self.cost_limit > 0 and self.total_cost >= self.cost_limit:
            raise CostLimitExceeded(
                f"model cost ${self.total_cost:.4f} reached the cost limit ${self.cost_limit:.2f}"
            )

    async def _query(self, step: int, messages: list[dict[str, str]]) -> ModelReply:
        self._check_cost()
        self.emit(events.ModelQueryStarted(step=step))
        reply = await self.model.query(
            messages,
            on_token=lambda text: self.emit(events.Token(step=step, text=text)),
            on_retry=lambda attempt, reason, wait: self.emit(
                events.Retry(step=step, attempt=attempt, reason=reason, wait_s=wait)
            ),
            on_loading=lambda done, seconds: self.emit(events.ModelLibraryLoading(step=step, done=done, seconds=seconds)),
        )
        self.api_calls += 1
        self.total_cost += reply.cost
        self.tokens_sent += reply.tokens_in
        self.tokens_received += reply.tokens_out
        self.emit(
            events.ModelResponse(
                step=step, content=reply.content, tokens_in=reply.tokens_in, tokens_out=reply.tokens_out, cost=reply.cost
            )
        )
        return reply

    async def propose(self, step: int, observation: str, state: dict[str, Any]) -> Proposal:
        if self.pending is not None:
            self.record_step(self.pending.action, observation, "agent")
        consumed = self._add_prompt(step, observation, state)
        try:
            return await self._answer(step, state)
        except asyncio.CancelledError:
            # A person acted while the model was thinking (the runner discards the call): take the prompt back, so
            # the next one tells what happened since the last answer, what arrived during the call included.
            if consumed is not None:
                self._history.drop_last()
                self._since_last_answer = consumed + self._since_last_answer
            raise

    async def _answer(self, step: int, state: dict[str, Any]) -> Proposal:
        base = self._history.for_model()
        messages = base
        tokens_in = tokens_out = 0
        cost = 0.0
        max_retries = self.config.parser.max_format_retries
        for attempt in range(1, max_retries + 2):
            reply = await self._query(step, messages)
            tokens_in += reply.tokens_in
            tokens_out += reply.tokens_out
            cost += reply.cost
            try:
                parsed = parse_response(reply.content)
            except FormatError as exc:
                self.emit(events.FormatError(step=step, content=reply.content, reason=exc.reason, attempt=attempt))
                if attempt > max_retries:
                    raise FormatLimitExceeded(
                        f"{attempt} malformed answers in a row at step {step}; last problem: {exc.reason}"
                    ) from None
                # Like MLGym, the malformed exchange is shown once to get a corrected answer, then forgotten.
                error = render_template(self.templates.format_error, {**self._values(step, state), "reason": exc.reason})
                messages = base + [
                    {"role": "assistant", "content": reply.content},
                    {"role": "user", "content": error},
                ]
                continue
            self.pending = Proposal(
                thought=parsed.thought,
                action=parsed.action,
                response=reply.content,
                tokens_in=tokens_in,
                tokens_out=tokens_out,
                cost=cost,
                step=step,
                author="agent",
                format_errors=attempt - 1,
            )
            return self.pending
        raise AssertionError("unreachable")  # the loop either returns or raises


__all__ = ["LLMPolicy", "AGENT_NAME"]
