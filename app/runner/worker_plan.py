"""Which of the configured workers a load uses, and the words when the model will not fit.

Checked before every load (never once at start): a worker that went away
is left out of the next load, and one that came up late is used by it.
The decisions are plain functions of what the checks found, so the
scheduler only gathers facts and acts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.runner.rpc_workers import WorkerStatus, probe_workers

GIB = 2**30


@dataclass
class WorkerPlan:
    """The workers a load uses, and one line per configured worker left out."""

    chosen: tuple[str, ...] = ()
    statuses: list[WorkerStatus] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)

    @property
    def free_on_workers(self) -> int:
        return sum(status.free for status in self.statuses if status.address in self.chosen)


def plan_workers(configured: tuple[str, ...], in_use: dict[str, str]) -> WorkerPlan:
    """Check the configured workers not held by this Hearth's other models; keep the good ones.

    ``in_use`` maps a worker to the model of ours that holds it: it is not
    checked (it would only answer "busy"), since a worker serves one
    llama-server at a time.
    """
    plan = WorkerPlan()
    for address in configured:
        if address in in_use:
            plan.left_out.append(f"{address}: in use by {in_use[address]}")
    to_check = [address for address in configured if address not in in_use]
    plan.statuses = probe_workers(to_check)
    plan.chosen = tuple(status.address for status in plan.statuses if status.usable)
    plan.left_out += [status.describe() for status in plan.statuses if not status.usable]
    return plan


def fit_problem(model_bytes: int, available_here: int, plan: WorkerPlan) -> str | None:
    """Why the weights cannot fit now that some workers are missing, or None.

    Only asked when a configured worker was left out: a model that fits
    this machine alone (or with the workers left) loads as it is. The
    weights alone are compared (KV cache and buffers come on top), so a
    "no" here is a certain no.
    """
    if not plan.left_out:
        return None
    room = available_here + plan.free_on_workers
    if model_bytes <= room:
        return None
    using = f" and {len(plan.chosen)} worker(s) with {plan.free_on_workers / GIB:.1f} GiB free"
    return (
        f"the model's weights ({model_bytes / GIB:.1f} GiB) no longer fit: this machine has"
        f" {available_here / GIB:.1f} GiB free{using if plan.chosen else ''}."
        f" Workers left out: {'; '.join(plan.left_out)}."
        " Start the missing worker(s) (hearth worker) or load a smaller model."
    )


def lost_workers(addresses: tuple[str, ...]) -> list[WorkerStatus]:
    """The workers of a runner that no longer answer (checked after it stopped)."""
    return [status for status in probe_workers(addresses) if not status.usable]
