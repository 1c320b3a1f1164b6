"""``python -m friendsgroup.cli``: the ``friendsgroup`` command, as ``serve`` starts its worker."""

from . import main

main()
