"""Tools that show the inside of an RNN: explain (every line of a model's reference implementation as it runs, with
shapes and parameter names), draw with diagram (the article's figures, labelled from a real model),
gradient_flow (how dL/dh_t shrinks or grows over t) and visualize (hidden units over a text)."""
