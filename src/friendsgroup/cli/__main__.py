"""``python -m friendsgroup.cli``: the ``friendsgroup`` command (how ``serve`` starts the worker)."""

from . import main

main()
