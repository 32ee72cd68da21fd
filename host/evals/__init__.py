"""Evaluating an agent version on scenario packs before it serves customers (issue 15).

:mod:`~host.evals.pack` loads and validates packs, :mod:`~host.evals.stack` shares the servers,
:mod:`~host.evals.tenant` seeds a fresh org per scenario, :mod:`~host.evals.simulator` plays the
customer, :mod:`~host.evals.grading` grades the final state, :mod:`~host.evals.runner` runs a
pack, :mod:`~host.evals.scoring` and :mod:`~host.evals.report` summarise, :mod:`~host.evals.cli`
is ``switchboard eval``.
"""
