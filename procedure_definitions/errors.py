"""The catalogue of definition problems: stable codes, severities and message templates.

Codes never change meaning once published (configurators search for them); add new ones at the end of
their block. Messages name the offending key or id; the position (``path:line:col``) is added by the
reporter, so a problem is always ``path:line:col: CODE message``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Literal

import msgspec

__all__ = ["CATALOGUE", "Problem", "did_you_mean", "problem"]

Severity = Literal["error", "warning"]

# code -> (severity, template). Templates use str.format with keyword arguments.
CATALOGUE: dict[str, tuple[Severity, str]] = {
    # 0xx: the file itself
    "PD001": ("error", "YAML syntax error: {detail}"),
    "PD002": ("error", "duplicate key '{key}' (the first is at line {first_line})"),
    "PD003": ("error", "a definition must be a mapping with 'kind: procedure' or 'kind: life_event'"),
    "PD004": ("error", "unknown kind '{kind}'{hint}: use 'procedure' or 'life_event'"),
    "PD005": ("error", "cannot read file: {detail}"),
    "PD006": ("error", "notebook problem: {detail}"),
    # 1xx: shape (keys and types)
    "PD101": ("error", "unknown key '{key}'{hint}"),
    "PD102": ("error", "'{key}' must be {expected}, not {actual}{hint}"),
    "PD103": ("error", "missing required key '{key}'"),
    "PD104": ("error", "'{key}' must be one of {allowed}, not {actual!r}{hint}"),
    "PD105": ("error", "unknown field type '{type}'{hint}"),
    "PD106": ("error", "invalid id '{id}': {rule}"),
    "PD107": ("error", "invalid version '{version}': use semantic versioning like 1.0.0"),
    "PD108": ("error", "'{key}' must not be empty"),
    "PD109": ("error", "'{key}' is {actual}: numbers must be finite and between -9007199254740991 and 9007199254740991"),
    # 2xx: meaning
    "PD201": ("error", "duplicate {what} id '{id}' (first defined at line {first_line})"),
    "PD202": ("error", "unknown field '{name}' in {key}{hint}"),
    "PD203": ("error", "expression syntax error in {key}: {detail}"),
    "PD204": ("error", "type error in {key}: {detail}"),
    "PD205": ("error", "calculations form a cycle: {cycle}"),
    "PD206": ("error", "unknown profile attribute '{name}' in prefill{hint}"),
    "PD207": ("error", "prefill attribute '{name}' holds a {attr_type} value but field '{field}' is {field_type}"),
    "PD208": ("error", "{detail}"),
    "PD209": ("error", "{what} '{id}' version {version} is defined twice (also in {other})"),
    "PD210": ("error", "unknown procedure '{id}' in life event{hint}"),
    "PD211": ("error", "shared field '{shared}' maps to unknown field '{field}' of procedure '{procedure}'{hint}"),
    "PD212": ("error", "shared field '{shared}' is {shared_type} but '{procedure}.{field}' is {field_type}"),
    "PD213": ("warning", "{detail}"),
    "PD214": ("error", "'{key}' is only allowed on a group prefilled from a list of people ({groups}); field '{field}' is {what}"),
    "PD215": ("error", "{key} of '{field}' maps '{item}' to unknown member attribute '{name}'{hint}"),
    "PD216": ("error", "{key} of '{field}': member attribute '{name}' holds a {attr_type} value but '{item}' is {field_type}"),
    "PD217": ("error", "group '{field}' is prefilled from '{name}' but has no prefill_map: say which item field takes which member attribute"),
    "PD218": ("error", "person field '{field}' has no prefill: say which list of people it offers ({groups})"),
    "PD219": ("error", "person field '{field}' has no fills: say which field takes which member attribute of the picked person"),
    "PD220": ("error", "fills of '{field}': '{item}' is inside group '{group}'; a person field fills plain fields (a group of people uses prefill_map)"),
    "PD221": ("error", "'{item}' is filled by two person fields: '{other}' and '{field}'"),
    "PD222": ("error", "'pick_self' is only allowed on a person field or a group with pick: true; field '{field}' is {what}"),
    "PD223": ("error", "'prefill_part: {part}' on field '{field}' cannot be filled: {reason}"),
    "PD224": ("error", "prefill_values of field '{field}': {reason}"),
    "PD225": ("error", "fills of '{field}': '{item}' must follow '{field}' in the same section (the PWA shows a picked person's values after the person field, on its screen)"),
    "PD230": ("error", "section '{section}' names unknown party '{party}'{hint}"),
    "PD231": ("error", "{key} of {part}'s part reads '{name}', which {other} fills"),
    "PD232": ("error", "party '{party}' has no section"),
    "PD233": ("error", "a procedure with parties must list resident in filers"),
    "PD234": ("error", "every section belongs to a party: the first filer has nothing to fill"),
    "PD235": ("error", "shared field '{shared}' maps to '{procedure}.{field}', which another party fills"),
    "PD236": ("error", "shared field '{shared}' cannot fill '{procedure}.{field}': {reason}"),
    "PD240": ("error", "'{name}' is asked twice in this life event: by {first}.{first_field} and {second}.{second_field}; ask it once with a shared field that maps to both"),
    "PD241": ("error", "the 個人番号 {procedure}.{group}[].{item} is not in the group's prefill_map ({item}: my_number): a person entered in another procedure of this life event would be asked it again"),
    "PD242": ("error", "question '{question}' maps to unknown field '{field}' of procedure '{procedure}'{hint}"),
    "PD243": ("error", "question '{question}' is yes/no but '{procedure}.{field}' is {field_type}: a question's answer fills only a yesno field"),
    "PD244": ("error", "question '{question}' cannot fill '{procedure}.{field}': {reason}"),
    "PD245": ("error", "question '{question}' is asked again by {procedure}.{field}; add maps_to: {{{procedure}: {field}}} to the question so its answer fills that field"),
    "PD246": ("error", "question '{question}' cannot be answered from profile attribute '{name}': {reason}"),
    "PD247": ("error", "{what} '{id}' version {version} is already published, and a published version never changes: give the draft a new version (e.g. {suggest})"),
    "PD248": ("error", "{what} '{id}' version {version} is not newer than the live version {live}: give the draft a higher version (e.g. {suggest})"),
    "PD250": ("error", "{what} '{id}' is staff_only but this procedure's filers do not include staff: nobody could fill it"),
    "PD251": ("warning", "{key} of field '{field}' reads staff-only field '{name}', which a resident filer never has: it is always empty for them"),
    "PD252": ("warning", "field '{field}' has a constraint but no constraint_message: say what to do when it fails (e.g. 「郵便番号を7桁の数字で入力してください」)"),
    # 253-254: a translations CSV (procedure_definitions/translations.py), located in the CSV: ROW:COL
    "PD253": ("error", "unknown text key '{key}'{hint}: the keys are those `madoguchi translations export` writes"),
    "PD254": ("error", "translations CSV: {detail}"),
    "PD255": ("error", "counter_minutes must be a whole number of minutes from 1 to 240, not {value}"),
    # 3xx: scenarios
    "PD301": ("error", "scenario '{scenario}' failed: {detail}"),
    "PD302": ("error", "scenario '{scenario}' answers unknown field '{field}'{hint}"),
    # 4xx: estimates
    "PD401": ("warning", "estimated completion time {seconds:.0f} s exceeds the 60 s goal"),
}


class Problem(msgspec.Struct, frozen=True, order=True):
    path: str
    line: int
    col: int
    code: str
    message: str
    severity: Severity = "error"

    def format(self) -> str:
        """One line, always: control characters a key, id or value may hold (a newline, NUL) are escaped."""
        sev = "warning: " if self.severity == "warning" else ""
        return _one_line(f"{self.path}:{self.line}:{self.col}: {self.code} {sev}{self.message}")


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


def _one_line(text: str) -> str:
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def problem(code: str, path: str, line: int, col: int, **kw: object) -> Problem:
    severity, template = CATALOGUE[code]
    kw.setdefault("hint", "")
    return Problem(path, line, col, code, template.format(**kw), severity)


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest candidate, or ``""``."""
    match = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""
