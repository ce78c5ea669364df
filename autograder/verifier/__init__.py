"""Verdicts the student's code cannot reach: test cells judged in a trusted process.

The student's notebook runs top to bottom in its (sandboxed) kernel, as
always. Each test cell's verdict code (:mod:`autograder.verifier.cells`) runs
elsewhere: in a session of the verifier process (:mod:`~.zygote`,
:mod:`~.runner`), a clean interpreter with pristine numpy, torch and nnkit that
never executes student code. Names the test takes from the notebook are
proxies (:mod:`~.proxy`): calling one sends plain data to the kernel's agent
(:mod:`nnkit.remote.agent`) and brings plain data back. The grading worker
relays between the two and enforces the limits (:mod:`~.host`). Random inputs
are fresh at every grading run (:mod:`~.seeding`). The score of a test cell is
its verdict, written into nbgrader's gradebook by
:class:`autograder.execution.execute.TrustedSaveAutoGrades`.
"""
