"""Teacher-forced action agreement: replay a reference trajectory (the expert's, or a baseline
model's episode) and, at every step, ask a model for its next reply given exactly the
reference history. Agreement counts steps where the model would have done what the reference
did, so damage to the model shows up without the drift that free-running episodes add (one
different early move sends an episode elsewhere, and every later step differs).

    trajs = expert_trajectories(suite, suite.games()[:6])   # or [from_trace(trace, intro), …]
    steps = teacher_forced(trajs, backend, options)         # one StepAgreement per step
    summary = summarize(steps)                              # rates overall and per task type

What counts as agreement, by the reference reply's kind:

* a command: the model's reply parses (:func:`harness.agent.protocol.parse_reply`) to the same
  normalized command — the headline *action agreement*;
* a thought: the model also thinks (the wording of a thought is not compared);
* an unparseable reply (baseline trajectories only): the model's reply is unparseable too.

``reply_agreement`` covers every step; ``action_agreement`` only the command steps;
``exact_agreement`` counts replies identical to the reference, character for character (it
still separates models that never issue a valid command, such as a random-init one).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from harness.agent.protocol import SYSTEM_PROMPT, build_messages, observation_text, parse_reply
from harness.backends.base import Backend, ChatOptions, EpisodeContext

if TYPE_CHECKING:
    from harness.bench.suites import Suite, SuiteGame
    from harness.bench.traces import EpisodeTrace

__all__ = [
    "StepAgreement",
    "Trajectory",
    "expert_trajectories",
    "from_trace",
    "summarize",
    "teacher_forced",
]

Messages = list[dict[str, str]]


@dataclass
class Trajectory:
    """A reference episode: the intro and the (assistant text, observation) turns, as the
    runner keeps them in its history."""

    id: str
    """Game id."""
    task_type: str
    intro: str
    """The environment's first text (what ``build_messages`` turns into the task)."""
    turns: list[tuple[str, str]]
    source: str = "expert"
    """Who played it: ``expert`` or a model name."""
    system: str | None = SYSTEM_PROMPT
    examples: list[str] | None = None
    """Few-shot transcripts in the first user turn (``fewshot`` mode)."""
    game: Any = None
    """The game (``harness.world.Game``), for backends that read it (the ``expert`` policy)."""

    def messages(self, upto: int | None = None) -> Messages:
        """The chat messages before turn ``upto`` (all turns when None)."""
        hist = self.turns if upto is None else self.turns[:upto]
        return build_messages(self.intro, hist, system=self.system, examples=self.examples)

    def decisions(self) -> Iterator[tuple[int, Messages, str]]:
        """(turn index, messages the model sees, the reference reply) for every turn."""
        for i, (reply, _) in enumerate(self.turns):
            yield i, self.messages(i), reply

    def conversation(self) -> Messages:
        """The whole episode as messages, ending with the last assistant reply."""
        msgs = self.messages()
        return msgs[:-1] if msgs and msgs[-1]["role"] == "user" and self.turns else msgs


def expert_trajectories(
    suite: Suite,
    entries: Sequence[SuiteGame],
    *,
    system: str | None = SYSTEM_PROMPT,
    examples_for: Callable[[str], list[str] | None] | None = None,
) -> list[Trajectory]:
    """The expert's trajectories (thoughts and commands) on suite games; unsolvable games are
    left out."""
    from harness.world.expert import ExpertFailed, solve

    out = []
    for entry in entries:
        world = entry.world()
        game = suite.game(entry)
        intro = game.reset()
        try:
            steps = solve(world, text_format=suite.text_format)
        except ExpertFailed:
            continue
        out.append(
            Trajectory(
                id=entry.id,
                task_type=entry.task_type,
                intro=intro,
                turns=[(s.text, observation_text(s.observation)) for s in steps],
                system=system,
                examples=examples_for(entry.task_type) if examples_for else None,
                game=game,
            )
        )
    return out


def from_trace(
    trace: EpisodeTrace,
    intro: str,
    *,
    system: str | None = SYSTEM_PROMPT,
    examples: list[str] | None = None,
    game: Any = None,
) -> Trajectory:
    """A model's recorded episode (:class:`harness.bench.traces.EpisodeTrace`) as a reference, with
    the history exactly as the runner built it. ``intro`` is the game's first text
    (``suite.game(entry).reset()``)."""
    turns = []
    for s in trace.steps:
        parsed = parse_reply(s.assistant)
        shown = parsed.assistant_text if parsed.kind != "invalid" else (s.assistant or "").strip()
        turns.append((shown, observation_text(s.observation)))
    return Trajectory(
        id=trace.game_id,
        task_type=trace.task_type,
        intro=intro,
        turns=turns,
        source=trace.model,
        system=system,
        examples=examples,
        game=game,
    )


@dataclass
class StepAgreement:
    """One teacher-forced step."""

    trajectory: str
    task_type: str
    index: int
    ref_kind: str
    """``command``, ``think`` or ``invalid``: how the reference reply parses."""
    ref: str
    """The reference command (or thought / raw reply)."""
    kind: str
    """How the model's reply parses."""
    reply: str
    """The model's raw reply."""
    agree: bool
    same_text: bool = False
    """The model's reply is the reference reply, character for character (stripped)."""

    def to_dict(self) -> dict:
        return asdict(self)


def _agree(ref_kind: str, ref_text: str, kind: str, text: str) -> bool:
    if ref_kind == "command":
        return kind == "command" and text == ref_text
    return kind == ref_kind


def teacher_forced(
    trajectories: Sequence[Trajectory],
    backend: Backend,
    options: ChatOptions,
    *,
    on_step: Callable[[StepAgreement], None] | None = None,
    max_turns: int | None = None,
) -> list[StepAgreement]:
    """Ask ``backend`` for its reply at every turn of every trajectory, given the reference
    history; one :class:`StepAgreement` per turn, in order. ``max_turns`` caps the turns
    replayed per trajectory. Backend errors propagate (a replay has no episode to end)."""
    out: list[StepAgreement] = []
    for traj in trajectories:
        fmt = getattr(traj.game, "text_format", "2.1.1")
        backend.begin_episode(EpisodeContext(game=traj.game, game_id=traj.id, text_format=fmt))
        for i, messages, ref_reply in traj.decisions():
            if max_turns is not None and i >= max_turns:
                break
            ref = parse_reply(ref_reply)
            res = backend.chat(messages, options)
            got = parse_reply(res.text)
            step = StepAgreement(
                trajectory=traj.id,
                task_type=traj.task_type,
                index=i,
                ref_kind=ref.kind,
                ref=ref.text,
                kind=got.kind,
                reply=res.text,
                agree=_agree(ref.kind, ref.text, got.kind, got.text),
                same_text=(res.text or "").strip() == ref_reply.strip(),
            )
            out.append(step)
            if on_step:
                on_step(step)
    return out


@dataclass
class AgreementSummary:
    steps: int
    agreed: int
    reply_agreement: float | None
    """Share of all turns where the model agrees (see the module docstring)."""
    commands: int
    action_agreement: float | None
    """Share of command turns where the model issues the same command."""
    exact_agreement: float | None = None
    """Share of all turns where the model's reply is the reference reply verbatim."""
    by_task_type: dict[str, dict] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def _rates(steps: Sequence[StepAgreement]) -> dict:
    cmds = [s for s in steps if s.ref_kind == "command"]
    return {
        "steps": len(steps),
        "agreed": sum(s.agree for s in steps),
        "reply_agreement": sum(s.agree for s in steps) / len(steps) if steps else None,
        "commands": len(cmds),
        "action_agreement": sum(s.agree for s in cmds) / len(cmds) if cmds else None,
        "exact_agreement": sum(s.same_text for s in steps) / len(steps) if steps else None,
    }


def summarize(steps: Sequence[StepAgreement]) -> AgreementSummary:
    """Agreement rates over all steps and per task type."""
    groups: dict[str, list[StepAgreement]] = defaultdict(list)
    for s in steps:
        groups[s.task_type].append(s)
    return AgreementSummary(**_rates(steps), by_task_type={t: _rates(g) for t, g in groups.items()})
