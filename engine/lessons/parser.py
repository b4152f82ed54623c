"""Parsing a lesson's Markdown: front matter, slides, the ``mbsim`` block of directives."""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from pathlib import Path
from typing import Any

from ..errors import ScenarioError, format_value
from ..scenario import DEFAULT, FIELD_NAMES, LIVE_SETTINGS, Scenario, from_mapping, from_toml_text, load_preset
from ..toml_text import toml_limit_problem
from .asking import check_references, parse_claims, parse_questions
from .conditions import parse_run
from .model import (
    DIRECTIVES, FRONT_KEYS, KEYS, MAX_SLIDES, MAX_SPEED, PANELS, PAUSES, VIEWS, Lesson, LessonError, Slide,
)
from .reading import MAX_SCENARIO_BYTES, read_text_limited


_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})\s*([\w-]*)")
_KEY = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")
_TOML_AT = re.compile(r"\(at line (\d+), column (\d+)\)")


def _key_lines(lines: list[str], first: int) -> dict[str, list[int]]:
    """For each key written ``key = ...`` in a TOML text, the file lines where it appears."""
    found: dict[str, list[int]] = {}
    for i, text in enumerate(lines):
        header = text.strip().replace(" ", "")
        if header.startswith("[") and header.endswith("]"):   # [[question]], [[claim]], [live]
            found.setdefault(header, []).append(first + i)
            continue
        m = _KEY.match(text)
        if m:
            found.setdefault(m.group(1), []).append(first + i)
    return found


def _toml(lines: list[str], first: int, source: str, what: str) -> dict[str, Any]:
    try:
        return tomllib.loads("\n".join(lines))
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = _TOML_AT.search(msg)
        if m:
            line = first + int(m.group(1)) - 1
        else:  # "(at end of document)": the last line written
            written = [i for i, t in enumerate(lines) if t.strip()]
            line = first + (written[-1] if written else 0)
        reason = _TOML_AT.sub("", msg).replace("(at end of document)", "at the end").strip()
        index = line - first
        hint = _toml_hint(lines[index] if 0 <= index < len(lines) else "", reason)
        raise LessonError(source, line, f"{what} is not valid TOML: {hint or reason}") from None
    except (RecursionError, ValueError) as exc:  # valid TOML beyond a limit of Python's (issue 23)
        at, reason = toml_limit_problem(lines, exc)
        raise LessonError(source, first + at, f"{what} {reason}") from None


_BARE = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=\s*([^\s\"'\[{].*?)\s*$")


def _toml_hint(text: str, reason: str) -> str:
    """The TOML reader's complaint about the line ``text``, in words a lesson's author can act on
    (the common slips: a text without quotes, a quote not closed); "" when none fits."""
    m = _BARE.match(text)
    if m and reason.startswith("Invalid value"):
        key, value = m.group(1), m.group(2)
        try:
            float(value.replace("_", ""))
        except ValueError:
            if value not in ("true", "false"):
                return f"{text.strip()!r}: a text value needs quotes: {key} = \"{value}\""
    if text.count('"') % 2 == 1 or text.count("'") % 2 == 1:
        return f"{text.strip()!r}: a quote is never closed on this line"
    return ""


def _unknown(key: str, allowed: tuple[str, ...], what: str) -> str:
    close = difflib.get_close_matches(key, list(allowed), n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}?" if close else f"allowed: {', '.join(allowed)}, or a scenario setting"
    return f"unknown {what} {key!r}: {hint}"


def parse_lesson(text: str, source: str, base_dir: str | Path | None = None) -> Lesson:
    """Parse and validate a lesson's text (not yet its run conditions: see :func:`check_lesson`)."""
    base_dir = Path(base_dir) if base_dir is not None else Path(".")
    if text.startswith("\ufeff"):
        text = text[1:]
    text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    for number, line in enumerate(lines, start=1):
        bad = next((c for c in line if (ord(c) < 32 and c != "\t") or 0x7F <= ord(c) < 0xA0), None)
        if bad is not None:
            raise LessonError(source, number, f"holds a control character (U+{ord(bad):04X}); "
                                              "a lesson is plain text")
    first_body = 0
    front: dict[str, Any] = {}
    front_lines: dict[str, list[int]] = {}
    if lines and lines[0].strip() == "+++":
        end = next((i for i in range(1, len(lines)) if lines[i].strip() == "+++"), None)
        if end is None:
            raise LessonError(source, 1, "the front matter opened with '+++' is never closed "
                                         "(end it with a line holding '+++')")
        body = lines[1:end]
        front = _toml(body, 2, source, "the front matter")
        front_lines = _key_lines(body, 2)
        first_body = end + 1
    # slides: split at lines holding --- outside fenced code
    slides_raw: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = first_body + 1
    fence: str | None = None
    opened = 0                 # the line of the ```mbsim fence open now (0: none)
    for i in range(first_body, len(lines)):
        text_line = lines[i]
        m = _FENCE.match(text_line)
        if m:
            if fence is None:
                fence = m.group(1)
                opened = i + 1 if m.group(2) == "mbsim" else 0
            elif m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not m.group(2):
                fence, opened = None, 0
            elif opened:       # a second fence opens inside an mbsim block: the block never closed
                raise LessonError(source, opened, f"the ```mbsim block is never closed: line {i + 1} "
                                                  f"opens another fence; end the block with a line "
                                                  f"holding {fence} before it")
        if opened and text_line.strip() == "---":
            raise LessonError(source, opened, f"the ```mbsim block is never closed: the '---' at line "
                                              f"{i + 1} would start the next slide inside it; end the "
                                              f"block with a line holding {fence} before it")
        if fence is None and text_line.strip() == "---":
            slides_raw.append((start, current))
            current, start = [], i + 2
            continue
        current.append(text_line)
    slides_raw.append((start, current))
    if len(slides_raw) > MAX_SLIDES:
        raise LessonError(source, 1, f"has {len(slides_raw)} slides; at most {MAX_SLIDES}")

    title, audience, minutes, start_scenario = _front_matter(front, front_lines, source, base_dir)
    scenario = start_scenario
    slides: list[Slide] = []
    for number, (line, body) in enumerate(slides_raw, start=1):
        slide = _parse_slide(number, line, body, source, base_dir, scenario)
        scenario = slide.scenario
        slides.append(slide)
    check_references(slides, source)
    if not title:
        title = next((s.title for s in slides if s.title), Path(source).stem)
    return Lesson(source, title, audience, minutes, start_scenario, tuple(slides), text)


def _front_matter(front: dict[str, Any], key_lines: dict[str, list[int]], source: str,
                  base_dir: Path) -> tuple[str, str, int, Scenario]:
    def line_of(key: str) -> int:
        return key_lines.get(key, [1])[0]

    for key in front:
        if key not in FRONT_KEYS and key not in FIELD_NAMES:
            raise LessonError(source, line_of(key), _unknown(key, FRONT_KEYS, "front matter key"))
    title = front.get("title", "")
    audience = front.get("audience", "")
    minutes = front.get("minutes", 0)
    for key, value in (("title", title), ("audience", audience)):
        if not isinstance(value, str):
            raise LessonError(source, line_of(key), f"{key} = {format_value(value)}: must be text")
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 0 <= minutes <= 600:
        raise LessonError(source, line_of("minutes"), f"minutes = {format_value(minutes)}: "
                                                      "must be a whole number of minutes from 0 to 600")
    return title, audience, minutes, _start_scenario(front, key_lines, source, base_dir)


def _start_scenario(front: dict[str, Any], key_lines: dict[str, list[int]], source: str,
                    base_dir: Path) -> Scenario:
    settings = {k: v for k, v in front.items() if k in FIELD_NAMES}
    return _fresh_scenario(front, settings, key_lines, source, base_dir, DEFAULT, 1)


def _fresh_scenario(block: dict[str, Any], settings: dict[str, Any], key_lines: dict[str, list[int]],
                    source: str, base_dir: Path, base: Scenario, default_line: int) -> Scenario:
    """The scenario a block (or the front matter) asks for, validated by the engine."""
    def line_of(key: str) -> int:
        return key_lines.get(key, [default_line])[0]

    if "preset" in block and "scenario" in block:
        raise LessonError(source, line_of("scenario"), "give preset or scenario, not both")
    if "preset" in block:
        name = block["preset"]
        if not isinstance(name, str):
            raise LessonError(source, line_of("preset"), f"preset = {format_value(name)}: must be a preset's name")
        try:
            base = load_preset(name)
        except ScenarioError as err:
            raise LessonError(source, line_of("preset"), str(err)) from None
    elif "scenario" in block:
        path = block["scenario"]
        if not isinstance(path, str) or not path.strip():
            raise LessonError(source, line_of("scenario"), f"scenario = {format_value(path)}: must be a file name")
        full = Path(path) if Path(path).is_absolute() else base_dir / path
        try:
            text = read_text_limited(full, MAX_SCENARIO_BYTES, "scenario file")
        except ValueError as err:
            raise LessonError(source, line_of("scenario"), f"scenario file {path!r} {err}") from None
        try:
            base = from_toml_text(text, source=f"scenario file {path!r}", base=DEFAULT).replace(name=Path(path).stem)
        except ScenarioError as err:
            raise LessonError(source, line_of("scenario"), str(err)) from None
    try:
        scenario = from_mapping(settings, base=base, source="lesson") if settings else base
        scenario.validate()
    except ScenarioError as err:
        key = err.setting if err.setting in settings else next(iter(settings), "preset")
        raise LessonError(source, line_of(key), str(err)) from None
    except TypeError as err:
        raise LessonError(source, default_line, f"bad setting ({err})") from None
    return scenario


def _parse_slide(number: int, line: int, body: list[str], source: str, base_dir: Path,
                 scenario: Scenario) -> Slide:
    prose: list[str] = []
    block: list[str] | None = None
    block_line = 0
    i = 0
    while i < len(body):
        text = body[i]
        m = _FENCE.match(text)
        if m and m.group(2) == "mbsim":
            if block is not None:
                raise LessonError(source, line + i, f"slide {number} has a second ```mbsim block "
                                                     f"(the first is at line {block_line - 1}); put every directive in one")
            fence = m.group(1)
            j = i + 1
            while j < len(body) and not (body[j].strip().startswith(fence) and body[j].strip().strip(fence[0]) == ""):
                j += 1
            if j >= len(body):
                raise LessonError(source, line + i, f"the ```mbsim block of slide {number} is never closed "
                                                     f"(end it with a line holding {fence})")
            block = body[i + 1 : j]
            block_line = line + i + 1
            i = j + 1
            continue
        prose.append(text)
        i += 1
    markdown = "\n".join(prose).strip("\n")
    if not markdown.strip() and block is None:
        raise LessonError(source, line, f"slide {number} is empty (remove the extra '---' or write the slide)")
    title = next((t.lstrip("#").strip() for t in prose if t.startswith("#")), "")
    if block is None:
        return Slide(number, line, markdown, title, scenario=scenario)
    data = _toml(block, block_line, source, f"the ```mbsim block of slide {number}")
    kl = _key_lines(block, block_line)

    def line_of(key: str, n: int = 0) -> int:
        found = kl.get(key, [])
        return found[n] if n < len(found) else block_line

    def fail(key: str, message: str, n: int = 0) -> LessonError:
        return LessonError(source, line_of(key, n), message)

    for key in data:
        if key not in DIRECTIVES and key not in FIELD_NAMES:
            raise fail(key, _unknown(key, DIRECTIVES, "directive"))
    settings = {k: v for k, v in data.items() if k in FIELD_NAMES}
    fresh = bool(settings) or "preset" in data or "scenario" in data
    if fresh:
        scenario = _fresh_scenario(data, settings, kl, source, base_dir, scenario, block_line)
        if settings and "name" not in settings:  # the header names what is on screen
            scenario = scenario.replace(name=f"{Path(source).stem} slide {number}")
    run = None
    if "run" in data:
        try:
            run = parse_run(data["run"], line_of("run"))
        except ValueError as err:
            raise fail("run", str(err)) from None
    speed: int | None = None
    if "speed" in data:
        raw = data["speed"]
        if raw == "max":
            speed = None
        elif isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw) \
                or not 1 <= raw <= MAX_SPEED:
            raise fail("speed", f"speed = {format_value(raw)}: must be batches per second from 1 to "
                                f"{MAX_SPEED:,}, or \"max\"")
        else:
            speed = int(raw)
        if run is None:
            raise fail("speed", "speed = ... needs a run = ... on the same slide (the speed of that run)")
    pause = data.get("pause", "none")
    if pause not in PAUSES:
        raise fail("pause", f"pause = {format_value(pause)}: {_allowed(pause, PAUSES)}")
    view = data.get("view")
    if view is not None and view not in VIEWS:
        raise fail("view", f"view = {format_value(view)}: {_allowed(view, VIEWS)}")
    if view == "compare" and run is not None:
        raise fail("run", "run = ... cannot go with view = \"compare\": compare mode has its own three "
                          "runs (space runs them); put the run on a slide of its own")
    if view == "lab" and run is not None:
        raise fail("run", "run = ... cannot go with view = \"lab\": the lab runs its own sweep of batch "
                          "sizes; put the run on a slide of its own")
    runs = data.get("runs")
    if runs is not None:
        from ..ensemble import MAX_RUNS

        if view != "cloud":
            raise fail("runs", "runs = K goes with view = \"cloud\" (the noise cloud's runs)")
        if isinstance(runs, bool) or not isinstance(runs, int) or not 1 <= runs <= MAX_RUNS:
            raise fail("runs", f"runs = {format_value(runs)}: must be a whole number from 1 to {MAX_RUNS}")
    highlight = data.get("highlight", ())
    if isinstance(highlight, str):
        highlight = (highlight,)
    if not isinstance(highlight, (list, tuple)) or not all(isinstance(h, str) for h in highlight):
        raise fail("highlight", f"highlight = {format_value(highlight)}: must be a panel's name or a list of them")
    for h in highlight:
        if h not in PANELS:
            raise fail("highlight", f"highlight {h!r}: {_allowed(h, PANELS)}")
    keys = data.get("keys")
    if keys is not None:
        if keys == "all":
            keys = None
        elif not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise fail("keys", "keys = ...: must be a list of keys, e.g. [\"n\", \"e\", \"space\"], or \"all\"")
        else:
            for k in keys:
                if k not in KEYS:
                    raise fail("keys", f"keys: {k!r} is not a key of the main screen; {_allowed(k, tuple(KEYS))}")
            keys = tuple(keys)
    live, live_line = _live(data, kl, source, block_line, fresh, scenario)
    if live:
        scenario = scenario.replace(**dict(live))
    questions = parse_questions(data.get("question", []), number, source, kl, block_line, view)
    claims = parse_claims(data.get("claim", []), number, source, kl, block_line, view)
    return Slide(number, line, markdown, title, fresh=fresh, scenario=scenario,
                 changes=tuple(settings), run=run, speed=speed, pause=pause, view=view, runs=runs,
                 highlight=tuple(highlight), keys=keys, questions=questions, live=live,
                 live_line=live_line, claims=claims)


def _live(data: dict[str, Any], kl: dict[str, list[int]], source: str, block_line: int, fresh: bool,
          scenario: Scenario) -> tuple[tuple[tuple[str, Any], ...], int]:
    """The ``[live]`` table: settings changed on the run in progress, the parameters kept (as the
    keys ``[ ] < > o m`` and the settings screen do), checked as a scenario file's."""
    if "live" not in data:
        return (), 0
    table = data["live"]
    line = kl.get("[live]", kl.get("live", [block_line]))[0]
    if not isinstance(table, dict) or not table:
        raise LessonError(source, line, "live: write the settings under a [live] line, e.g. [live] then "
                                        "batch_size = 50")
    if fresh:
        raise LessonError(source, line, "live changes the run in progress; this slide starts a fresh run "
                                        "(preset, scenario or settings): put the settings there instead")
    for key, value in table.items():
        kline = next((n for n in kl.get(key, []) if n > line), line)
        if key not in LIVE_SETTINGS:
            what = "a setting that can change live" if key in FIELD_NAMES else "a setting"
            allowed = ", ".join(sorted(LIVE_SETTINGS))
            raise LessonError(source, kline, f"live: {key!r} is not {what}; allowed: {allowed}")
        try:
            from_mapping({key: value}, base=scenario, source="lesson").validate()
        except ScenarioError as err:
            raise LessonError(source, kline, f"live: {err}") from None
        except TypeError as err:
            raise LessonError(source, kline, f"live: bad setting ({err})") from None
    try:
        from_mapping(dict(table), base=scenario, source="lesson").validate()
    except (ScenarioError, TypeError) as err:
        raise LessonError(source, line, f"live: {err}") from None
    return tuple(table.items()), line


def _allowed(value: Any, allowed: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(str(value), list(allowed), n=1, cutoff=0.5)
    text = "allowed: " + ", ".join(allowed)
    return f"{text} (did you mean {close[0]!r}?)" if close else text
