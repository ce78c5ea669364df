"""Calls between the grader's trusted verifier and a student's notebook kernel.

At grading time the hidden tests run in a separate, trusted interpreter (the
*verifier*, :mod:`autograder.verifier`). Every name a test uses from the
notebook is a proxy there: calling a student function sends plain data to the
student's kernel and gets plain data back. This package is the part both
sides share, and it lives in nnkit because the sandboxed kernel can import
nnkit and nothing of the grader:

* :mod:`nnkit.remote.wire`: length-prefixed frames (a JSON header and raw
  binary buffers) over a stream socket;
* :mod:`nnkit.remote.codec`: plain data to and from frames (numbers, strings,
  containers, numpy arrays, torch tensors, scipy sparse matrices), never
  pickle; anything else travels as a reference to an object that stays where
  it is;
* :mod:`nnkit.remote.endpoint`: one side of the conversation (requests,
  replies, nested calls, arguments written back after a call);
* :mod:`nnkit.remote.agent`: the kernel side, installed when a grading
  kernel starts; it serves the verifier's requests between notebook cells.
"""
