"""Execution: where and how student notebooks run.

* :mod:`~autograder.execution.kernel`: the one kernel manager every grading kernel starts through (sandboxed or
  not), the kernel's environment and device;
* :mod:`~autograder.execution.sandbox`: the bubblewrap sandbox (policy, paths, bwrap command, rlimits, launcher);
* :mod:`~autograder.execution.launch`: the unsandboxed launcher (limits, then ``exec`` the kernel);
* :mod:`~autograder.execution.execute`: nbgrader's Execute preprocessor, hardened (time limits, dead kernels,
  output caps) and asking the verifier (:mod:`autograder.verifier`) for each test cell's verdict;
* :mod:`~autograder.execution.worker`: the worker processes that grade one submission at a time.
"""
