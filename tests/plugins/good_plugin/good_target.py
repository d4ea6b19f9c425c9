"""A tiny library the good plugin instruments."""


def work(n):
    return n * 2
