"""What every stage stands on: the one training loop, its hooks and plans, device and data/model setup,
and the counting rules (rate → count) that every stage shares.

Importing this package imports nothing heavy; torch comes in with the modules that need it
(``loop``, ``recording``, and the plans' loss buffers when a plan first sees a batch), never with
``counts``, ``hooks`` or ``plans``. The dynamic pruning rules that fill in the plans are the train
stage's (``pipeline.train.dynamic``).
"""
