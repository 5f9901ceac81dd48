"""Programs: the members that train as one compiled program, their checkpoints and manifests.

Members whose configs differ only in seed, learning rate or clip norm can share one
program (``program_key``); a value that changes shapes makes another. While a program
is unfinished, ``OUT/<experiment>/.checkpoints/<program>/`` holds its checkpoints and
``members.json``, the manifest (each member's run directory, relative to it, arm, grid
point and config), written before training, so that a killed sweep can adopt it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import jax

from rnnjax.eval.generalisation import device_memory
from rnnjax.train.build import Parts, build
from rnnjax.train.config import TrainConfig
from rnnjax.train.experiment import Member
from rnnjax.train.loop import member_bytes, member_bytes_bound, program_key
from rnnjax.train.runs import finished_with

MANIFEST = "members.json"


def plan_programs(members: list[Member], max_population: int | None = None) -> list[tuple[Parts, list[Member]]]:
    """Groups members that can share a program, each group built once and cut into
    chunks that fit."""
    groups: dict[TrainConfig, list[Member]] = {}
    for m in members:
        groups.setdefault(program_key(m.config), []).append(m)
    programs = []
    for group in groups.values():
        parts = build(group[0].config)
        cap = max_population or population_cap(parts, len(group))
        programs += [(parts, group[i : i + cap]) for i in range(0, len(group), cap)]
    return programs


def population_cap(parts: Parts, wanted: int, fraction: float = 0.5) -> int:
    """How many of ``wanted`` members fit in ``fraction`` of this process's device
    memory: all of them when a bound from traced shapes (``member_bytes_bound``) says
    so, else as many as ``member_bytes`` (XLA's accounting of the compiled step) allows."""
    devices = len(jax.local_devices())
    budget = fraction * device_memory() * devices
    if wanted * member_bytes_bound(parts) <= budget:
        return wanted
    return max(1, int(fraction * device_memory() // member_bytes(parts)) * devices)


def program_id(members: list[Member]) -> str:
    """The checkpoint directory name of a newly planned program."""
    text = json.dumps([[str(m.run_dir), m.config.to_json()] for m in members])
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def write_manifest(checkpoint_dir: Path, members: list[Member]) -> None:
    """Writes ``members.json`` (atomically): the program's members, in population order."""
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    here = checkpoint_dir.resolve()
    entries = [{"run_dir": os.path.relpath(m.run_dir.resolve(), here), "arm": m.arm, "point": m.point,
                "config": json.loads(m.config.to_json())} for m in members]
    tmp = checkpoint_dir / f"{MANIFEST}.tmp"
    tmp.write_text(json.dumps(entries, indent=2))
    os.replace(tmp, checkpoint_dir / MANIFEST)


def read_manifest(checkpoint_dir: Path) -> list[tuple[Path, TrainConfig]] | None:
    """``(run directory, config)`` of each member in ``checkpoint_dir``'s manifest, in
    population order; None without a readable one."""
    try:
        entries = json.loads((checkpoint_dir / MANIFEST).read_text())
        return [((checkpoint_dir.resolve() / e["run_dir"]).resolve(), TrainConfig.from_json(json.dumps(e["config"])))
                for e in entries]
    except (OSError, ValueError, TypeError, KeyError):
        return None


def unfinished_programs(members: list[Member], checkpoint_root: Path) -> list[tuple[Path, list[Member]]]:
    """The programs a killed sweep left under ``checkpoint_root`` that can be adopted,
    as ``(checkpoint dir, its members)``: every manifest member is one of ``members``
    with the same config, one at least is unfinished, and none is in a program
    adopted before (directories taken in name order)."""
    by_dir = {m.run_dir.resolve(): m for m in members}
    taken: set[Path] = set()
    programs = []
    for checkpoint_dir in sorted(p.parent for p in checkpoint_root.glob(f"*/{MANIFEST}")):
        entries = read_manifest(checkpoint_dir) or []
        program = [by_dir.get(run_dir) for run_dir, _ in entries]
        if not entries or any(m is None or m.config != cfg or m.run_dir in taken
                              for m, (_, cfg) in zip(program, entries)):
            continue
        if all(finished_with(m.run_dir, m.config) for m in program):
            continue
        taken |= {m.run_dir for m in program}
        programs.append((checkpoint_dir, program))
    return programs


def remove_finished_checkpoints(checkpoint_root: Path) -> None:
    """Removes the checkpoint directories whose manifest members have all finished
    (left by a kill between the last results and the removal, or by a sweep
    that did not resume)."""
    for checkpoint_dir in sorted(p.parent for p in checkpoint_root.glob(f"*/{MANIFEST}")):
        entries = read_manifest(checkpoint_dir)
        if entries and all(finished_with(run_dir, cfg) for run_dir, cfg in entries):
            shutil.rmtree(checkpoint_dir, ignore_errors=True)


