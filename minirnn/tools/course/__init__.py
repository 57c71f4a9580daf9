"""The course: the character models of the notebook the article's model comes from, trained in minirnn and in torch.

table.py (the rows: models, data, schedules, the notebook's losses), examples.py (each
row's batches), fit.py (the training loop both libraries run), minirnn_side.py and
torch_side.py (each library's models and step), worker.py (one side of one row in a
process of its own), runner.py (the ``minirnn course`` command), results.py (the
results file and the table made from it).
"""
