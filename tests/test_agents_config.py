import os

import pytest

from mlgym_tui.agents.templates import render_template
from mlgym_tui.config.agent import AgentConfigError, load_agent_config


def write(tmp_path, text, name="agent.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", ["default", "human", "baseline", "replay"])
def test_shipped_configs_load(name):
    config = load_agent_config(name)
    assert config.policy == name if name != "default" else config.policy == "llm"
    assert config.name == name


def test_default_system_prompt_explains_format_and_edits():
    system = load_agent_config("default").templates.system
    assert "{command_docs}" in system
    assert "end_of_edit" in system and "edit START:END" in system
    assert "validate" in system and "submit" in system


def test_wrong_type_names_file_field_and_expectation(tmp_path):
    path = write(tmp_path, "model:\n  name: gpt-4o\n  temperature: hot\n")
    with pytest.raises(AgentConfigError) as err:
        load_agent_config(path)
    message = str(err.value)
    assert str(path) in message and "model.temperature" in message and "expected a valid number" in message
    assert "\n" not in message


def test_unknown_field_is_named(tmp_path):
    path = write(tmp_path, "model:\n  name: gpt-4o\n  temprature: 0.2\n")
    with pytest.raises(AgentConfigError, match=r"model\.temprature: unknown field"):
        load_agent_config(path)


def test_llm_policy_without_model_is_rejected(tmp_path):
    path = write(tmp_path, "policy: llm\n")
    with pytest.raises(AgentConfigError, match="expects a 'model' section"):
        load_agent_config(path)


def test_bad_policy_kind(tmp_path):
    path = write(tmp_path, "policy: robot\n")
    with pytest.raises(AgentConfigError, match=r"policy: expected 'llm', 'human', 'baseline' or 'replay'"):
        load_agent_config(path)


def test_inline_api_key_is_refused(tmp_path):
    path = write(tmp_path, "model:\n  name: gpt-4o\n  api_key: sk-abc123\n")
    with pytest.raises(AgentConfigError, match="api_key_env") as err:
        load_agent_config(path)
    assert "sk-abc123" not in str(err.value)


def test_api_key_env_must_be_a_variable_name(tmp_path):
    path = write(tmp_path, "model:\n  name: gpt-4o\n  api_key_env: sk-proj-abc\n")
    with pytest.raises(AgentConfigError, match=r"model\.api_key_env: expected the NAME of an environment variable"):
        load_agent_config(path)


def test_next_step_template_needs_observation(tmp_path):
    path = write(tmp_path, "policy: human\ntemplates:\n  next_step: 'step {current_step}'\n")
    with pytest.raises(AgentConfigError, match=r"templates\.next_step: expected the next_step template to contain"):
        load_agent_config(path)


def test_cost_override_units_cannot_be_mixed(tmp_path):
    path = write(tmp_path, "model:\n  name: x\n  cost: {input_per_1m: 1, output_per_1k: 2}\n")
    with pytest.raises(AgentConfigError, match=r"model\.cost: expected prices per 1k tokens or per 1M"):
        load_agent_config(path)


def test_cost_override_per_1k_and_per_1m_agree(tmp_path):
    a = load_agent_config(write(tmp_path, "model:\n  name: x\n  cost: {input_per_1k: 0.5, output_per_1k: 1.5}\n", "a.yaml"))
    b = load_agent_config(write(tmp_path, "model:\n  name: x\n  cost: {input_per_1m: 500, output_per_1m: 1500}\n", "b.yaml"))
    assert a.model.cost.input_per_token == pytest.approx(b.model.cost.input_per_token) == pytest.approx(0.0005)
    assert a.model.cost.output_per_token == pytest.approx(b.model.cost.output_per_token)


def test_invalid_yaml_names_the_line(tmp_path):
    path = write(tmp_path, "model:\n  name: [unclosed\n")
    with pytest.raises(AgentConfigError, match=r"not valid YAML at line \d"):
        load_agent_config(path)


def test_missing_config_lists_the_shipped_ones():
    with pytest.raises(AgentConfigError, match="not found.*default"):
        load_agent_config("no-such-agent")


def test_redacted_masks_credentials(tmp_path, monkeypatch):
    monkeypatch.setenv("MY_TEST_KEY", "sk-secret-value-42")
    path = write(
        tmp_path,
        "model:\n  name: openai/x\n  api_key_env: MY_TEST_KEY\n  api_base: http://user:pw@host:1/v1?key=abc\n"
        "  extra_params: {organization: sk-secret-value-42}\n",
    )
    dumped = load_agent_config(path).redacted()
    text = repr(dumped)
    assert "sk-secret-value-42" not in text and "pw" not in dumped["model"]["api_base"] and "abc" not in text
    assert dumped["model"]["api_key_env"] == "MY_TEST_KEY"
    assert os.environ["MY_TEST_KEY"] == "sk-secret-value-42"


def test_templates_leave_foreign_braces_alone():
    template = "{observation}\nstep {current_step} {unknown} {{x}}"
    observation = 'dict: {"a": {1, 2}} and f"{x}" and {observation} and {current_step}'
    out = render_template(template, {"observation": observation, "current_step": 3})
    # Substitution is single-pass: placeholders inside the observation are not expanded again.
    assert out == observation + "\nstep 3 {unknown} {{x}}"
