// Two-person procedures on the device: one person's part of a procedure, twin of
// procedure_definitions/parties.py `part_of` (tests/conformance/parties.json pins both). Small and free of
// imports: the shell's new-draft prefill uses it too.

/**
 * The sections of `party` ('' = the first filer, sections without `party`) of a compiled procedure, as a new
 * object (the one given is never changed). The first filer keeps the documents to bring; a party has none.
 */
export function partOf(compiled, party) {
  return { ...compiled, sections: (compiled.sections || []).filter((s) => (s.party || '') === party), documents: party ? [] : compiled.documents || [] };
}
