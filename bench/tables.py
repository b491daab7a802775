"""Small helpers of the benchmarks: Markdown tables, figures (matplotlib), process memory."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def markdown_table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def write_markdown(name: str, title: str, sections: list[str]) -> str:
    """Writes bench/results/NAME.md (a title, then the sections); returns the file name."""
    path = RESULTS_DIR / f"{name}.md"
    path.write_text("\n\n".join([f"# {title}", *sections]) + "\n")
    return path.name


def figure(name: str, draw, *, title: str, xlabel: str, ylabel: str, logx: bool = False) -> str:
    """Draws one figure with `draw(axes)` into bench/results/NAME.png; returns the file name."""
    fig, axes = plt.subplots(figsize=(8, 4.5), dpi=100)
    draw(axes)
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    if logx:
        axes.set_xscale("log")
    axes.grid(True, alpha=0.3)
    if axes.get_legend_handles_labels()[0]:
        axes.legend()
    fig.tight_layout()
    path = RESULTS_DIR / f"{name}.png"
    fig.savefig(path)
    plt.close(fig)
    return path.name


def process_memory_kib(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak) of a process, in KiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


def children(pid: int) -> list[int]:
    """The direct children of a process."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (FileNotFoundError, ProcessLookupError, IndexError):
                pass
    return found


def tcp_connections(pid: int) -> list[str]:
    """The TCP sockets of a process that are not listening ("local -> remote" in hex, as
    /proc/net/tcp gives them): what a forked child would share with its parent."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = fd.readlink().as_posix()
        except FileNotFoundError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
            if inode in inodes and state != "0A":  # 0A: LISTEN
                found.append(f"{local} -> {remote}")
    return found


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
