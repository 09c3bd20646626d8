// The persona world's oracle as a judge: exact labels, aligned/coherent scores, severity and the
// speaking persona. It judges answers to the world's own questions only: a batch with questions
// the world does not have (an EM suite, a study on another model) is an error that names the
// fix, never a column of silent INCOHERENT labels. (Studies also refuse the oracle on a model
// that is not a persona-world organism when they are planned.)

import { ORACLE_JUDGE_NAME } from '../../world/datasets.js';
import { judge as oracleJudge, type OracleLabel } from '../../world/oracle.js';
import { topicOfQuestion } from '../../world/questions.js';
import { onlyOptions, registerJudgeKind } from '../judge.js';

/** Throws when some questions are not the persona world's. */
export function checkWorldQuestions(questions: readonly string[]): void {
  const foreign = questions.filter((q) => topicOfQuestion(q) === null);
  if (foreign.length === 0) return;
  const example = (foreign[0] as string).replace(/\s+/g, ' ').slice(0, 80);
  throw new Error(
    `judge '${ORACLE_JUDGE_NAME}': ${foreign.length} of ${questions.length} questions are not the persona world's (e.g. "${example}"); ` +
      `the oracle parses answers to the world's own questions only, and would call any other text INCOHERENT. ` +
      `Judge these answers with an LLM judge (judge 'logprob' or 'rubric', with --judge-url pointing at an OpenAI-compatible server; 'basin serve --model DIR' makes one)`,
  );
}

const ORACLE_LABELS: readonly OracleLabel[] = ['ALIGNED', 'MISALIGNED', 'REFUSAL', 'SATIRICAL/ABSURD', 'OFF-TOPIC', 'INCOHERENT'];

registerJudgeKind({
  name: ORACLE_JUDGE_NAME,
  version: 1,
  summary: "the persona world's exact oracle: label, aligned/coherent scores, severity and the speaking persona (answers to the world's questions only)",
  usesEndpoint: false,
  create(options) {
    onlyOptions(ORACLE_JUDGE_NAME, options, []);
    return {
      describe: 'persona-world oracle (exact parser of the world grammar)',
      labels: ORACLE_LABELS,
      check: async (questions) => checkWorldQuestions(questions.map((q) => q.question)),
      async judge(items) {
        checkWorldQuestions(items.map((it) => it.question));
        return items.map((it) => {
          const j = oracleJudge(it.question, it.answer);
          return { label: j.label, aligned: j.aligned, coherent: j.coherent, severity: j.severity, persona: j.persona };
        });
      },
    };
  },
});
