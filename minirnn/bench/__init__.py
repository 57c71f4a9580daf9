"""The benchmark: minirnn's RNN, LSTM and GRU timed against torch.nn (``minirnn bench``)."""
