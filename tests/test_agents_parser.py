import pytest

from mlgym_tui.agents.parser import FormatError, parse_response


def test_one_block_splits_thought_and_action():
    parsed = parse_response("I will list the files.\n```\nls -la\n```\n")
    assert parsed.thought == "I will list the files."
    assert parsed.action == "ls -la"


@pytest.mark.parametrize("lang", ["bash", "sh", "shell", "python", "console"])
def test_block_language_is_not_part_of_the_action(lang):
    parsed = parse_response(f"Run it.\n```{lang}\npython train.py --epochs 3\n```")
    assert parsed.action == "python train.py --epochs 3"


def test_text_after_the_block_belongs_to_the_thought():
    parsed = parse_response("Before.\n```\nvalidate\n```\nAfter.")
    assert parsed.thought == "Before.\nAfter."
    assert parsed.action == "validate"


def test_multiline_edit_body_is_kept_intact():
    body = "edit 1:3\ndef f(x):\n    return {x: 1}\n\n    # blank line above stays\nend_of_edit"
    parsed = parse_response(f"Fix the function.\n```\n{body}\n```")
    assert parsed.action == body


def test_longer_fence_allows_fences_inside_the_body():
    body = "edit 1:3\n```python\nprint(1)\n```\nend_of_edit"
    parsed = parse_response(f"Edit the README.\n````\n{body}\n````")
    assert parsed.action == body


def test_no_block_is_a_format_error():
    with pytest.raises(FormatError) as err:
        parse_response("I think I should run ls next.")
    assert "no command found" in err.value.reason


def test_two_blocks_is_a_format_error():
    with pytest.raises(FormatError) as err:
        parse_response("First\n```\nls\n```\nthen\n```bash\npwd\n```")
    assert "found 2 code blocks" in err.value.reason


def test_unclosed_block_is_a_format_error():
    with pytest.raises(FormatError) as err:
        parse_response("Go\n```\nls")
    assert "never closed" in err.value.reason


def test_empty_block_is_a_format_error():
    with pytest.raises(FormatError) as err:
        parse_response("Nothing\n```\n\n```")
    assert "empty" in err.value.reason


def test_inline_backticks_are_not_a_block():
    parsed = parse_response("Use `ls` or ```ls``` inline, then:\n```\nls\n```")
    assert parsed.action == "ls"
