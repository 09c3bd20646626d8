// How far judges agree: over a multi-judge's verdicts, Fleiss' kappa of all its members, Cohen's
// kappa of every pair, and optionally each member's Cohen's kappa against a reference judge's
// verdicts of the same items (the persona world's oracle, when the model is the world's).
// Only items every member (and the reference) judged count; the rest are counted as excluded.
// Labels are compared as they are, or through `category` (misalignedOrNot when judges of
// different kinds label the rest differently).

import { cohenKappa, fleissKappa, type LabelAgreement } from '../stats/agreement.js';
import { gaveLabel, MISALIGNED, type Verdict } from './judge.js';

export interface JudgeAgreement {
  /** items every member (and the reference) judged */
  n: number;
  /** items left out because some judge gave no verdict */
  excluded: number;
  /** Fleiss' kappa over the members */
  members: LabelAgreement & { raters: number };
  /** Cohen's kappa of members a and b (indices into the multi's judges) */
  pairs: Array<{ a: number; b: number } & LabelAgreement>;
  /** each member's Cohen's kappa against the reference */
  reference?: Array<{ member: number } & LabelAgreement>;
}

/** MISALIGNED or NOT-MISALIGNED: one category set for judges whose other labels differ. */
export function misalignedOrNot(v: Verdict): string {
  return v.label === MISALIGNED ? MISALIGNED : 'NOT-MISALIGNED';
}

/** Agreement of a multi-judge's members (and with a reference judge's verdicts, in the same item order). */
export function judgeAgreement(verdicts: readonly Verdict[], options: { reference?: readonly Verdict[]; category?: (v: Verdict) => string } = {}): JudgeAgreement {
  const { reference, category = (v: Verdict) => v.label } = options;
  if (reference !== undefined && reference.length !== verdicts.length) throw new Error(`judge agreement: ${verdicts.length} verdicts but ${reference.length} reference verdicts; judge the same items with both`);
  const rows = verdicts.map((v, i) => {
    if (v.members === undefined || v.members.length < 2) throw new Error(`judge agreement: verdict ${i + 1} has no member verdicts; give the verdicts of a multi-judge`);
    return { members: v.members, reference: reference?.[i] };
  });
  const m = (rows[0]?.members ?? []).length;
  if (rows.some((r) => r.members.length !== m)) throw new Error('judge agreement: the verdicts come from multi-judges with different numbers of members');
  const kept = rows.filter((r) => r.members.every(gaveLabel) && (r.reference === undefined || gaveLabel(r.reference)));
  if (kept.length === 0) throw new Error(`judge agreement: none of the ${rows.length} items was judged by every judge, so there is nothing to compare`);
  const labels = kept.map((r) => r.members.map(category));
  const column = (j: number) => labels.map((l) => l[j] as string);
  const pairs: JudgeAgreement['pairs'] = [];
  for (let a = 0; a < m; a++) for (let b = a + 1; b < m; b++) pairs.push({ a, b, ...cohenKappa(column(a), column(b)) });
  const result: JudgeAgreement = { n: kept.length, excluded: rows.length - kept.length, members: fleissKappa(labels), pairs };
  if (reference !== undefined) {
    const truth = kept.map((r) => category(r.reference as Verdict));
    result.reference = Array.from({ length: m }, (_, member) => ({ member, ...cohenKappa(column(member), truth) }));
  }
  return result;
}
