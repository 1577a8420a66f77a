"""The backtest: the live cycle functions replayed over real history (docs/backtest.md).

It sits above the jobs it replays and beside the paper exchange it drives; nothing
below imports it.
"""
