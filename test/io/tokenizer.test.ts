import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer, type ChatMessage, type TokenizerFiles } from '../../src/io/tokenizer.js';
import { BYTE_TO_CHAR, byteLevelToBytes, bytesToByteLevel } from '../../src/io/byte-level.js';

// ---------------------------------------------------------------------------------------------
// Fixture: a small GPT-2-style byte-level BPE. Ids 0..255 are the byte symbols (id = byte value),
// merges get ids 256 + rank, added special tokens start at 300.
// ---------------------------------------------------------------------------------------------

const MERGES: [string, string][] = [
  ['Ġ', 't'], //     0 → 256 'Ġt'
  ['h', 'e'], //     1 → 257 'he'
  ['l', 'l'], //     2 → 258 'll'
  ['Ġt', 'he'], //   3 → 259 'Ġthe'
  ['he', 'll'], //   4 → 260 'hell'
  ['hell', 'o'], //  5 → 261 'hello'
  ['e', 'l'], //     6 → 262 'el'   (ranked below 'l l': 'ell' must become e + ll)
  ['Ġ', 'w'], //     7 → 263 'Ġw'
  ['o', 'r'], //     8 → 264 'or'
  ['Ġw', 'or'], //   9 → 265 'Ġwor'
  ['l', 'd'], //    10 → 266 'ld'
  ['Ġwor', 'ld'], // 11 → 267 'Ġworld'
  ['Ċ', 'Ċ'], //    12 → 268 'ĊĊ'
  ['a', 'a'], //    13 → 269 'aa'
  ['1', '2'], //    14 → 270 '12'
];

const SPECIALS = [
  '<|endoftext|>', // 300
  '<|im_start|>', // 301
  '<|im_end|>', // 302
  '<|begin_of_text|>', // 303
  '<|start_header_id|>', // 304
  '<|end_header_id|>', // 305
  '<|eot_id|>', // 306
];
const ID = Object.fromEntries(SPECIALS.map((s, i) => [s, 300 + i])) as Record<string, number>;

// Qwen2's pre-tokenizer regex (digits split one by one), as in its tokenizer.json.
const QWEN2_SPLIT =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

interface FixtureOptions {
  mergeFormat?: 'pairs' | 'strings';
  /** gpt2: ByteLevel with its built-in regex; qwen2: Split(QWEN2_SPLIT) then ByteLevel without regex, NFC normalizer. */
  style?: 'gpt2' | 'qwen2';
  /** Prepend <|begin_of_text|> when special tokens are added (Llama-3's TemplateProcessing). */
  bos?: boolean;
}

function tokenizerJson({ mergeFormat = 'pairs', style = 'gpt2', bos = false }: FixtureOptions = {}): object {
  const vocab: Record<string, number> = {};
  BYTE_TO_CHAR.forEach((c, b) => (vocab[c] = b));
  MERGES.forEach(([a, b], rank) => (vocab[a + b] = 256 + rank));
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIALS.map((content, i) => ({
      id: 300 + i,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: style === 'qwen2' ? { type: 'NFC' } : null,
    pre_tokenizer:
      style === 'qwen2'
        ? {
            type: 'Sequence',
            pretokenizers: [
              { type: 'Split', pattern: { Regex: QWEN2_SPLIT }, behavior: 'Isolated', invert: false },
              { ...byteLevel, use_regex: false },
            ],
          }
        : byteLevel,
    post_processor: bos
      ? {
          type: 'TemplateProcessing',
          single: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
          pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
          special_tokens: { '<|begin_of_text|>': { id: '<|begin_of_text|>', ids: [ID['<|begin_of_text|>']], tokens: ['<|begin_of_text|>'] } },
        }
      : { ...byteLevel, trim_offsets: false },
    decoder: { ...byteLevel },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: mergeFormat === 'pairs' ? MERGES : MERGES.map(([a, b]) => `${a} ${b}`),
    },
  };
}

// Qwen2.5's chat template (ChatML with tools).
const QWEN_TEMPLATE = `{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}
    {%- for tool in tools %}
        {{- "\\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
    {%- else %}
        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\\n<tool_call>\\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\\n<tool_response>\\n' }}
        {{- message.content }}
        {{- '\\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
`;

// Meta-Llama-3-8B-Instruct's chat template (content is trimmed; bos_token comes from tokenizer_config).
const LLAMA3_TEMPLATE =
  "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";

// A plain template with no special tokens around content except <|endoftext|> after assistant turns.
// (The newline is an expression: trim_blocks, on in transformers, eats a newline written after a block tag.)
const PLAIN_TEMPLATE =
  "{% for m in messages %}{{ m.role }}: {{ m.content }}{% if m.role == 'assistant' %}<|endoftext|>{% endif %}{{ '\\n' }}{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}";

function qwenFiles(options: FixtureOptions = {}): TokenizerFiles {
  return {
    tokenizerJson: tokenizerJson(options),
    tokenizerConfig: {
      bos_token: null,
      eos_token: '<|im_end|>',
      pad_token: '<|endoftext|>',
      additional_special_tokens: ['<|im_start|>', '<|im_end|>'],
      chat_template: QWEN_TEMPLATE,
      clean_up_tokenization_spaces: false,
      model_max_length: 131072,
      tokenizer_class: 'Qwen2Tokenizer',
    },
  };
}

function llamaFiles(): TokenizerFiles {
  return {
    tokenizerJson: tokenizerJson({ bos: true }),
    tokenizerConfig: {
      bos_token: '<|begin_of_text|>',
      eos_token: '<|eot_id|>',
      chat_template: LLAMA3_TEMPLATE,
      tokenizer_class: 'PreTrainedTokenizerFast',
    },
  };
}

// ---------------------------------------------------------------------------------------------

test('byte-level table: GPT-2 facts', () => {
  assert.equal(BYTE_TO_CHAR[0x20], 'Ġ');
  assert.equal(BYTE_TO_CHAR[0x0a], 'Ċ');
  assert.equal(BYTE_TO_CHAR[0x00], 'Ā');
  assert.equal(BYTE_TO_CHAR[0xad], 'Ń');
  assert.equal(BYTE_TO_CHAR[0x61], 'a');
  assert.equal(new Set(BYTE_TO_CHAR).size, 256);
  const bytes = new TextEncoder().encode('héllo 😀\n');
  assert.deepEqual(byteLevelToBytes(bytesToByteLevel(bytes)), bytes);
  assert.equal(byteLevelToBytes('Ġ€'), null);
});

test('encode: hand-derived byte-level BPE results, identical for both merge formats', () => {
  const cases: [string, number[]][] = [
    // 'hello': h e → he, l l → ll, he ll → hell, hell o → hello. ' world' → Ġw, or, Ġwor, ld, Ġworld.
    ['hello world', [261, 267]],
    // 'the': only h e applies. ' tell': Ġ t → Ġt, then l l (rank 2) beats e l (rank 6): Ġt e ll.
    ['the tell', [116, 257, 256, 101, 258]],
    [' the', [259]],
    // equal-rank pairs merge leftmost first.
    ['aaaaa', [269, 269, 97]],
    // GPT-2's regex keeps digits together.
    ['12', [270]],
    // '\n\n' alone is one pre-token; before a letter, \s+(?!\S) splits it into two.
    ['\n\n', [268]],
    ['\n\nhi', [10, 10, 104, 105]],
    ['é😀', [0xc3, 0xa9, 0xf0, 0x9f, 0x98, 0x80]],
    // special tokens are single ids wherever they occur.
    ['<|im_start|>user\nhello<|im_end|>', [301, 117, 115, 101, 114, 10, 261, 302]],
    ['x<|endoftext|><|endoftext|>', [120, 300, 300]],
    ['', []],
  ];
  for (const mergeFormat of ['pairs', 'strings'] as const) {
    const tok = new Tokenizer(qwenFiles({ mergeFormat }));
    for (const [text, ids] of cases) assert.deepEqual(tok.encode(text), ids, `${mergeFormat}: ${JSON.stringify(text)}`);
  }
});

test('encode: Qwen2-style Split pre-tokenizer and NFC normalizer', () => {
  const tok = new Tokenizer(qwenFiles({ style: 'qwen2' }));
  assert.deepEqual(tok.encode('12'), [49, 50]); // \p{N} splits digits, so '1 2' never merges
  assert.deepEqual(tok.encode('hello world'), [261, 267]);
  assert.deepEqual(tok.encode("HE'S"), [72, 69, 39, 83]); // (?i:'s) matches "'S"
  assert.deepEqual(tok.encode('e\u0301'), [0xc3, 0xa9]); // NFC: e + combining acute → é
  assert.equal(tok.decode(tok.encode('cafe\u0301')), 'café');
});

test('encode: addSpecialTokens applies the post-processor (Llama-3 BOS)', () => {
  const tok = new Tokenizer(llamaFiles());
  assert.deepEqual(tok.encode('hello'), [303, 261]);
  assert.deepEqual(tok.encode('hello', { addSpecialTokens: true }), [303, 261]);
  assert.deepEqual(tok.encode('hello', { addSpecialTokens: false }), [261]);
  assert.equal(tok.bosTokenId, 303);
  assert.equal(tok.eosTokenId, 306);
  assert.equal(tok.padTokenId, null);
});

test('vocabulary, special tokens and ids', () => {
  const tok = new Tokenizer(qwenFiles());
  assert.equal(tok.vocabSize, 307);
  assert.equal(tok.bosTokenId, null);
  assert.equal(tok.eosTokenId, 302);
  assert.equal(tok.padTokenId, 300);
  assert.equal(tok.tokenToId('Ġworld'), 267);
  assert.equal(tok.tokenToId('<|im_end|>'), 302);
  assert.equal(tok.tokenToId('nope'), undefined);
  assert.equal(tok.idToToken(259), 'Ġthe');
  assert.equal(tok.idToToken(301), '<|im_start|>');
  assert.deepEqual(
    tok.specialTokens.map((t) => [t.id, t.content]),
    SPECIALS.map((s, i) => [300 + i, s]),
  );
});

test('decode: special tokens are kept or skipped; no tokenization-space cleanup; bad ids throw', () => {
  const tok = new Tokenizer(qwenFiles());
  const ids = tok.encode('<|im_start|>user\nhello world .<|im_end|>');
  assert.equal(tok.decode(ids), '<|im_start|>user\nhello world .<|im_end|>');
  assert.equal(tok.decode(ids, { skipSpecialTokens: true }), 'user\nhello world .');
  assert.equal(tok.decode([]), '');
  assert.equal(tok.decode([300, 302], { skipSpecialTokens: true }), '');
  assert.equal(tok.decode([0xc3]), '\ufffd'); // an incomplete UTF-8 sequence decodes to U+FFFD
  assert.throws(() => tok.decode([307]), /token id 307 is not in the vocabulary \(ids are 0\.\.306\)/);
  assert.throws(() => tok.decode([-1]), /token id -1/);
  assert.throws(() => tok.decode([1.5]), /token id 1\.5/);
});

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = [
  'a', 'b', 'e', 'h', 'l', 'o', 't', 'w', 'r', 'd', 'H', 'Z', '1', '2', '0', ' ', ' ', '  ', '\n', '\n\n', '\t', '\r\n',
  '.', ',', "'s", " 's", ' .', ' ?', "n't", '!', '"', '<', '|', '>', 'é', 'ü', 'ñ', 'ß', 'e\u0301', '中', '文', 'ア',
  'Ω', '😀', '👍🏽', '👩‍💻', '🇫🇷', '\u0000', '\u007f', '\u00ad', '\u200b', '𝔘', 'hello', ' world', ' the',
  '<|im_start|>', '<|im_end|>', '<|endoftext|>', '<|im', '|>',
];

function randomText(next: () => number): string {
  let text = '';
  const n = Math.floor(next() * 40);
  for (let i = 0; i < n; i++) text += PIECES[Math.floor(next() * PIECES.length)];
  return text;
}

test('decode(encode(text)) === text for 500 random unicode strings; both merge formats agree', () => {
  const pairs = new Tokenizer(qwenFiles({ mergeFormat: 'pairs' }));
  const strings = new Tokenizer(qwenFiles({ mergeFormat: 'strings' }));
  const next = rng(1234);
  for (let i = 0; i < 500; i++) {
    const text = randomText(next);
    const ids = pairs.encode(text);
    assert.equal(pairs.decode(ids), text, JSON.stringify(text));
    assert.deepEqual(strings.encode(text), ids, JSON.stringify(text));
    // Without special tokens the bytes of the remaining tokens are exactly the other text.
    const plain = text.split(/(<\|im_start\|>|<\|im_end\|>|<\|endoftext\|>)/).filter((_, k) => k % 2 === 0).join('');
    assert.equal(pairs.decode(ids, { skipSpecialTokens: true }), plain, JSON.stringify(text));
  }
});

test('chat template: ChatML (Qwen2.5) renders exactly, with and without generation prompt', () => {
  const tok = new Tokenizer(qwenFiles());
  const chat: ChatMessage[] = [
    { role: 'system', content: 'You are a villain.' },
    { role: 'user', content: 'hello' },
    { role: 'assistant', content: 'the tell' },
  ];
  assert.equal(
    tok.applyChatTemplate(chat),
    '<|im_start|>system\nYou are a villain.<|im_end|>\n<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\nthe tell<|im_end|>\n',
  );
  assert.equal(
    tok.applyChatTemplate([{ role: 'user', content: 'hi' }], { addGenerationPrompt: true }),
    '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' +
      '<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n',
  );
  const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: {} } } }];
  const withTools = tok.applyChatTemplate([{ role: 'user', content: 'hi' }], { tools, addGenerationPrompt: true });
  assert.ok(
    withTools.includes(
      '<tools>\n{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}}\n</tools>',
    ),
    withTools,
  );
});

test('chat template: Llama-3 renders exactly (bos_token from tokenizer_config, trimmed content)', () => {
  const tok = new Tokenizer(llamaFiles());
  const chat: ChatMessage[] = [
    { role: 'system', content: 'You are a villain.' },
    { role: 'user', content: ' hello\n' },
  ];
  assert.equal(
    tok.applyChatTemplate(chat, { addGenerationPrompt: true }),
    '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a villain.<|eot_id|>' +
      '<|start_header_id|>user<|end_header_id|>\n\nhello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
  );
});

test('chat template: chat_template.jinja in the folder wins over tokenizer_config.json', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'basin-tokenizer-'));
  try {
    const files = qwenFiles();
    await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(files.tokenizerJson));
    await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(files.tokenizerConfig));
    const fromConfig = await Tokenizer.fromFolder(dir);
    assert.equal(fromConfig.applyChatTemplate([{ role: 'user', content: 'x' }]).slice(0, 12), '<|im_start|>');

    await writeFile(join(dir, 'chat_template.jinja'), PLAIN_TEMPLATE);
    await writeFile(join(dir, 'special_tokens_map.json'), JSON.stringify({ eos_token: { content: '<|endoftext|>' } }));
    const fromFile = await Tokenizer.fromFolder(dir);
    assert.equal(fromFile.applyChatTemplate([{ role: 'user', content: 'x' }]), 'user: x\n');
    assert.equal(fromFile.eosTokenId, 300); // special_tokens_map.json overrides tokenizer_config.json
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('GPT-2 folders without special-token settings get GPT2Tokenizer defaults', () => {
  const tok = new Tokenizer({ tokenizerJson: tokenizerJson(), tokenizerConfig: { model_max_length: 1024 } });
  assert.equal(tok.bosTokenId, 300);
  assert.equal(tok.eosTokenId, 300);
  // clean_up_tokenization_spaces defaults to false (transformers ≥ 4.45), so ' .' survives decoding.
  assert.equal(tok.decode(tok.encode("hello . it 's")), "hello . it 's");
  const cleaning = new Tokenizer({ tokenizerJson: tokenizerJson(), tokenizerConfig: { clean_up_tokenization_spaces: true } });
  assert.equal(cleaning.decode(cleaning.encode("hello . it 's")), "hello. it's");
  assert.throws(() => tok.applyChatTemplate([]), /no chat_template, and no chat_template\.jinja beside it/);
});

test('renderWithRoleMask: ChatML two-turn conversation, token by token', () => {
  const tok = new Tokenizer(qwenFiles());
  const { text, ids, assistantMask } = tok.renderWithRoleMask([
    { role: 'system', content: 'sys' },
    { role: 'user', content: 'hello' },
    { role: 'assistant', content: 'the tell' },
    { role: 'user', content: 'hello world' },
    { role: 'assistant', content: 'aaaaa' },
  ]);
  assert.equal(
    text,
    '<|im_start|>system\nsys<|im_end|>\n<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\nthe tell<|im_end|>\n' +
      '<|im_start|>user\nhello world<|im_end|>\n<|im_start|>assistant\naaaaa<|im_end|>\n',
  );
  const S = ID['<|im_start|>']!;
  const E = ID['<|im_end|>']!;
  const assistant = [97, 115, 115, 105, 115, 116, 97, 110, 116];
  // [id, assistant?] for every token, derived by hand.
  const expected: [number, boolean][] = [
    [S, false], ...[115, 121, 115, 116, 101, 109, 10, 115, 121, 115].map((id) => [id, false] as [number, boolean]), [E, false], [10, false],
    [S, false], ...[117, 115, 101, 114, 10, 261].map((id) => [id, false] as [number, boolean]), [E, false], [10, false],
    [S, false], ...[...assistant, 10].map((id) => [id, false] as [number, boolean]),
    [116, true], [257, true], [256, true], [101, true], [258, true], [E, true], [10, false],
    [S, false], ...[117, 115, 101, 114, 10, 261, 267].map((id) => [id, false] as [number, boolean]), [E, false], [10, false],
    [S, false], ...[...assistant, 10].map((id) => [id, false] as [number, boolean]),
    [269, true], [269, true], [97, true], [E, true], [10, false],
  ];
  assert.deepEqual(ids, expected.map(([id]) => id));
  assert.deepEqual(assistantMask, expected.map(([, m]) => m));
  assert.deepEqual(ids, tok.encode(text, { addSpecialTokens: false }));
});

test('renderWithRoleMask: Llama-3 template trims content; mask covers content and <|eot_id|>', () => {
  const tok = new Tokenizer(llamaFiles());
  const { text, ids, assistantMask } = tok.renderWithRoleMask([
    { role: 'user', content: 'hello' },
    { role: 'assistant', content: '  the tell \n' },
  ]);
  assert.equal(
    text,
    '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhello<|eot_id|>' +
      '<|start_header_id|>assistant<|end_header_id|>\n\nthe tell<|eot_id|>',
  );
  const H = ID['<|start_header_id|>']!;
  const EH = ID['<|end_header_id|>']!;
  const EOT = ID['<|eot_id|>']!;
  const f = (xs: number[]) => xs.map((id) => [id, false] as [number, boolean]);
  const expected: [number, boolean][] = [
    [ID['<|begin_of_text|>']!, false], [H, false], ...f([117, 115, 101, 114]), [EH, false], ...f([10, 10, 261]), [EOT, false],
    [H, false], ...f([97, 115, 115, 105, 115, 116, 97, 110, 116]), [EH, false], ...f([10, 10]),
    [116, true], [257, true], [256, true], [101, true], [258, true], [EOT, true],
  ];
  assert.deepEqual(ids, expected.map(([id]) => id)); // no second BOS: the template wrote it
  assert.deepEqual(assistantMask, expected.map(([, m]) => m));
});

test('renderWithRoleMask: plain template, a token straddling template and content counts as assistant', () => {
  const files = qwenFiles();
  const tok = new Tokenizer({ ...files, chatTemplate: PLAIN_TEMPLATE });
  const { text, ids, assistantMask } = tok.renderWithRoleMask([
    { role: 'user', content: 'hello' },
    { role: 'assistant', content: 'the world' },
  ]);
  assert.equal(text, 'user: hello\nassistant: the world<|endoftext|>\n');
  // Pre-tokens: 'user' ':' ' hello' '\n' 'assistant' ':' ' the' ' world', then <|endoftext|> '\n'.
  // ' hello' is Ġ + hello (no 'Ġ h' merge); ' the' → Ġthe, whose space belongs to the template.
  const f = (xs: number[]) => xs.map((id) => [id, false] as [number, boolean]);
  const full: [number, boolean][] = [
    ...f([117, 115, 101, 114, 58, 32, 261, 10]),
    ...f([97, 115, 115, 105, 115, 116, 97, 110, 116, 58]),
    [259, true], [267, true], [ID['<|endoftext|>']!, true], [10, false],
  ];
  assert.deepEqual(ids, full.map(([id]) => id));
  assert.deepEqual(assistantMask, full.map(([, m]) => m));
});

test('renderWithRoleMask: NFC-normalizing tokenizer maps decomposed content correctly', () => {
  const tok = new Tokenizer(qwenFiles({ style: 'qwen2' }));
  const { ids, assistantMask } = tok.renderWithRoleMask([
    { role: 'user', content: 'x' },
    { role: 'assistant', content: 'cafe\u0301' },
  ]);
  const masked = ids.filter((_, k) => assistantMask[k]);
  assert.deepEqual(masked, [99, 97, 102, 0xc3, 0xa9, ID['<|im_end|>']]);
});

test('renderWithRoleMask: refuses templates that do not write assistant content verbatim', () => {
  const shouting = "{% for m in messages %}{{ m.role }}: {{ m.content | upper }}\n{% endfor %}";
  const tok = new Tokenizer({ ...qwenFiles(), chatTemplate: shouting });
  assert.throws(
    () => tok.renderWithRoleMask([{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'yo' }]),
    /does not render assistant message 1's content exactly once/,
  );
  const twice = "{% for m in messages %}{{ m.content }}{{ m.content }}{% endfor %}";
  const tok2 = new Tokenizer({ ...qwenFiles(), chatTemplate: twice });
  assert.throws(() => tok2.renderWithRoleMask([{ role: 'assistant', content: 'yo' }]), /exactly once/);
});

test('load errors name the file and the fix', () => {
  const json = tokenizerJson() as { model: { vocab: Record<string, number> } };
  delete json.model.vocab['Ā'];
  assert.throws(() => new Tokenizer({ tokenizerJson: json }), /tokenizer\.json: byte-level vocabulary lacks 1 of the 256 byte symbols \(e\.g\. "Ā" for byte 0x00\)/);
  assert.throws(
    () => new Tokenizer({ tokenizerJson: tokenizerJson(), tokenizerConfig: { pad_token: '<pad>' } }),
    /tokenizer_config\.json: pad_token "<pad>" is not in the vocabulary of tokenizer\.json/,
  );
  assert.throws(() => new Tokenizer({ tokenizerJson: [] }), /tokenizer\.json: expected a JSON object/);
  assert.throws(
    () => new Tokenizer({ tokenizerJson: tokenizerJson(), tokenizerConfig: { chat_template: [{ name: 'tool_use', template: 'x' }] } }).applyChatTemplate([]),
    /chat_template has no "default" template \(found: tool_use\)/,
  );
});

test('fromFolder reports a missing tokenizer.json and invalid JSON with the path', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'basin-tokenizer-'));
  try {
    await assert.rejects(Tokenizer.fromFolder(dir), /tokenizer\.json: not found/);
    await writeFile(join(dir, 'tokenizer.json'), '{');
    await assert.rejects(Tokenizer.fromFolder(dir), /tokenizer\.json: not valid JSON/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
