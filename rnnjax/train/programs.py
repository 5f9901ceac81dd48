"""Programs: the members that train together, their checkpoints and manifests, and
which process trains which.

Members whose configs differ only in seed, learning rate or clip norm share one
built program (``program_key``: one ``Parts``, compiled once); a value that changes
shapes makes another. Mapped members (the CPU default, ``rnnjax.train.loop.member_mode``)
train as populations of one; vmapped members as one population, cut into chunks that
fit. While a program is unfinished, ``OUT/<experiment>/.checkpoints/<program>/`` holds
its checkpoints and ``members.json``, the manifest (each member's run directory,
relative to it, arm, grid point and config), written before training, so that a
killed sweep can adopt it.
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
from rnnjax.train.runs import config_id, finished_with

MANIFEST = "members.json"


def plan_programs(members: list[Member], max_population: int | None = None, mode: str = "vmap",
                  built: dict[TrainConfig, Parts] | None = None) -> list[tuple[Parts, list[Member]]]:
    """Groups members that can share a program, each group built once (or taken from
    ``built``, program key -> parts): ``mode="map"``, one program per member; ``"vmap"``,
    the group cut into chunks that fit."""
    groups: dict[TrainConfig, list[Member]] = {}
    for m in members:
        groups.setdefault(program_key(m.config), []).append(m)
    built = built if built is not None else {}
    programs = []
    for key, group in groups.items():
        if key not in built:
            built[key] = build(group[0].config)
        parts = built[key]
        cap = 1 if mode == "map" else max_population or population_cap(parts, len(group))
        programs += [(parts, group[i : i + cap]) for i in range(0, len(group), cap)]
    return programs


def check_fits(parts: Parts, members: int, fraction: float = 0.5) -> None:
    """Refuses, before training, a program whose train step cannot fit in ``fraction`` of
    a device's memory: by the bound from traced shapes where it suffices, else by XLA's
    own accounting of the compiled step."""
    budget = fraction * device_memory()
    if members * member_bytes_bound(parts) <= budget:
        return
    need = members * member_bytes(parts)
    if need > budget:
        cfg = parts.config
        raise ValueError(f"a train step of {cfg.task.name}/{cfg.model.label} needs about {need / 2**30:.1f} GiB "
                         f"({members} member(s), batch_size {cfg.run.batch_size}, length {parts.buckets[-1].max_len}"
                         f"), more than {fraction:.0%} of the device's {device_memory() / 2**30:.1f} GiB; lower "
                         "--batch-size or --n-max")


def share_of(programs: list, index: int, count: int, cost=None) -> list:
    """The programs share ``index`` of ``count`` trains: each program goes to the share
    with the least estimated cost so far, the costliest first (``cost(program)``; default:
    members x steps x batch x padded length), ties in list order. Every process or machine
    that computes it from the same list gets the same split."""
    if count == 1:
        return list(programs)
    cost = cost or program_cost
    loads, mine = [0.0] * count, []
    for i in sorted(range(len(programs)), key=lambda i: -cost(programs[i])):
        target = min(range(count), key=lambda s: (loads[s], s))
        loads[target] += cost(programs[i])
        if target == index:
            mine.append(i)
    return [programs[i] for i in sorted(mine)]


def program_cost(program) -> float:
    """A program's estimated cost: members x steps x batch size x longest padded length."""
    parts, members = program[0], program[-1]
    run = parts.config.run
    return len(members) * run.steps * run.batch_size * parts.buckets[-1].max_len


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
    """The checkpoint directory name of a program: its members' run directories and configs."""
    text = json.dumps([[str(m.run_dir.resolve()), config_id(m.config)] for m in members])
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


def unfinished_programs(members: list[Member], checkpoint_root: Path,
                        mode: str = "vmap") -> list[tuple[Path, list[Member]]]:
    """The programs a killed sweep left under ``checkpoint_root`` that can be adopted,
    as ``(checkpoint dir, its members)``: every manifest member is one of ``members``
    with the same config, one at least is unfinished, and none is in a program
    adopted before (directories taken in name order). ``mode="map"`` adopts programs
    of one member only."""
    by_dir = {m.run_dir.resolve(): m for m in members}
    taken: set[Path] = set()
    programs = []
    for checkpoint_dir in sorted(p.parent for p in checkpoint_root.glob(f"*/{MANIFEST}")):
        entries = read_manifest(checkpoint_dir) or []
        program = [by_dir.get(run_dir) for run_dir, _ in entries]
        if not entries or (mode == "map" and len(entries) > 1) or any(m is None or m.config != cfg or m.run_dir in taken
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


