"""The benchmark: minirnn's RNN, LSTM and GRU timed against torch.nn (``minirnn bench``); bench.py
lays out the grid and the table, worker.py times one library in a process of its own."""
