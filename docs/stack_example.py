class Stack:
    """A last-in, first-out list."""

    def __init__(self, items=None):
        self.items = list(items or [])

    def push(self, item):
        # the new item goes on top
        self.items.append(item)

    def pop(self):
        if not self.items:
            raise IndexError("pop from an empty stack")
        return self.items.pop()
