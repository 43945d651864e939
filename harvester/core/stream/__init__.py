"""Filtered-stream decisions, sans I/O: rules as a diff, X's reconnect rules, stream messages,
what a disconnect missed and how to get it back, and the money and cap of each streamed Post.

The shell (``harvester/runtime/stream/``) connects, reads and writes; everything it decides is
asked of these modules, which take ``now`` and bodies and return values.
"""
