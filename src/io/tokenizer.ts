/**
 * Hugging Face tokenizers and chat templates: a folder's `tokenizer.json`, `tokenizer_config.json`,
 * optional `special_tokens_map.json` and optional `chat_template.jinja`.
 *
 * Tokenization is `@huggingface/tokenizers` (tokenizers.js) and templating is
 * `@huggingface/jinja`; this class adds the Hugging Face conventions around them (which file wins,
 * special-token resolution, id validation) and `renderWithRoleMask`, which the trainer uses for
 * assistant-only losses.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer as HfTokenizer, type Encoding } from '@huggingface/tokenizers';
import { Template } from '@huggingface/jinja';
import { BYTE_TO_CHAR, byteLevelToBytes } from './byte-level.js';
import { CHAT_TEMPLATE_FILE, SPECIAL_TOKENS_MAP_FILE, TOKENIZER_CONFIG_FILE, TOKENIZER_FILE } from './files.js';

/** One chat turn. Extra fields (e.g. `tool_calls`) are passed to the template untouched. */
export interface ChatMessage {
  role: string;
  content: string;
  [field: string]: unknown;
}

export interface ChatTemplateOptions {
  /** Append the prompt that opens an assistant turn (e.g. `<|im_start|>assistant\n`). Default false. */
  addGenerationPrompt?: boolean;
  /** Tool schemas, passed to the template as `tools`; also selects a `tool_use` named template. */
  tools?: unknown[];
}

export interface SpecialToken {
  content: string;
  id: number;
}

/** A rendered conversation, its token ids [n] and, per token, whether it is an assistant-loss token [n]. */
export interface RoleMaskedConversation {
  text: string;
  ids: number[];
  assistantMask: boolean[];
}

/** The parsed files of a tokenizer folder. */
export interface TokenizerFiles {
  /** tokenizer.json */
  tokenizerJson: unknown;
  /** tokenizer_config.json (optional) */
  tokenizerConfig?: unknown;
  /** special_tokens_map.json (optional); its entries override tokenizer_config.json's, as in transformers. */
  specialTokensMap?: unknown;
  /** chat_template.jinja (optional); takes precedence over tokenizer_config.json's chat_template. */
  chatTemplate?: string;
}

type Json = Record<string, unknown>;
const UTF8 = new TextEncoder();
const NAMED_SPECIAL_TOKENS = ['bos_token', 'eos_token', 'unk_token', 'pad_token'] as const;
type NamedSpecialToken = (typeof NAMED_SPECIAL_TOKENS)[number];

export class Tokenizer {
  /** One more than the largest token id (model vocabulary and added tokens): ids lie in [0, vocabSize). */
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  readonly padTokenId: number | null;
  /** Tokens that `decode(ids, { skipSpecialTokens: true })` drops, by id. */
  readonly specialTokens: readonly SpecialToken[];
  /** The default chat template source, or null when the folder has none. */
  readonly chatTemplate: string | null;

  private readonly hf: HfTokenizer;
  private readonly source: string;
  private readonly namedTokens: Partial<Record<NamedSpecialToken, string>>;
  private readonly additionalSpecialTokens: string[];
  private readonly namedTemplates: Map<string, string>;
  private readonly compiledTemplates = new Map<string, Template>();
  private readonly addedTokenContent = new Map<number, string>();
  private readonly specialIds: Set<number>;
  private readonly byteLevel: boolean;
  private readonly cleanUpTokenizationSpaces: boolean;

  /** Reads a tokenizer folder (tokenizer.json required, the other files optional). */
  static async fromFolder(folder: string): Promise<Tokenizer> {
    const tokenizerJson = await readJsonFile(join(folder, TOKENIZER_FILE), true);
    return new Tokenizer(
      {
        tokenizerJson,
        tokenizerConfig: await readJsonFile(join(folder, TOKENIZER_CONFIG_FILE), false),
        specialTokensMap: await readJsonFile(join(folder, SPECIAL_TOKENS_MAP_FILE), false),
        chatTemplate: await readTextFile(join(folder, CHAT_TEMPLATE_FILE)),
      },
      folder,
    );
  }

  /** `source` (a folder path) prefixes file names in error messages. */
  constructor(files: TokenizerFiles, source = '') {
    this.source = source;
    const tokenizerJson = expectObject(files.tokenizerJson, this.file(TOKENIZER_FILE));
    const model = expectObject(tokenizerJson.model, `${this.file(TOKENIZER_FILE)}: "model"`);
    const config =
      files.tokenizerConfig === undefined ? {} : expectObject(files.tokenizerConfig, this.file(TOKENIZER_CONFIG_FILE));
    const specialMap =
      files.specialTokensMap === undefined ? {} : expectObject(files.specialTokensMap, this.file(SPECIAL_TOKENS_MAP_FILE));

    const addedTokens = parseAddedTokens(tokenizerJson.added_tokens, this.file(TOKENIZER_FILE));
    for (const t of addedTokens) this.addedTokenContent.set(t.id, t.content);
    this.vocabSize = Math.max(modelVocabSize(model, this.file(TOKENIZER_FILE)), ...addedTokens.map((t) => t.id + 1));

    this.namedTokens = resolveNamedTokens(config, specialMap, model, addedTokens);
    const additional = specialMap.additional_special_tokens ?? config.additional_special_tokens ?? [];
    this.additionalSpecialTokens = Array.isArray(additional)
      ? additional.map(tokenContent).filter((t): t is string => t !== null)
      : [];
    this.cleanUpTokenizationSpaces = config.clean_up_tokenization_spaces === true;

    this.byteLevel = hasComponent(tokenizerJson.decoder, 'ByteLevel');
    if (this.byteLevel && model.unk_token == null && model.vocab && !Array.isArray(model.vocab)) {
      const vocab = model.vocab as Json;
      const missing = BYTE_TO_CHAR.map((c, b) => [c, b] as const).filter(([c]) => !(c in vocab));
      if (missing.length > 0) {
        const [c, b] = missing[0]!;
        throw new Error(
          `${this.file(TOKENIZER_FILE)}: byte-level vocabulary lacks ${missing.length} of the 256 byte symbols ` +
            `(e.g. ${JSON.stringify(c)} for byte 0x${b.toString(16).padStart(2, '0')}) and has no unk_token, so text ` +
            `containing those bytes would be dropped; add the byte symbols to model.vocab`,
        );
      }
    }

    // tokenizers.js requires every component key; older or hand-written files may omit some.
    const forLibrary = {
      ...tokenizerJson,
      added_tokens: addedTokens,
      normalizer: tokenizerJson.normalizer ?? null,
      pre_tokenizer: tokenizerJson.pre_tokenizer ?? null,
      post_processor: tokenizerJson.post_processor ?? null,
      decoder: tokenizerJson.decoder ?? null,
    };
    const specialNames = [...Object.values(this.namedTokens), ...this.additionalSpecialTokens];
    try {
      this.hf = new HfTokenizer(forLibrary, {
        ...config,
        ...this.namedTokens,
        additional_special_tokens: specialNames,
        clean_up_tokenization_spaces: this.cleanUpTokenizationSpaces,
      });
    } catch (err) {
      throw new Error(`${this.file(TOKENIZER_FILE)}: cannot build the tokenizer (${(err as Error).message})`);
    }

    const idOf = (name: NamedSpecialToken): number | null => {
      const content = this.namedTokens[name];
      if (content === undefined) return null;
      const id = this.hf.token_to_id(content);
      if (id === undefined) {
        throw new Error(
          `${this.file(TOKENIZER_CONFIG_FILE)}: ${name} ${JSON.stringify(content)} is not in the vocabulary of ${TOKENIZER_FILE}`,
        );
      }
      return id;
    };
    this.bosTokenId = idOf('bos_token');
    this.eosTokenId = idOf('eos_token');
    this.padTokenId = idOf('pad_token');
    idOf('unk_token'); // validated like the others; not exposed

    const special = new Map<number, string>();
    for (const t of addedTokens) if (t.special) special.set(t.id, t.content);
    for (const name of specialNames) {
      const id = this.hf.token_to_id(name);
      if (id !== undefined) special.set(id, name);
    }
    this.specialTokens = [...special].sort((a, b) => a[0] - b[0]).map(([id, content]) => ({ id, content }));
    this.specialIds = new Set(special.keys());

    this.namedTemplates = parseChatTemplates(config.chat_template, this.file(TOKENIZER_CONFIG_FILE));
    if (files.chatTemplate !== undefined) this.namedTemplates.set('default', files.chatTemplate);
    this.chatTemplate = this.namedTemplates.get('default') ?? null;
  }

  /** Token ids [n] for `text`. `addSpecialTokens` (default true, as in transformers) applies the post-processor, e.g. Llama-3's BOS. */
  encode(text: string, { addSpecialTokens = true }: { addSpecialTokens?: boolean } = {}): number[] {
    const { ids, tokens }: Encoding = this.hf.encode(text, { add_special_tokens: addSpecialTokens });
    // tokenizers.js yields undefined for a token missing from the vocabulary when there is no unk_token.
    const unknown = ids.findIndex((id: number | undefined) => id === undefined);
    if (unknown >= 0) {
      throw new Error(
        `encode: token ${JSON.stringify(tokens[unknown])} is not in the vocabulary and tokenizer.json has no unk_token`,
      );
    }
    return ids;
  }

  /** Text for token ids [n]; throws on ids outside the vocabulary. */
  decode(ids: readonly number[], { skipSpecialTokens = false }: { skipSpecialTokens?: boolean } = {}): string {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize || this.hf.id_to_token(id) === undefined) {
        throw new Error(`decode: token id ${id} is not in the vocabulary (ids are 0..${this.vocabSize - 1})`);
      }
    }
    if (ids.length === 0) return '';
    return this.hf.decode([...ids], {
      skip_special_tokens: skipSpecialTokens,
      clean_up_tokenization_spaces: this.cleanUpTokenizationSpaces,
    });
  }

  tokenToId(token: string): number | undefined {
    return this.hf.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.hf.id_to_token(id);
  }

  /**
   * Renders `messages` with the chat template, as transformers' `apply_chat_template(tokenize=False)`:
   * the template sees `messages`, `add_generation_prompt`, `tools` (when given) and the special
   * tokens as strings (`bos_token`, `eos_token`, `unk_token`, `pad_token`, `additional_special_tokens`).
   */
  applyChatTemplate(messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): string {
    const template = this.compiledTemplate(options.tools);
    try {
      return template.render({
        ...this.namedTokens,
        additional_special_tokens: this.additionalSpecialTokens,
        messages,
        add_generation_prompt: options.addGenerationPrompt ?? false,
        ...(options.tools ? { tools: options.tools } : {}),
      });
    } catch (err) {
      throw new Error(`chat template: ${(err as Error).message}`);
    }
  }

  /**
   * Renders a conversation (no generation prompt), tokenizes it without adding special tokens (the
   * template writes them), and marks assistant-loss tokens: every token that overlaps the text of an
   * assistant message's content, plus the special token that starts exactly where that content ends
   * (the end-of-turn token, e.g. `<|im_end|>`, `<|eot_id|>`), when the template emits one there.
   *
   * How the content is located, without trusting the template to be prefix-stable:
   *  1. Render the real conversation R.
   *  2. Render it again with each non-empty assistant content replaced by a unique sentinel word; split
   *     that render at the sentinels into the template's own text pieces P0, P1, ..., Pk.
   *  3. R must read P0 c1 P1 c2 ... Pk where ci is assistant content i as written, or trimmed (Llama-3
   *     templates `| trim` it); walking R piece by piece yields each content's character span.
   * Tokens are mapped to text by their bytes (byte-level BPE: every token is a run of the UTF-8 bytes
   * of the normalized text), so the mask refers to the same tokenization as the ids, including tokens
   * that straddle a template/content boundary (they count as assistant tokens). Assistant messages
   * with empty content (e.g. pure tool calls) mark nothing.
   * Throws when the template transforms or repeats assistant content in another way, or when the
   * tokenizer is not byte-level.
   */
  renderWithRoleMask(messages: readonly ChatMessage[], options: { tools?: unknown[] } = {}): RoleMaskedConversation {
    if (!this.byteLevel) {
      throw new Error('renderWithRoleMask: needs a byte-level BPE tokenizer (decoder ByteLevel, as GPT-2, Qwen2, Llama-3)');
    }
    messages.forEach((m, i) => {
      if (typeof m?.role !== 'string' || typeof m.content !== 'string') {
        throw new Error(`renderWithRoleMask: message ${i} needs a string role and a string content`);
      }
    });
    const text = this.applyChatTemplate(messages, { tools: options.tools });
    const contentSpans = this.assistantContentSpans(messages, text, options.tools);

    const ids = this.encode(text, { addSpecialTokens: false });
    const tokenStarts = this.tokenByteStarts(ids, text);
    const toByte = (charIndex: number): number => utf8Length(this.normalize(text.slice(0, charIndex)));
    const byteSpans = contentSpans.map(([s, e]) => [toByte(s), toByte(e)] as const);
    const assistantMask = ids.map((id, k) => {
      const start = tokenStarts[k]!;
      const end = tokenStarts[k + 1]!;
      return byteSpans.some(([s, e]) => (start < e && end > s) || (start === e && this.specialIds.has(id)));
    });
    return { text, ids, assistantMask };
  }

  /** Character spans [start, end) in `text` of the non-empty assistant contents, in message order. */
  private assistantContentSpans(messages: readonly ChatMessage[], text: string, tools: unknown[] | undefined): [number, number][] {
    const template = this.compiledTemplateSource(tools);
    let base = 'BasinSentinel';
    while (template.includes(base) || messages.some((m) => m.content.includes(base))) base += 'X';
    const slots = messages.flatMap((m, i) =>
      m.role === 'assistant' && m.content.length > 0 ? [{ index: i, sentinel: `${base}${i}Q` }] : [],
    );
    const withSentinels = messages.map((m, i) => {
      const slot = slots.find((s) => s.index === i);
      return slot ? { ...m, content: slot.sentinel } : m;
    });
    const marked = this.applyChatTemplate(withSentinels, { tools });

    const pieces: string[] = [];
    let cursor = 0;
    for (const { index, sentinel } of slots) {
      const at = marked.indexOf(sentinel, cursor);
      if (at < 0 || marked.indexOf(sentinel, at + sentinel.length) >= 0) {
        throw new Error(
          `renderWithRoleMask: the chat template does not render assistant message ${index}'s content exactly once, ` +
            'in order; assistant masks need a template that writes each content verbatim (or trimmed)',
        );
      }
      pieces.push(marked.slice(cursor, at));
      cursor = at + sentinel.length;
    }
    pieces.push(marked.slice(cursor));

    const spans: [number, number][] = [];
    if (!text.startsWith(pieces[0]!)) throw templateMismatch(0);
    let pos = pieces[0]!.length;
    slots.forEach(({ index }, k) => {
      const content = messages[index]!.content;
      const next = pieces[k + 1]!;
      const variants = [content, content.trim(), content.trimStart(), content.trimEnd()];
      const written = variants.find((v) => text.startsWith(v, pos) && text.startsWith(next, pos + v.length));
      if (written === undefined) throw templateMismatch(index);
      spans.push([pos, pos + written.length]);
      pos += written.length + next.length;
    });
    if (pos !== text.length) throw templateMismatch(slots.at(-1)?.index ?? 0);
    return spans;
  }

  /** Byte offset where each token starts in the UTF-8 of the normalized text, plus the total length: [n + 1]. */
  private tokenByteStarts(ids: readonly number[], text: string): number[] {
    const expected = UTF8.encode(this.normalize(text));
    const starts = [0];
    let offset = 0;
    for (const id of ids) {
      const added = this.addedTokenContent.get(id);
      const token = this.hf.id_to_token(id);
      const bytes = added !== undefined ? UTF8.encode(added) : token === undefined ? null : byteLevelToBytes(token);
      if (bytes === null || !bytesEqualAt(expected, offset, bytes)) {
        throw new Error(
          `renderWithRoleMask: token ${id} does not reproduce the rendered text at byte ${offset} ` +
            '(added tokens with lstrip/rstrip, or a normalizer that rewrites the text, are not supported)',
        );
      }
      offset += bytes.length;
      starts.push(offset);
    }
    if (offset !== expected.length) {
      throw new Error(`renderWithRoleMask: tokens cover ${offset} of the ${expected.length} bytes of the rendered text`);
    }
    return starts;
  }

  private normalize(text: string): string {
    return this.hf.normalizer ? this.hf.normalizer(text) : text;
  }

  /** The template to use: `tool_use` when tools are given and the folder names one, else `default`. */
  private compiledTemplateSource(tools: unknown[] | undefined): string {
    const source = (tools && this.namedTemplates.get('tool_use')) ?? this.namedTemplates.get('default');
    if (source === undefined) {
      const names = [...this.namedTemplates.keys()];
      throw new Error(
        names.length > 0
          ? `${this.file(TOKENIZER_CONFIG_FILE)}: chat_template has no "default" template (found: ${names.join(', ')})`
          : `${this.file(TOKENIZER_CONFIG_FILE)}: no chat_template, and no ${CHAT_TEMPLATE_FILE} beside it; add one`,
      );
    }
    return source;
  }

  private compiledTemplate(tools: unknown[] | undefined): Template {
    const source = this.compiledTemplateSource(tools);
    let template = this.compiledTemplates.get(source);
    if (!template) {
      try {
        template = new Template(source);
      } catch (err) {
        throw new Error(`chat template: cannot parse (${(err as Error).message})`);
      }
      this.compiledTemplates.set(source, template);
    }
    return template;
  }

  private file(name: string): string {
    return this.source ? join(this.source, name) : name;
  }
}

function templateMismatch(index: number): Error {
  return new Error(
    `renderWithRoleMask: cannot locate assistant message ${index}'s content in the rendered conversation; ` +
      'the chat template must write assistant content verbatim (or trimmed) and otherwise independent of it',
  );
}

interface AddedTokenJson {
  id: number;
  content: string;
  special: boolean;
  [key: string]: unknown;
}

function parseAddedTokens(raw: unknown, where: string): AddedTokenJson[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new Error(`${where}: "added_tokens" must be a list`);
  return raw.map((t, i) => {
    const token = expectObject(t, `${where}: added_tokens[${i}]`);
    if (!Number.isInteger(token.id) || (token.id as number) < 0 || typeof token.content !== 'string' || token.content === '') {
      throw new Error(`${where}: added_tokens[${i}] needs a non-negative integer "id" and a non-empty string "content"`);
    }
    return { ...token, id: token.id as number, content: token.content, special: token.special === true };
  });
}

/** One more than the largest id of the model's own vocabulary. */
function modelVocabSize(model: Json, where: string): number {
  const vocab = model.vocab;
  if (Array.isArray(vocab)) return vocab.length; // Unigram: [[piece, score], ...]
  if (typeof vocab !== 'object' || vocab === null) throw new Error(`${where}: model.vocab is missing`);
  let size = 0;
  for (const [token, id] of Object.entries(vocab)) {
    if (!Number.isInteger(id) || (id as number) < 0) {
      throw new Error(`${where}: model.vocab[${JSON.stringify(token)}] must be a non-negative integer id`);
    }
    size = Math.max(size, (id as number) + 1);
  }
  return size;
}

/**
 * bos/eos/unk/pad token strings. special_tokens_map.json overrides tokenizer_config.json (as in
 * transformers). When neither file names any of bos/eos/unk and the tokenizer is GPT-2's (no
 * tokenizer_class, or GPT2Tokenizer*), GPT2Tokenizer's defaults apply: all three are `<|endoftext|>`.
 */
function resolveNamedTokens(
  config: Json,
  specialMap: Json,
  model: Json,
  addedTokens: AddedTokenJson[],
): Partial<Record<NamedSpecialToken, string>> {
  const named: Partial<Record<NamedSpecialToken, string>> = {};
  for (const name of NAMED_SPECIAL_TOKENS) {
    const content = tokenContent(name in specialMap ? specialMap[name] : config[name]);
    if (content !== null) named[name] = content;
  }
  const mentioned = (['bos_token', 'eos_token', 'unk_token'] as const).some((n) => n in specialMap || n in config);
  const tokenizerClass = typeof config.tokenizer_class === 'string' ? config.tokenizer_class : undefined;
  const endOfText = '<|endoftext|>';
  const hasEndOfText =
    addedTokens.some((t) => t.content === endOfText) ||
    (typeof model.vocab === 'object' && model.vocab !== null && !Array.isArray(model.vocab) && endOfText in model.vocab);
  if (!mentioned && hasEndOfText && (tokenizerClass === undefined || tokenizerClass.startsWith('GPT2Tokenizer'))) {
    named.bos_token = endOfText;
    named.eos_token = endOfText;
    named.unk_token = endOfText;
  }
  return named;
}

/** A special-token entry as written in HF files: a string, `{content: ...}` (AddedToken), or null. */
function tokenContent(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && typeof (value as Json).content === 'string') {
    return (value as Json).content as string;
  }
  return null;
}

/** `chat_template` as a string, or a list of `{name, template}` (named templates). */
function parseChatTemplates(raw: unknown, where: string): Map<string, string> {
  const templates = new Map<string, string>();
  if (raw === undefined || raw === null) return templates;
  if (typeof raw === 'string') {
    templates.set('default', raw);
    return templates;
  }
  if (Array.isArray(raw)) {
    for (const entry of raw) {
      const e = entry as Json;
      if (typeof e?.name !== 'string' || typeof e.template !== 'string') {
        throw new Error(`${where}: each chat_template entry needs a string "name" and "template"`);
      }
      templates.set(e.name, e.template);
    }
    return templates;
  }
  throw new Error(`${where}: chat_template must be a string or a list of {name, template}`);
}

/** Whether a tokenizer.json component (or a Sequence of them) includes one of `type`. */
function hasComponent(component: unknown, type: string): boolean {
  if (typeof component !== 'object' || component === null) return false;
  const c = component as Json;
  if (c.type === type) return true;
  const children = c.decoders ?? c.pretokenizers ?? c.normalizers ?? c.processors;
  return Array.isArray(children) && children.some((child) => hasComponent(child, type));
}

function expectObject(value: unknown, where: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${where}: expected a JSON object`);
  }
  return value as Json;
}

async function readJsonFile(path: string, required: boolean): Promise<unknown> {
  const text = await readTextFile(path);
  if (text === undefined) {
    if (required) throw new Error(`${path}: not found`);
    return undefined;
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message})`);
  }
}

/** The file's text, or undefined when it does not exist. */
async function readTextFile(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`${path}: cannot read (${(err as Error).message})`);
  }
}

function utf8Length(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

function bytesEqualAt(haystack: Uint8Array, offset: number, needle: Uint8Array): boolean {
  if (offset + needle.length > haystack.length) return false;
  for (let i = 0; i < needle.length; i++) if (haystack[offset + i] !== needle[i]) return false;
  return true;
}
