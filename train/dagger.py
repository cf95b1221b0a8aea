"""DAgger: on-policy training data. The trained model plays the training games; wherever it
leaves the expert's path, the expert plans from the state the model reached and its
continuation becomes a training conversation.

    harness data --suite alfworld-train --out data/dagger --dagger smollm2-react:q8_0
    harness data --suite alfworld-train --out data/dagger --dagger runs/smollm2-react-train   # traces of a bench run

Behaviour cloning only ever sees the expert's own states; once a model steps off that path
(a wrong receptacle, a useless object in hand) it has never seen how to recover. Here each
conversation is the model's own history up to a point where its next step differs from the
expert's (unsupervised: ``supervise_from`` marks where the supervised turns start), followed
by the expert's steps from that state through the win (``harness.world.expert.solve_from``,
observations replayed in the real rules). ``train.sft`` trains only on those expert turns;
LLaMA-Factory ignores ``supervise_from`` and would train on every turn.

Recoveries (``recovery_records``) give the same kind of conversation without a model: the
expert's own trajectory is knocked off course once (noise injection, as in DART, Laskey et al.
2017) and the expert's way back is the supervised part. Two slips, both seen in SmolLM2's lost
games:

* ``skip``: one command is left out; the thoughts after it are still said and the next command
  is tried where the agent stands (``think: Now I find a desklamp (1)`` then ``use desklamp 1``
  without having gone to it: ``Nothing happens.``);
* ``detour``: one command is replaced by another admissible one (a wrong receptacle, a wrong
  object picked up).

    harness data --suite alfworld-train --out data/recover --recoveries 1

Slips (``slipped_record``) cost almost nothing: one of the expert's own conversations gets one
command that does nothing, as SmolLM2 writes them in its lost games, and the expert goes on as
planned. The slip's turns are context only (``unsupervised``); every other turn stays supervised,
so a slipped conversation teaches all the original does plus what to do after "Nothing happens.":

* ``repeat``: a ``go to R`` said again where the agent already stands;
* ``phantom``: at a receptacle without the object searched for, "Now I find a X (n)" and
  ``take X n from R`` (``use X n`` for a lamp), which does nothing.

    harness data --suite alfworld-train --out data/slips --slips 0.5

Unnoted conversations (``unnoted_record``) are the expert's with its notes for later left out
("I also see a desklamp (1) in/on desk 1, for later.", the thoughts of their own; the "here:" slot
of a find thought stays), the state SmolLM2 is in whenever it
skips one: in the valid_seen games the one-epoch build lost, it wrote no note in any (30 of 30),
and it never recalled the lamp or second object it had seen. The expert's later turns stay right
from there (it recalls what observations showed, not what it noted), so they teach the recall
from the observation itself.

    harness data --suite alfworld-train --out data/unnoted --unnoted 0.5
"""

from __future__ import annotations

import logging
import random
import re
from pathlib import Path
from typing import Any

from harness.agent.protocol import SYSTEM_PROMPT, build_messages, parse_reply
from harness.bench.suites import Suite
from harness.bench.traces import EpisodeTrace
from harness.world.expert import ExpertFailed, claims_object, is_note, search_list, solve, solve_from
from harness.world.game import NOTHING

log = logging.getLogger(__name__)

__all__ = [
    "RECOVERY_KINDS",
    "SLIP_KINDS",
    "dagger_records",
    "play_model",
    "played_suite",
    "recovery_records",
    "slipped_record",
    "unnoted_record",
]

RECOVERY_KINDS = ("skip", "detour")
SLIP_KINDS = ("phantom", "repeat")  # in order of preference: fewer games have room for a phantom


def _first_command(steps: list) -> str | None:
    return next((s.text for s in steps if not s.is_thought), None)


class _OwnPlan:
    """The search plan a model stated in its last search thought, and where it has been.

    A model that walks its own list of receptacles in order, where the expert would have
    walked another, makes no mistake; labelling that state would teach it to drop a good plan
    halfway. Such steps are not DAgger states while the expert is searching too: going to the
    next receptacle of the list that it has not visited, and opening a closed receptacle it just
    arrived at. Walking on past what it searches for is a mistake, and is labelled."""

    def __init__(self, receptacle_names: set[str]) -> None:
        self.names = receptacle_names
        self.plan: list[str] = []
        self.visited: set[str] = set()
        self.closed_here: str | None = None

    def follows(self, command: str) -> bool:
        """``command`` is the next step of the model's own search (it may still be wrong, e.g.
        walking past what it searches for: :func:`_searching` tells)."""
        if command.startswith("go to "):
            nxt = next((r for r in self.plan if r not in self.visited), None)
            return command[6:] == nxt and nxt in self.names
        return command.startswith("open ") and command[5:] == self.closed_here

    def saw(self, text: str, command: str | None, observation: str) -> None:
        plan = search_list(text) if command is None else None
        if plan is not None:
            self.plan = plan
        self.closed_here = None
        if command and command.startswith("go to "):
            self.visited.add(command[6:])
            if f"{command[6:]} is closed" in observation:
                self.closed_here = command[6:]


def _searching(labels: list) -> bool:
    """The expert's next move is a search step too: its first command is a ``go to`` or an
    ``open``, with only search thoughts before it (not a find, a recall or a take)."""
    for step in labels:
        if not step.is_thought:
            return step.text.startswith(("go to ", "open "))
        if search_list(step.text) is None:
            return False
    return False


def dagger_records(
    suite: Suite,
    traces: list[EpisodeTrace],
    *,
    per_episode: int = 2,
    system: str | None = SYSTEM_PROMPT,
    claims: bool = False,
) -> list[dict[str, Any]]:
    """ShareGPT records (with ``supervise_from``) for the first ``per_episode`` states of each
    traced episode where the model's command differs from the expert's next command, unless
    both are searching and the model walks its own search list (:class:`_OwnPlan`).

    ``claims``: also where the model says it finds or saw an object and the expert, from there,
    would not say so (a find the observation does not show: the take after it fails, but the
    thought was the mistake). Off by default: measured once, with data fill in the same round,
    and that round lost games (README)."""
    entries = {e.id: e for e in suite.games()}
    out: list[dict[str, Any]] = []
    for trace in traces:
        entry = entries.get(trace.game_id)
        if entry is None:
            continue
        world = entry.world()
        intro = suite.game(entry).reset()
        commands: list[str] = []
        history: list[tuple[str, str]] = []
        own = _OwnPlan({world.names[r] for r in world.receptacles})
        found = 0
        for step in trace.steps:
            # as the runner keeps it: the canonical reply (raw text when unparseable); only
            # commands reach the game
            shown = (
                parse_reply(step.assistant).assistant_text
                if step.kind != "invalid"
                else step.assistant.strip()
            )
            claim = claims and step.kind == "think" and claims_object(shown)
            if step.kind != "think" or claim:
                try:
                    labels = solve_from(world, commands, text_format=suite.text_format)
                except ExpertFailed as e:
                    log.info("%s: no expert plan after %d commands (%s)", trace.game_id, len(commands), e)
                    break
                if not labels:
                    break
                if claim:
                    off_path = shown != labels[0].text
                else:
                    on_own_plan = (
                        step.kind == "command" and own.follows(step.command or "") and _searching(labels)
                    )
                    off_path = step.command != _first_command(labels) and not on_own_plan
                if off_path:
                    continuation = [(s.text, s.observation) for s in labels]
                    msgs = build_messages(intro, history + continuation, system=system)
                    out.append(
                        _record(
                            msgs,
                            trace.game_id,
                            trace.task_type,
                            supervise_from=len(history),
                            source=f"dagger:{trace.model}",
                        )
                    )
                    found += 1
                    if found >= per_episode:
                        break
            history.append((shown, step.observation))
            own.saw(shown, step.command if step.kind == "command" else None, step.observation)
            if step.kind == "command" and step.command:
                commands.append(step.command)
    return out


def recovery_records(
    suite: Suite,
    *,
    per_game: int = 1,
    seed: int = 0,
    system: str | None = SYSTEM_PROMPT,
    games: set[str] | None = None,
) -> list[dict[str, Any]]:
    """``per_game`` ShareGPT records (with ``supervise_from``) for each game the expert solves:
    its trajectory up to a seeded slip (a kind from ``RECOVERY_KINDS`` at a seeded command),
    then the expert's steps from the state the slip left (``solve_from``). Deterministic for a
    seed; a slip that wins the game, or leaves it unwinnable, is not used."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for entry in suite.games():
        if games is not None and entry.id not in games:
            continue
        world = entry.world()
        try:
            steps = solve(world, text_format=suite.text_format)
        except ExpertFailed:
            continue
        # a slip at the winning command would leave nothing to recover from after it
        at = [i for i, s in enumerate(steps) if not s.is_thought][:-1]
        for _ in range(per_game if at else 0):
            rec = _slip(suite, entry, world, steps, rng.choice(at), rng.choice(RECOVERY_KINDS), rng, system)
            if rec is not None:
                out.append(rec)
    return out


def _slip(
    suite: Suite, entry, world, steps: list, k: int, kind: str, rng: random.Random, system
) -> dict | None:
    """The record for one slip of ``kind`` at expert step ``k`` (a command) in ``entry``'s game
    (``world``: its loaded world, which the planner only reads), or None."""
    game = suite.game(entry)
    intro = game.reset()
    history = [(s.text, s.observation) for s in steps[:k]]
    commands = [s.text for s in steps[:k] if not s.is_thought]
    for c in commands:
        game.step(c)
    if kind == "skip":
        nxt = next(j for j in range(k + 1, len(steps)) if not steps[j].is_thought)
        history += [(s.text, s.observation) for s in steps[k + 1 : nxt]]
        wrong = steps[nxt].text
    else:
        choices = [c for c in game.admissible_commands() if c != steps[k].text]
        if not choices:
            return None
        wrong = rng.choice(choices)
    history.append((wrong, game.step(wrong).observation))
    commands.append(wrong)
    try:
        labels = solve_from(world, commands, text_format=suite.text_format)
    except ExpertFailed:
        return None
    if not labels:
        return None
    msgs = build_messages(intro, history + [(s.text, s.observation) for s in labels], system=system)
    return _record(msgs, entry.id, entry.task_type, len(history), f"recovery:{kind}")


def slipped_record(
    suite: Suite, entry, rng: random.Random, *, system: str | None = SYSTEM_PROMPT
) -> dict[str, Any] | None:
    """The expert's conversation on ``entry`` with one slip after one of its commands (a
    ``phantom`` after a visit that finds nothing where the game has one, else a ``repeat`` of a
    ``go to``; the place is drawn from ``rng``), or None when the game has no place for one.
    Every slip command is played in the game and does nothing (``Nothing happens.``), so the
    expert's own steps after it stay right; the slip's assistant turns are listed in the
    record's ``unsupervised``."""
    world = entry.world()
    try:
        steps = solve(world, text_format=suite.text_format)
    except ExpertFailed:
        return None
    places = _slip_places(steps)
    kind = next((kind for kind in SLIP_KINDS if places[kind]), None)
    if kind is None:
        return None
    k, target, lamp = rng.choice(places[kind])
    receptacle = steps[k].text.split(" ", 2)[-1] if steps[k].text.startswith("go to") else steps[k].text[5:]
    if kind == "repeat":
        slip = [steps[k].text]
    else:
        n = rng.randint(1, 3)
        then = "use it" if lamp else "take it"
        act = f"use {target} {n}" if lamp else f"take {target} {n} from {receptacle}"
        slip = [f"think: Now I find a {target} ({n}). Next, I need to {then}.", act]
    game = suite.game(entry)
    intro = game.reset()
    for s in steps[: k + 1]:
        if not s.is_thought:
            game.step(s.text)
    turns = []
    for text in slip:
        if text.startswith("think:"):
            turns.append((text, "OK."))
            continue
        result = game.step(text)
        if result.admissible:
            return None  # it would have done something: not a slip the plan survives
        turns.append((text, result.observation))
    history = [(s.text, s.observation) for s in steps]
    history[k + 1 : k + 1] = turns
    msgs = build_messages(intro, history, system=system)
    rec = _record(msgs, entry.id, entry.task_type, 0, f"slip:{kind}")
    rec["unsupervised"] = list(range(k + 1, k + 1 + len(turns)))
    return rec


def unnoted_record(rec: dict[str, Any]) -> dict[str, Any] | None:
    """``rec`` (an expert's conversation, slipped or not) with every note for later and the
    ``OK.`` after it left out, or None when it has none. The turns after a note are the
    expert's from the state without it too: the expert recalls an object from the observation
    that showed it, whether or not it noted it. ``unsupervised`` indices after a dropped note
    move down with it; ``source`` gains ``+unnoted``."""
    conv = rec["conversations"]
    notes = [i for i, t in enumerate(conv) if t["from"] == "gpt" and is_note(t["value"])]
    if not notes:
        return None
    drop = {i for n in notes for i in (n, n + 1)}  # the note and the human "OK." after it
    gone = [sum(1 for t in conv[:i] if t["from"] == "gpt") for i in notes]  # assistant indices
    out = {**rec, "conversations": [t for i, t in enumerate(conv) if i not in drop]}
    if "unsupervised" in rec:
        out["unsupervised"] = [j - sum(g < j for g in gone) for j in rec["unsupervised"]]
    out["source"] = f"{rec['source']}+unnoted" if rec.get("source") else "unnoted"
    return out


def _slip_places(steps: list) -> dict[str, list[tuple[int, str, bool]]]:
    """Where a slip fits: (index of the command it follows, the object word searched for ("" for
    a repeat outside a search), whether it is the lamp to use). ``repeat`` after any ``go to``
    that moved; ``phantom`` after a visit of a search that does not find the object there (the
    next step is not "Now I find")."""
    uses = {m.group(1) for s in steps if (m := re.search(r"find and use an? (\S+?)[.,]", s.text))}
    places: dict[str, list[tuple[int, str, bool]]] = {kind: [] for kind in SLIP_KINDS}
    target = None
    for i, s in enumerate(steps[:-1]):
        m = re.match(r"think: (?:First I need to find an?|No) (\S+?)[. ]", s.text)
        if m:
            target = m.group(1)
        elif s.text.startswith(("think: Now I", "think: I saw")):
            target = None  # found, or going back to one seen earlier
        elif s.text.startswith("go to ") and s.observation != NOTHING:
            places["repeat"].append((i, target or "", False))
        if (
            target
            and s.observation != NOTHING  # a go to where the agent stands shows nothing
            and re.match(r"(go to|open) ", s.text)
            and not steps[i + 1].text.startswith("think: Now I find")
        ):
            if steps[i + 1].text.startswith("open "):
                continue  # closed: the visit ends after the open
            places["phantom"].append((i, target, target in uses))
    return places


def _record(
    msgs: list[dict[str, str]], game_id: str, task_type: str, supervise_from: int, source: str
) -> dict[str, Any]:
    system = next((m["content"] for m in msgs if m["role"] == "system"), "")
    conv = [
        {"from": "human" if m["role"] == "user" else "gpt", "value": m["content"]}
        for m in msgs[1 if system else 0 :]
    ]
    if conv and conv[-1]["from"] == "human":
        conv.pop()
    return {
        "conversations": conv,
        "system": system,
        "game_id": game_id,
        "task_type": task_type,
        "supervise_from": supervise_from,
        "source": source,
    }


def play_model(suite: Suite, model: str, out_dir: Path, backend: str = "auto") -> list[EpisodeTrace]:
    """Play ``model`` greedily on the suite (resumable, like ``harness bench``); returns traces.
    ``model`` may also be a bench run folder (or its traces.jsonl) to reuse its episodes."""
    from harness.bench.traces import read_traces

    path = Path(model)
    if path.is_dir() and (path / "traces.jsonl").is_file():
        return read_traces(path / "traces.jsonl")
    if path.suffix == ".jsonl" and path.is_file():
        return read_traces(path)
    from harness.backends.registry import available_backends
    from harness.backends.resolve import open_model, resolve_backend_name
    from harness.bench.runner import RunConfig, run_suite

    if backend == "auto" and model in available_backends() and model not in ("ollama", "llamacpp"):
        backend = model  # a policy (random, expert) named as the model, as `harness bench random`
    name = resolve_backend_name(model, backend)
    cfg = RunConfig(suite=suite.name, model=model, backend=name, max_steps=suite.max_steps)
    return run_suite(suite, lambda: open_model(model, name), cfg, out_dir)


def played_suite(model: str) -> str | None:
    """The suite a bench run folder (or its traces.jsonl) was played on, as its run.json records
    it; None for a model name or a run without run.json. A damaged run.json is a HarnessError."""
    from harness._util.jsonfile import read_json
    from harness.errors import HarnessError

    path = Path(model)
    if path.is_dir():
        run_file = path / "run.json"
    elif path.suffix == ".jsonl":
        run_file = path.with_name("run.json")
    else:
        return None
    if not run_file.is_file():
        return None
    suite = read_json(run_file, "run record", HarnessError, "rerun the bench into a new --out").get("suite")
    return suite if isinstance(suite, str) else None
