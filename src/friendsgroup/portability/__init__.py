"""The whole registry as one file: dump, restore, copy between databases, live backup."""


class PortabilityError(Exception):
    """A dump, restore or backup refused, with the one-line reason an operator reads."""
