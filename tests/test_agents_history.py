from mlgym_tui.agents.history import History, keep_last_observations


def conversation(n_observations: int) -> History:
    history = History(keep_last=2)
    history.add("system", "sys")
    history.add("user", "task line 1\ntask line 2\ntask line 3")
    for i in range(n_observations):
        history.add_assistant(f"thought {i}\n```\ncmd {i}\n```", f"thought {i}", f"cmd {i}")
        history.add("user", "\n".join(f"obs {i} line {j}" for j in range(i + 1)))
    return history


def test_older_observations_become_a_note_with_their_line_count():
    messages = conversation(4).for_model()
    users = [m["content"] for m in messages if m["role"] == "user"]
    assert users[0].startswith("task line 1")  # the task is never shortened
    assert users[1] == "Old output omitted (1 lines)"
    assert users[2] == "Old output omitted (2 lines)"
    assert users[3].startswith("obs 2 line 0") and users[4].startswith("obs 3 line 0")


def test_stored_entries_keep_full_observations_and_mlgym_shape():
    history = conversation(4)
    entries = history.entries
    assert entries[3]["content"] == "obs 0 line 0"
    assert entries[2] == {"role": "assistant", "content": "thought 0\n```\ncmd 0\n```", "agent": "primary", "thought": "thought 0", "action": "cmd 0"}
    entries[3]["content"] = "changed"
    assert history.entries[3]["content"] == "obs 0 line 0"  # a copy, not the live list


def test_demos_are_not_counted_or_shortened():
    entries = [
        {"role": "user", "content": "demo obs\nx", "agent": "primary", "is_demo": True},
        {"role": "user", "content": "task", "agent": "primary"},
        {"role": "user", "content": "a\nb\nc", "agent": "primary"},
        {"role": "user", "content": "last", "agent": "primary"},
    ]
    out = keep_last_observations(entries, 1, "omitted {lines}")
    assert [e["content"] for e in out] == ["demo obs\nx", "task", "omitted 3", "last"]


def test_keep_none_keeps_everything_and_same_role_messages_merge():
    history = History(keep_last=None)
    history.add("system", "sys")
    history.add("user", "task")
    history.add("user", "a human ran ls")
    messages = history.for_model()
    assert messages == [{"role": "system", "content": "sys"}, {"role": "user", "content": "task\n\na human ran ls"}]
