"""Your branching heuristic for the sat3Heuristic task. Edit `choose_branch`.

The evaluator's DPLL solver (see evaluate.py; you cannot change it) runs unit
propagation and then, whenever it must guess, calls

    choose_branch(clauses, assignment, num_vars) -> (variable, value)

  clauses     the current simplified formula: a tuple of clauses, each a tuple
              of non-zero ints (DIMACS literals: 7 means x7, -7 means not x7).
              Satisfied clauses and false literals are already removed, so
              every clause is unsatisfied and has at least two literals.
  assignment  dict {variable: bool} of the variables assigned so far (a copy).
  num_vars    the number of variables; variables are 1..num_vars.

Return an unassigned variable and the value (True/False) to try first; the
solver tries the opposite value if the first one fails. The score is the mean
number of decisions (calls to this function) per instance: fewer is better.

Rules: choose_branch must be a branching rule, not a solver in disguise - no
search, lookahead over assignments or solving inside it, and no state that
carries knowledge between instances. Keep each call cheap (a few passes over
the clauses at most).
"""


def choose_branch(clauses, assignment, num_vars):
    """Baseline: the lowest-numbered unassigned variable, tried as True first."""
    for var in range(1, num_vars + 1):
        if var not in assignment:
            return var, True
    raise ValueError("no unassigned variable left")
