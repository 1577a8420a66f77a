"""What the market really quoted: the chains a live run reads, kept to recalibrate the model.

A run that reads a real chain (testnet or mainnet, direct or through the services)
writes the quotes it read, the candidate expiries only, to
``data/chains/chain-<UTC hour>.csv.gz``: the columns of Deribit's book summary that
``bite paper chain --compare`` reads, one file an hour at most (the first run of the
hour writes it). backup-run removes files older than ``backup.keep_chain_days``.
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
import os
import re
from datetime import datetime, timedelta
from pathlib import Path

from bite.clients.deribit_json import ChainSnapshot

log = logging.getLogger("bite.chains")
CHAIN_DIR = "chains"
COLUMNS = (
    "instrument_name",
    "bid_price",
    "ask_price",
    "mark_price",
    "mark_iv",
    "underlying_price",
    "open_interest",
    "creation_timestamp",
    "expiry",
    "strike",
    "option_type",
)
_NAME = re.compile(r"^chain-(\d{8}T\d{2})Z\.csv\.gz$")


def _text(value: object) -> str:
    return "" if value is None else str(value)


def record_chain(data_dir: Path, chain: ChainSnapshot, now: datetime) -> Path | None:
    """Write this hour's file unless it exists; the path written, or None."""
    directory = data_dir / CHAIN_DIR
    path = directory / f"chain-{now:%Y%m%dT%H}Z.csv.gz"
    if path.exists() or not chain.quotes:
        return None
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for q in chain.quotes:
        writer.writerow(
            (
                q.name,
                _text(q.bid),
                _text(q.ask),
                q.mark,
                q.mark_iv,
                q.forward,
                q.open_interest,
                int(q.timestamp.timestamp() * 1000),
                q.expiry.date().isoformat(),
                q.strike,
                "C" if q.option_type == "call" else "P",
            )
        )
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{path.name}.tmp"
    with gzip.open(tmp, "wt", encoding="utf-8", newline="") as handle:
        handle.write(buffer.getvalue())
    os.replace(tmp, path)
    log.info("recorded %d quotes in %s", len(chain.quotes), path.name)
    return path


def prune_chains(data_dir: Path, now: datetime, keep_days: int) -> tuple[str, ...]:
    """Remove this module's files older than ``keep_days`` (no other file is touched)."""
    directory = data_dir / CHAIN_DIR
    if not directory.is_dir():
        return ()
    limit = now - timedelta(days=keep_days)
    removed = []
    for path in sorted(directory.iterdir()):
        match = _NAME.match(path.name)
        if match is None:
            continue
        hour = datetime.strptime(match.group(1), "%Y%m%dT%H").replace(tzinfo=now.tzinfo)
        if hour < limit:
            path.unlink(missing_ok=True)
            removed.append(path.name)
    return tuple(removed)
