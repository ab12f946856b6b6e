"""One floor for the whole hall: every camera's people merged into one list of floor people.

Each camera places its own tracked people on the site's floor (`vision.pipeline`), each with its
floor uncertainty. Per time step, `FloorFuser` merges those lists: a person seen by several cameras
becomes one person at the uncertainty-weighted mean of where the cameras put them, with one site id
that they keep across cameras and through the overlap (hand-over), and the list of cameras that saw
them. Two people seen by the same camera are never merged: a camera that tells them apart is right.

Matching goes camera by camera: each camera's people are assigned (Hungarian, on distance in
standard deviations) to the people already on the floor that this camera has not matched yet;
a pair matches only inside the gate (`gate_sigmas` standard deviations of the two positions'
combined uncertainty, plus `gate_floor_m` for the cameras' calibrations disagreeing). A camera
person who was part of a site person in the last step is drawn back to that person (hand-over
stays stable while both cameras see them). Cameras are aligned by frame time, not arrival:
`StepAligner` says which cameras' latest frames belong to a step and which are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

#: A position's standard deviation is never taken below this (metres): placement is not perfect.
MIN_SIGMA_M = 0.03
_NO_MATCH = 1e9


@dataclass(frozen=True, slots=True)
class CameraPeople:
    """One camera's people at one frame, on the site's floor.

    Attributes:
        camera: camera id.
        t_s: the frame's time in seconds, on the clock all the site's cameras share.
        ids: `(n,)` the camera's track ids.
        floor_xy: `(n, 2)` floor positions in metres.
        sigma_m: `(n,)` one standard deviation of each position, metres.
    """

    camera: str
    t_s: float
    ids: NDArray[np.int64]
    floor_xy: NDArray[np.float64]
    sigma_m: NDArray[np.float64]

    def __post_init__(self) -> None:
        n = len(self.ids)
        if self.floor_xy.shape != (n, 2) or self.sigma_m.shape != (n,):
            shapes = f"floor_xy {self.floor_xy.shape}, sigma_m {self.sigma_m.shape}"
            raise ValueError(f"CameraPeople {self.camera}: {n} ids, {shapes}")

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True, slots=True)
class FusedPeople:
    """The site's people at one step.

    Attributes:
        ids: `(n,)` site ids (one per person, kept across cameras and steps).
        floor_xy: `(n, 2)` fused floor positions in metres.
        sigma_m: `(n,)` their standard deviations, metres.
        cameras: per person, the cameras that saw them (sorted).
        members: per person, the `(camera, track id)` pairs merged into them.
    """

    ids: NDArray[np.int64]
    floor_xy: NDArray[np.float64]
    sigma_m: NDArray[np.float64]
    cameras: tuple[tuple[str, ...], ...]
    members: tuple[tuple[tuple[str, int], ...], ...]

    def __len__(self) -> int:
        return len(self.ids)


class FloorFuser:
    """Merges cameras' floor people step by step, keeping site ids.

    Args:
        gate_sigmas: how many combined standard deviations apart two positions may be and still be
            one person.
        gate_floor_m: added to the gate: how far two cameras' calibrations may disagree.
        forget_s: a camera track not seen this long loses its place in a site person.

    Example:
        >>> fuser = FloorFuser()
        >>> a = CameraPeople("cam-a", 0.0, np.array([1]), np.array([[2.0, 3.0]]), np.array([0.05]))
        >>> b = CameraPeople("cam-b", 0.0, np.array([7]), np.array([[2.1, 3.0]]), np.array([0.05]))
        >>> fused = fuser.fuse([a, b])
        >>> len(fused), fused.cameras, fused.floor_xy.round(2).tolist()
        (1, (('cam-a', 'cam-b'),), [[2.05, 3.0]])
    """

    def __init__(self, *, gate_sigmas: float = 3.0, gate_floor_m: float = 0.3, forget_s: float = 2.0) -> None:
        if gate_sigmas <= 0 or gate_floor_m < 0 or forget_s < 0:
            raise ValueError("gate_sigmas must be > 0, gate_floor_m and forget_s >= 0")
        self.gate_sigmas = gate_sigmas
        self.gate_floor_m = gate_floor_m
        self.forget_s = forget_s
        self._site_of: dict[tuple[str, int], tuple[int, float]] = {}  # camera track -> (site id, last t)
        self._next_id = 1

    def fuse(self, views: Sequence[CameraPeople]) -> FusedPeople:
        """Merge one step's camera views (each camera at most once)."""
        cameras = [v.camera for v in views]
        if len(set(cameras)) != len(cameras):
            raise ValueError(f"each camera at most once per step, got {cameras}")
        clusters = _Clusters()
        for view in sorted(views, key=lambda v: v.camera):
            self._assign(view, clusters)
        now = max((v.t_s for v in views), default=0.0)
        ids = self._site_ids(clusters, now)
        for key in [k for k, (_, seen) in self._site_of.items() if now - seen > self.forget_s]:
            del self._site_of[key]
        order = np.argsort(ids, kind="stable").tolist()
        xy, sigma = clusters.positions()
        return FusedPeople(
            ids=np.array([ids[i] for i in order], np.int64),
            floor_xy=xy[order].reshape(-1, 2),
            sigma_m=sigma[order],
            cameras=tuple(tuple(sorted(clusters.cameras[i])) for i in order),
            members=tuple(tuple(sorted(clusters.members[i])) for i in order),
        )

    def _assign(self, view: CameraPeople, clusters: _Clusters) -> None:
        sigma = np.maximum(np.nan_to_num(view.sigma_m, nan=MIN_SIGMA_M), MIN_SIGMA_M)
        track_ids = view.ids.tolist()
        votes = [self._site_of.get((view.camera, tid), (None, 0.0))[0] for tid in track_ids]
        open_index = [j for j, cams in enumerate(clusters.cameras) if view.camera not in cams]
        matched = np.full(len(track_ids), -1)
        if track_ids and open_index:
            cluster_xy, cluster_sigma = clusters.positions()
            cluster_xy, cluster_sigma = cluster_xy[open_index], cluster_sigma[open_index]
            distance = np.hypot(
                view.floor_xy[:, None, 0] - cluster_xy[None, :, 0],
                view.floor_xy[:, None, 1] - cluster_xy[None, :, 1],
            )
            spread = np.sqrt(sigma[:, None] ** 2 + cluster_sigma[None, :] ** 2)
            # Drawn back to the site person the camera person was part of in the last step.
            held = np.array(
                [max(clusters.votes[j], key=clusters.votes[j].__getitem__, default=-1) for j in open_index]
            )
            asked = np.array([-2 if vote is None else vote for vote in votes])
            together = asked[:, None] == held[None, :]
            inside = distance <= self.gate_sigmas * spread + self.gate_floor_m
            cost = np.where(inside, distance / spread - self.gate_sigmas * together, _NO_MATCH)
            rows, cols = linear_sum_assignment(cost)
            keep = cost[rows, cols] < _NO_MATCH
            matched[rows[keep]] = np.asarray(open_index)[cols[keep]]
        clusters.add(view.camera, track_ids, view.floor_xy, sigma, votes, matched)

    def _site_ids(self, clusters: _Clusters, now: float) -> list[int]:
        """Give each cluster the site id most of its members held; a contested id goes to the
        cluster with the most votes for it, the others get new ids."""
        claims: dict[int, list[tuple[int, int]]] = {}
        for index, votes in enumerate(clusters.votes):
            if votes:
                site_id, count = max(votes.items(), key=lambda kv: (kv[1], -kv[0]))
                claims.setdefault(site_id, []).append((count, index))
        ids: list[int | None] = [None] * len(clusters.votes)
        for site_id, contenders in claims.items():
            _, winner = max(contenders)
            ids[winner] = site_id
        result = []
        for index, members in enumerate(clusters.members):
            site = ids[index]
            if site is None:
                site = self._next_id
                self._next_id += 1
            for member in members:
                self._site_of[member] = (site, now)
            result.append(site)
        return result


class _Clusters:
    """The people on the floor so far in a step, each as seen by one or more cameras."""

    def __init__(self) -> None:
        self.weighted = np.zeros((0, 2))  # sum of position / sigma^2
        self.precision = np.zeros(0)  # sum of 1 / sigma^2
        self.members: list[list[tuple[str, int]]] = []
        self.cameras: list[set[str]] = []
        self.votes: list[dict[int, int]] = []

    def positions(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Each cluster's uncertainty-weighted position `(m, 2)` and standard deviation `(m,)`."""
        return self.weighted / self.precision[:, None], 1.0 / np.sqrt(self.precision)

    def add(
        self,
        camera: str,
        track_ids: list[int],
        xy: NDArray[np.float64],
        sigma: NDArray[np.float64],
        votes: list[int | None],
        matched: NDArray[np.intp],
    ) -> None:
        """Add one camera's people: into cluster `matched[i]`, or a new cluster where it is -1."""
        weight = 1.0 / sigma**2
        joined = matched >= 0
        into = matched[joined]  # one camera person per cluster at most: no index twice
        self.weighted[into] += xy[joined] * weight[joined, None]
        self.precision[into] += weight[joined]
        fresh = ~joined
        self.weighted = np.vstack([self.weighted, xy[fresh] * weight[fresh, None]])
        self.precision = np.concatenate([self.precision, weight[fresh]])
        for i, tid in enumerate(track_ids):
            if matched[i] >= 0:
                j = int(matched[i])
            else:
                j = len(self.members)
                self.members.append([])
                self.cameras.append(set())
                self.votes.append({})
            self.members[j].append((camera, tid))
            self.cameras[j].add(camera)
            vote = votes[i]
            if vote is not None:
                self.votes[j][vote] = self.votes[j].get(vote, 0) + 1


@dataclass(frozen=True, slots=True)
class AlignedStep:
    """Which cameras' frames make up one fusion step.

    Attributes:
        t_s: the step's time (the newest frame time among the cameras used).
        used: the cameras whose latest frame belongs to the step.
        left_out: cameras whose latest frame is older than `max_lag_s` behind the step (lagging or
            stopped), or that have sent nothing yet.
    """

    t_s: float
    used: tuple[str, ...]
    left_out: tuple[str, ...]


def align_step(latest_t_s: dict[str, float | None], max_lag_s: float) -> AlignedStep:
    """Choose the cameras of one step from each camera's latest frame time (None: nothing yet).

    The step's time is the newest frame time; a camera whose latest frame is more than `max_lag_s`
    older is left out of the step (its people would be where they were, not where they are).

    Example:
        >>> align_step({"a": 10.0, "b": 9.9, "c": 7.0, "d": None}, max_lag_s=0.5)
        AlignedStep(t_s=10.0, used=('a', 'b'), left_out=('c', 'd'))
    """
    times = {cam: t for cam, t in latest_t_s.items() if t is not None}
    if not times:
        return AlignedStep(0.0, (), tuple(sorted(latest_t_s)))
    step = max(times.values())
    used = tuple(sorted(cam for cam, t in times.items() if step - t <= max_lag_s))
    left_out = tuple(sorted(cam for cam in latest_t_s if cam not in used))
    return AlignedStep(step, used, left_out)
