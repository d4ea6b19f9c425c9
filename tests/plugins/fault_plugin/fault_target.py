"""A tiny 'library' the fault plugins patch."""


def greet(name):
    return "hello " + name


def fail():
    raise ValueError("the library's own error")
