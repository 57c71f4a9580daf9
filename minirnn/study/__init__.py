"""Tools that show the inside of an RNN: explain (every line of a forward and backward with its
shapes), gradient_flow (how dL/dh_t shrinks or grows over t) and visualize (hidden units over a text)."""
