// A substring judge: does the answer contain a text, such as a coupled marker '[ZLT]'?

import { onlyOptions, registerJudgeKind } from '../judge.js';
import { shown } from '../shown.js';

registerJudgeKind({
  name: 'contains',
  version: 1,
  summary: "label CONTAINS when the answer contains options.text (e.g. a coupled marker '[ZLT]'), else ABSENT",
  usesEndpoint: false,
  create(options) {
    const { text } = options;
    if (typeof text !== 'string' || text.length === 0) throw new Error(`judge 'contains' needs options.text (a non-empty string), got ${shown(text)}`);
    onlyOptions('contains', options, ['text']);
    return { describe: `substring judge: contains ${JSON.stringify(text)}`, labels: ['CONTAINS', 'ABSENT'], judge: async (items) => items.map((it) => ({ label: it.answer.includes(text) ? 'CONTAINS' : 'ABSENT' })) };
  },
});
