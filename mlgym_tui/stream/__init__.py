"""The event stream and the view models that fold it: the leaf every other package may import (no imports of ours)."""
