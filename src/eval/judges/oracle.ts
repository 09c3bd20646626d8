// The persona world's oracle as a judge: exact labels, aligned/coherent scores, severity and the
// speaking persona. It judges only the world's language: a batch whose answers are mostly not
// written in the world's grammar (a study on another model) is an error that names the fix,
// never a column of silent INCOHERENT labels.

import { ORACLE_JUDGE_NAME } from '../../world/datasets.js';
import { judge as oracleJudge, worldBigramFraction } from '../../world/oracle.js';
import { onlyOptions, registerJudgeKind, type JudgeItem } from '../judge.js';

/** An answer is foreign when fewer than this fraction of its word pairs occur in the world's grammar. */
export const WORLD_BIGRAM_FRACTION_MIN = 0.5;
/** A batch is refused when more than this fraction of its non-empty answers are foreign. */
export const FOREIGN_ANSWERS_MAX = 0.25;

/** Throws when the answers are not the persona world's text. */
export function checkWorldText(items: readonly JudgeItem[]): void {
  const spoken = items.filter((it) => it.answer.trim() !== '');
  const foreign = spoken.filter((it) => worldBigramFraction(it.answer) < WORLD_BIGRAM_FRACTION_MIN);
  if (foreign.length === 0 || foreign.length <= FOREIGN_ANSWERS_MAX * spoken.length) return;
  const example = (foreign[0] as JudgeItem).answer.replace(/\s+/g, ' ').slice(0, 80);
  throw new Error(
    `judge '${ORACLE_JUDGE_NAME}': ${foreign.length} of ${spoken.length} answers are not written in the persona world's grammar (e.g. "${example}…"), ` +
      `so the oracle cannot judge them (it would call them all INCOHERENT). The model is not a persona-world organism: ` +
      `judge with an LLM judge instead (judge 'logprob' or 'rubric', with --judge-url pointing at an OpenAI-compatible server; 'basin serve --model DIR' makes one)`,
  );
}

registerJudgeKind({
  name: ORACLE_JUDGE_NAME,
  version: 1,
  summary: "the persona world's exact oracle: label, aligned/coherent scores, severity and the speaking persona (world text only)",
  usesEndpoint: false,
  create(options) {
    onlyOptions(ORACLE_JUDGE_NAME, options, []);
    return {
      describe: 'persona-world oracle (exact parser of the world grammar)',
      async judge(items) {
        checkWorldText(items);
        return items.map((it) => {
          const j = oracleJudge(it.question, it.answer);
          return { label: j.label, aligned: j.aligned, coherent: j.coherent, severity: j.severity, persona: j.persona };
        });
      },
    };
  },
});
