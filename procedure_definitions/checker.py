"""Meaning checks on a shape-valid definition: ids, references, expressions, cycles, prefill, options.

Pure: takes the model plus the position map and returns problems. Cross-file checks (life events
pointing at procedures, duplicate versions) live in ``library.check_library``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from . import expressions as ex
from .checker_people import PREFILL_COMPAT, PeopleChecks, field_tag
from .errors import Problem, did_you_mean, problem
from .model import (
    FAMILY_PART_ATTRIBUTES,
    PROFILE_ATTRIBUTES,
    AddressField,
    AttachmentField,
    ChoiceField,
    DateField,
    FieldBase,
    GroupField,
    KanaField,
    LifeEvent,
    MultiChoiceField,
    NameField,
    NoticeField,
    NumberField,
    PersonField,
    PostalCodeField,
    Procedure,
    TextField,
    YesNoField,
    iter_fields,
)
from .parties import FIRST_FILER, section_party
from .yamlpos import KeyPath, Located

__all__ = ["EXPRESSION_KEYS", "Scope", "check_definition", "field_tag", "iter_located_fields"]

EXPRESSION_KEYS = ("show_if", "required_if", "constraint", "calculate", "choice_filter")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)  # fullmatch: "$" lets a newline through
_MIME = re.compile(r"[a-z]+/([a-z0-9.+-]+|\*)")
OBJECT_PARTS: dict[str, dict[str, str]] = {
    "name": {"family": "string", "given": "string"},
    "kana": {"family": "string", "given": "string"},
    "address": {k: "string" for k in ("postal_code", "prefecture", "city", "town", "block", "building")},
    "attachment": {"sha256": "string", "name": "string", "size": "number", "type": "string"},
}


def iter_located_fields(
    fields: list[Any], path: KeyPath, group: GroupField | None = None
) -> Iterator[tuple[FieldBase, KeyPath, GroupField | None]]:
    for i, f in enumerate(fields):
        fpath = path + (i,)
        yield f, fpath, group
        if isinstance(f, GroupField):
            yield from iter_located_fields(f.fields, fpath + ("fields",), f)


class Scope:
    """Field ids visible to expressions: top level, plus a group's own fields when inside it."""

    def __init__(self, top: dict[str, FieldBase], all_fields: dict[str, tuple[FieldBase, GroupField | None]]):
        self.top, self.all = top, all_fields

    def visible(self, group: GroupField | None) -> dict[str, FieldBase]:
        if group is None:
            return self.top
        chain: dict[str, FieldBase] = dict(self.top)
        g: GroupField | None = group
        groups = []
        while g is not None:
            groups.append(g)
            g = self.all.get(g.id, (g, None))[1]
        for g in reversed(groups):
            chain.update({f.id: f for f in g.fields})
        return chain


def _value_type(f: FieldBase) -> str:
    return str(ex.value_type(f))


class _Checker(PeopleChecks):
    def __init__(self, loc: Located, file: str) -> None:
        self.loc, self.file = loc, file
        self.problems: list[Problem] = []

    def report(self, code: str, path: KeyPath, *, at_key: bool = False, **kw: Any) -> None:
        line, col = self.loc.pos(path, key=at_key)
        self.problems.append(problem(code, self.file, line, col, **kw))

    # -- expressions ---------------------------------------------------------------------------
    def expression(
        self, src: str, path: KeyPath, visible: dict[str, FieldBase], scope: Scope | None, key: str
    ) -> tuple[dict[str, Any] | None, str]:
        """Parse, resolve references and type-check one expression. Returns (ast, inferred type)."""
        try:
            ast = ex.parse(src)
        except ex.ExprSyntaxError as e:
            line, col = self.loc.pos(path)
            col += e.offset + (1 if path in self.loc.quoted else 0)
            self.problems.append(problem("PD203", self.file, line, col, key=key, detail=e.message))
            return None, "any"
        unknown: list[str] = []

        def resolve(ref: tuple[str, ...]) -> str | None:
            head = ref[0]
            f = visible.get(head)
            if f is None:
                hint = ""
                if scope is not None and head in scope.all and scope.all[head][1] is not None:
                    g = scope.all[head][1]
                    assert g is not None
                    hint = f" (it is inside group '{g.id}': use {g.id}.{head} or count({g.id}))"
                else:
                    hint = did_you_mean(head, visible)
                unknown.append(head)
                self.report("PD202", path, name=head, key=key, hint=hint)
                return None
            t = _value_type(f)
            for part in ref[1:]:
                if isinstance(f, GroupField):
                    sub = {c.id: c for c in f.fields}
                    if part not in sub:
                        self.report("PD202", path, name=f"{f.id}.{part}", key=key, hint=did_you_mean(part, sub))
                        return None
                    f = sub[part]
                    t = "list"
                    continue
                parts = OBJECT_PARTS.get(field_tag(f))
                if parts is None or part not in parts:
                    self.report("PD202", path, name=".".join(ref), key=key, hint=did_you_mean(part, parts or {}))
                    return None
                t = "list" if t == "list" else parts[part]
                f = f  # parts of objects are leaves
            return t

        try:
            inferred, issues = ex.infer_type(ast, resolve)
        except Exception as e:  # never let a checker bug become a traceback for the configurator
            inferred, issues = "any", [f"could not type-check ({type(e).__name__})"]
        if not unknown:
            for msg in issues:
                self.report("PD204", path, key=key, detail=msg)
        return ast, inferred

    # -- procedures ----------------------------------------------------------------------------
    def counter_minutes(self, minutes: int | None) -> None:
        # A visit booking's length (server/booking/length.py): a whole number of minutes, at most 4 hours.
        if minutes is not None and (isinstance(minutes, bool) or not 1 <= minutes <= 240):
            self.report("PD255", ("counter_minutes",), value=minutes)

    def procedure(self, proc: Procedure) -> None:
        self.counter_minutes(proc.counter_minutes)
        all_fields: dict[str, tuple[FieldBase, GroupField | None]] = {}
        located: list[tuple[FieldBase, KeyPath, GroupField | None]] = []
        first_seen: dict[str, KeyPath] = {}
        self.unique_ids("section", [(s.id, ("sections", i, "id")) for i, s in enumerate(proc.sections)])
        self.unique_ids("document", [(d.id, ("documents", i, "id")) for i, d in enumerate(proc.documents)])
        for si, section in enumerate(proc.sections):
            for f, fpath, group in iter_located_fields(section.fields, ("sections", si, "fields")):
                located.append((f, fpath, group))
                if f.id in first_seen:
                    self.report("PD201", fpath + ("id",), what="field", id=f.id,
                                first_line=self.loc.pos(first_seen[f.id] + ("id",))[0])
                    continue
                first_seen[f.id] = fpath
                all_fields[f.id] = (f, group)
        top = {fid: f for fid, (f, g) in all_fields.items() if g is None}
        scope = Scope(top, all_fields)
        calc_refs: dict[str, tuple[set[str], KeyPath]] = {}
        owner = self.parties(proc)

        for si, section in enumerate(proc.sections):
            if section.show_if:
                ast, _ = self.expression(section.show_if, ("sections", si, "show_if"), top, scope, "show_if")
                self.same_part(ast, section_party(section), owner, ("sections", si, "show_if"), "show_if")
        self.staff_only(proc, located)
        for f, fpath, group in located:
            visible = scope.visible(group)
            for key in EXPRESSION_KEYS:
                src = getattr(f, key, None)
                if not src:
                    continue
                ast, inferred = self.expression(src, fpath + (key,), visible, scope, key)
                if ast is None:
                    continue
                self.same_part(ast, owner.get(f.id, FIRST_FILER), owner, fpath + (key,), key)
                if key == "calculate":
                    calc_refs[f.id] = ({r[0] for r in ex.references(ast)}, fpath + (key,))
                    self.calculate_type(f, inferred, fpath + (key,))
            self.field_options(f, fpath, visible)
            self.prefill(f, fpath)
        self.person_fields(located)
        for di, doc in enumerate(proc.documents):
            if doc.required_if:
                self.expression(doc.required_if, ("documents", di, "required_if"), top, scope, "required_if")
        if proc.fee and proc.fee.quantity_field:
            qf = top.get(proc.fee.quantity_field)
            if qf is None:
                self.report("PD202", ("fee", "quantity_field"), name=proc.fee.quantity_field, key="fee",
                            hint=did_you_mean(proc.fee.quantity_field, top))
            elif not isinstance(qf, NumberField):
                self.report("PD208", ("fee", "quantity_field"),
                            detail=f"fee quantity_field '{qf.id}' must be a number field")
        self.cycles(calc_refs)
        self.unique_ids("scenario", [(s.name, ("scenarios", i, "name")) for i, s in enumerate(proc.scenarios)])

    # -- two-person procedures -----------------------------------------------------------------
    def parties(self, proc: Procedure) -> dict[str, str]:
        """Check ``parties`` and ``Section.party``; answer field id -> its part (docs/procedure-format.md,
        "Procedures for two people")."""
        self.unique_ids("party", [(p.id, ("parties", i, "id")) for i, p in enumerate(proc.parties)])
        declared = {p.id for p in proc.parties}
        used: set[str] = set()
        owner: dict[str, str] = {}
        for si, section in enumerate(proc.sections):
            if section.party is not None:
                used.add(section.party)
                if section.party not in declared:
                    self.report("PD230", ("sections", si, "party"), party=section.party, section=section.id,
                                hint=did_you_mean(section.party, declared))
            for f, _, _ in iter_located_fields(section.fields, ()):
                owner.setdefault(f.id, section_party(section))
        for pi, p in enumerate(proc.parties):
            if p.id not in used:
                self.report("PD232", ("parties", pi, "id"), party=p.id)
        if proc.parties and "resident" not in proc.filers:
            self.report("PD233", ("parties",))
        if proc.parties and all(section_party(s) != FIRST_FILER for s in proc.sections):
            self.report("PD234", ("parties",))
        if proc.fee and proc.fee.quantity_field and owner.get(proc.fee.quantity_field, FIRST_FILER) != FIRST_FILER:
            self.report("PD231", ("fee", "quantity_field"), key="fee", name=proc.fee.quantity_field,
                        part="the first filer", other=_part_name(owner[proc.fee.quantity_field]))
        return owner

    def same_part(self, ast: Any, part: str, owner: dict[str, str], path: KeyPath, key: str) -> None:
        """An expression may read only fields of its own part: each person's part is validated when that
        person sends it, and its expressions evaluated, without the other's answers."""
        if ast is None:
            return
        for ref in sorted({r[0] for r in ex.references(ast)}):
            other = owner.get(ref)
            if other is not None and other != part:
                self.report("PD231", path, key=key, name=ref, part=_part_name(part), other=_part_name(other))

    def staff_only(self, proc: Procedure, located: list[tuple[FieldBase, KeyPath, GroupField | None]]) -> None:
        """staff_only needs staff among the filers; a field a resident sees should not depend on one."""
        staff: set[str] = set()  # staff-only field ids (their own flag, their section's, or their group's)
        in_section = {id(f) for s in proc.sections if s.staff_only for f, _ in iter_fields(s.fields)}
        for f, _, group in located:
            if f.staff_only or id(f) in in_section or (group is not None and group.id in staff):
                staff.add(f.id)
        if "staff" not in proc.filers:
            for si, s in enumerate(proc.sections):
                if s.staff_only:
                    self.report("PD250", ("sections", si, "staff_only"), what="section", id=s.id)
            for f, fpath, _ in located:
                if f.staff_only:
                    self.report("PD250", fpath + ("staff_only",), what="field", id=f.id)
        for f, fpath, _ in located:
            if f.id in staff:
                continue
            for key in EXPRESSION_KEYS:
                src = getattr(f, key, None)
                if not src:
                    continue
                try:
                    refs = ex.references(ex.parse(src))
                except ex.ExprSyntaxError:
                    continue  # reported as PD203 already
                for name in sorted({seg for r in refs for seg in r} & staff):
                    self.report("PD251", fpath + (key,), key=key, field=f.id, name=name)
            if f.constraint and f.constraint_message is None:
                self.report("PD252", fpath + ("constraint",), field=f.id)

    def calculate_type(self, f: FieldBase, inferred: str, path: KeyPath) -> None:
        want = _value_type(f)
        if inferred in ("any", "null") or want in ("any",):
            return
        if (want == "date" and inferred == "string") or (want == "string" and inferred in ("number", "date")):
            return
        if want != inferred:
            self.report("PD204", path, key="calculate",
                        detail=f"field '{f.id}' holds {want} but the calculation gives {inferred}")

    def cycles(self, calc_refs: dict[str, tuple[set[str], KeyPath]]) -> None:
        state: dict[str, int] = {}
        reported: set[frozenset[str]] = set()

        def visit(node: str, stack: list[str]) -> None:
            state[node] = 1
            stack.append(node)
            for dep in sorted(calc_refs[node][0]):
                if dep not in calc_refs:
                    continue
                if state.get(dep) == 1:
                    cyc = stack[stack.index(dep):] + [dep]
                    key = frozenset(cyc)
                    if key not in reported:
                        reported.add(key)
                        self.report("PD205", calc_refs[dep][1], cycle=" -> ".join(cyc))
                elif dep not in state:
                    visit(dep, stack)
            stack.pop()
            state[node] = 2

        for node in sorted(calc_refs):
            if node not in state:
                visit(node, [])

    def field_options(self, f: FieldBase, fpath: KeyPath, visible: dict[str, FieldBase]) -> None:
        def bad(key: str, detail: str) -> None:
            self.report("PD208", fpath + (key,), detail=detail)

        lo_hi = [("min", "max")] if isinstance(f, NumberField | GroupField) else []
        if isinstance(f, TextField):
            lo_hi.append(("min_length", "max_length"))
        if isinstance(f, MultiChoiceField):
            lo_hi.append(("min_selected", "max_selected"))
        for lo, hi in lo_hi:
            a, b = getattr(f, lo), getattr(f, hi)
            if a is not None and b is not None and a > b:
                bad(lo, f"field '{f.id}': {lo} ({a}) is greater than {hi} ({b})")
        if isinstance(f, NumberField) and f.step is not None and f.step <= 0:
            bad("step", f"field '{f.id}': step must be positive")
        if isinstance(f, ChoiceField | MultiChoiceField):
            if not f.choices:
                self.report("PD108", fpath + ("choices",), key="choices")
            seen: dict[str, int] = {}
            for ci, c in enumerate(f.choices):
                if c.value in seen:
                    self.report("PD201", fpath + ("choices", ci, "value"), what="choice", id=c.value,
                                first_line=self.loc.pos(fpath + ("choices", seen[c.value], "value"))[0])
                seen.setdefault(c.value, ci)
            if f.choice_filter and not any(c.filter is not None for c in f.choices):
                self.report("PD213", fpath + ("choice_filter",),
                            detail=f"field '{f.id}' has a choice_filter but no choice has a 'filter'")
        if isinstance(f, DateField):
            for key in ("min", "max"):
                v = getattr(f, key)
                if v is not None and not _ISO_DATE.fullmatch(v):
                    bad(key, f"field '{f.id}': {key} must be an ISO date like 2026-04-01")
        if isinstance(f, PostalCodeField) and f.address_field:
            target = visible.get(f.address_field)
            if target is None:
                self.report("PD202", fpath + ("address_field",), name=f.address_field, key="address_field",
                            hint=did_you_mean(f.address_field, visible))
            elif not isinstance(target, AddressField):
                bad("address_field", f"address_field '{f.address_field}' must be an address field")
        if isinstance(f, AttachmentField):
            for ai, mime in enumerate(f.accept):
                if not _MIME.fullmatch(mime):
                    self.report("PD208", fpath + ("accept", ai), detail=f"'{mime}' is not a MIME type like image/jpeg")
            if f.max_size_mb <= 0:
                bad("max_size_mb", f"field '{f.id}': max_size_mb must be positive")
        if isinstance(f, NoticeField):
            if f.required or f.required_if:
                bad("required", f"notice '{f.id}' has no value and cannot be required")
            if f.text is None:
                self.report("PD103", fpath, key="text")
        if f.calculate and isinstance(f, NoticeField | GroupField | AttachmentField):
            bad("calculate", f"a {field_tag(f)} field cannot be calculated")
        if isinstance(f, GroupField) and not f.fields:
            self.report("PD108", fpath + ("fields",), key="fields")
        if isinstance(f, NameField) and f.calculate:
            bad("calculate", "names are typed or prefilled, never calculated")

    def prefill(self, f: FieldBase, fpath: KeyPath) -> None:
        self.prefill_map(f, fpath)
        self.prefill_part(f, fpath)
        if f.prefill is None:
            if f.prefill_values is not None:
                self.report("PD224", fpath + ("prefill_values",), field=f.id, reason="it has no prefill to map")
            return
        attr_type = PROFILE_ATTRIBUTES.get(f.prefill)
        if attr_type is None:
            self.report("PD206", fpath + ("prefill",), name=f.prefill, hint=did_you_mean(f.prefill, PROFILE_ATTRIBUTES))
            return
        tag = field_tag(f)
        if f.prefill_values is not None:
            self.prefill_values(f, fpath, attr_type)
        elif tag not in PREFILL_COMPAT.get(attr_type, {attr_type}):
            self.report("PD207", fpath + ("prefill",), name=f.prefill, attr_type=attr_type, field=f.id,
                        field_type=tag)
        elif isinstance(f, GroupField) and f.prefill_map is None:
            self.report("PD217", fpath + ("prefill",), field=f.id, name=f.prefill)
        elif isinstance(f, PersonField) and f.fills is None:
            self.report("PD219", fpath + ("prefill",), field=f.id)

    def prefill_values(self, f: FieldBase, fpath: KeyPath, attr_type: str) -> None:
        """``prefill_values``: a scalar attribute's values mapped onto the choices of a choice field."""
        at = fpath + ("prefill_values",)
        if not isinstance(f, ChoiceField):
            self.report("PD224", at, field=f.id, reason=f"it is {field_tag(f)}; only a choice field maps values")
        elif attr_type not in _SCALAR_ATTRIBUTES:
            self.report("PD224", at, field=f.id, reason=f"prefill '{f.prefill}' holds a {attr_type} value, not text, a choice or a yes/no")
        else:
            values = {c.value for c in f.choices}
            for key, value in (f.prefill_values or {}).items():
                if value not in values:
                    self.report("PD224", at + (key,), field=f.id,
                                reason=f"'{key}' maps to '{value}', which is not one of its choices{did_you_mean(value, values)}")

    def prefill_part(self, f: FieldBase, fpath: KeyPath) -> None:
        """``prefill_part: family``: the 氏 of the filer's own name or reading, into a field with a family part."""
        if f.prefill_part is None:
            return
        two_parts = (isinstance(f, NameField) and not f.single_part) or (isinstance(f, KanaField) and f.split)
        if f.prefill not in FAMILY_PART_ATTRIBUTES:
            why = f"prefill '{f.prefill}' has no family part to take" if f.prefill else "it has no prefill"
            self.report("PD223", fpath + ("prefill_part",), field=f.id, part=f.prefill_part,
                        reason=f"{why}; use prefill: name (or name_kana on a reading)")
        elif not two_parts:
            self.report("PD223", fpath + ("prefill_part",), field=f.id, part=f.prefill_part,
                        reason=f"it is {field_tag(f)} without a family part (a name not single_part, a kana with split: true)")
        elif not f.prefill_editable:
            self.report("PD223", fpath + ("prefill_part",), field=f.id, part=f.prefill_part,
                        reason="prefill_editable: false would lock the part left to type too")

    def question_prefill(self, qid: str, name: str, at: KeyPath) -> None:
        """A question's ``prefill``: a yes/no profile attribute (the answer it suggests is true or false)."""
        attr_type = PROFILE_ATTRIBUTES.get(name)
        if attr_type is None:
            self.report("PD246", at, question=qid, name=name,
                        reason="no such profile attribute" + did_you_mean(name, PROFILE_ATTRIBUTES))
        elif attr_type != "yesno":
            yes_no = sorted(k for k, v in PROFILE_ATTRIBUTES.items() if v == "yesno")
            self.report("PD246", at, question=qid, name=name,
                        reason=f"it holds a {attr_type} value; a question takes a yes/no one ({', '.join(yes_no)})")

    def unique_ids(self, what: str, items: Sequence[tuple[str, KeyPath]]) -> None:
        seen: dict[str, KeyPath] = {}
        for ident, path in items:
            if ident in seen:
                self.report("PD201", path, what=what, id=ident, first_line=self.loc.pos(seen[ident])[0])
            else:
                seen[ident] = path

    # -- life events ---------------------------------------------------------------------------
    def life_event(self, ev: LifeEvent) -> None:
        self.counter_minutes(ev.counter_minutes)
        self.unique_ids("question", [(q.id, ("questions", i, "id")) for i, q in enumerate(ev.questions)])
        questions: dict[str, FieldBase] = {
            q.id: YesNoField(id=q.id, label=q.label) for q in ev.questions
        }
        included = {p.procedure for p in ev.procedures}
        for qi, q in enumerate(ev.questions):
            if q.show_if:
                self.expression(q.show_if, ("questions", qi, "show_if"), questions, None, "show_if")
            for proc_id in q.maps_to:
                if proc_id not in included:
                    self.report("PD208", ("questions", qi, "maps_to", proc_id),
                                detail=f"question '{q.id}' maps to '{proc_id}', which this life event does not include")
            if q.prefill is not None:
                self.question_prefill(q.id, q.prefill, ("questions", qi, "prefill"))
        for pi, p in enumerate(ev.procedures):
            if p.include_if:
                self.expression(p.include_if, ("procedures", pi, "include_if"), questions, None, "include_if")
        self.unique_ids("procedure", [(p.procedure, ("procedures", i, "procedure")) for i, p in enumerate(ev.procedures)])
        shared_ids = [(s.field.id, ("shared_fields", i, "field", "id")) for i, s in enumerate(ev.shared_fields)]
        self.unique_ids("shared field", shared_ids)
        shared: dict[str, FieldBase] = {s.field.id: s.field for s in ev.shared_fields}
        for si, s in enumerate(ev.shared_fields):
            fpath: KeyPath = ("shared_fields", si, "field")
            for key in EXPRESSION_KEYS:
                src = getattr(s.field, key, None)
                if src:
                    self.expression(src, fpath + (key,), shared, None, key)
            self.field_options(s.field, fpath, shared)
            self.prefill(s.field, fpath)
            included = {p.procedure for p in ev.procedures}
            for proc_id in s.maps_to:
                if proc_id not in included:
                    self.report("PD208", ("shared_fields", si, "maps_to", proc_id),
                                detail=f"shared field '{s.field.id}' maps to '{proc_id}', which this life event does not include")
        # A shared person field fills shared fields (as a procedure's fills its own plain fields).
        self.person_fields([(s.field, ("shared_fields", si, "field"), None) for si, s in enumerate(ev.shared_fields)])
        self.unique_ids("person", [(p.id, ("people", i, "id")) for i, p in enumerate(ev.people)])
        for pi, person in enumerate(ev.people):
            self.person_map(person.map, shared, ("people", pi, "map"), f"people.{person.id}", "map")


# Profile attribute types whose values ``prefill_values`` can map (as text: yes/no values are true / false).
_SCALAR_ATTRIBUTES = frozenset({"text", "choice", "yesno"})


def _part_name(part: str) -> str:
    return f"party '{part}'" if part else "the first filer"


def check_definition(defn: Procedure | LifeEvent, loc: Located, file: str) -> list[Problem]:
    c = _Checker(loc, file)
    if isinstance(defn, Procedure):
        c.procedure(defn)
    else:
        c.life_event(defn)
    return c.problems
