# Sourced by the episode's shell: each agent command is a function around tools.py that then
# reloads the open-file state, so the episode can report it after every step.
_mlgym_tool() {
  python3 /opt/mlgym/tools/tools.py "$@"
  local status=$?
  if [ -f "$HOME/.mlgym_state" ]; then . "$HOME/.mlgym_state"; fi
  return $status
}
open() { _mlgym_tool open "$@"; }
goto() { _mlgym_tool goto "$@"; }
scroll_down() { _mlgym_tool scroll_down "$@"; }
scroll_up() { _mlgym_tool scroll_up "$@"; }
create() { _mlgym_tool create "$@"; }
edit() { _mlgym_tool edit "$@"; }
insert() { _mlgym_tool insert "$@"; }
search_file() { _mlgym_tool search_file "$@"; }
search_dir() { _mlgym_tool search_dir "$@"; }
find_file() { _mlgym_tool find_file "$@"; }
# MLGym's memory module (tasks with a memory_path): a JSON file the agent writes to and searches.
memory_write() { python3 /opt/mlgym/tools/memory.py write "$@"; }
memory_read() { python3 /opt/mlgym/tools/memory.py read "$@"; }
