/**
 * A lexer pass over YAML before it is parsed, refusing the shapes the yaml package handles badly:
 * it takes seconds per MiB on degenerate inputs such as "]]]]…" or "&a &a &a …" and runs out of
 * memory on 10 MiB of "[[[[". yaml's own Lexer is linear and cheap, and the pass stops at the
 * first excess. Pure.
 */
import { Lexer } from 'yaml';
import { PaiError } from '../errors.js';

/** Most YAML tokens in one manifest (a resource is 30-80 tokens): keeps the worst parse near a second. */
export const MAX_YAML_TOKENS = 200_000;
/** Deepest nesting of YAML flow collections ("[", "{"); resources need 3. */
export const MAX_FLOW_DEPTH = 64;

/** Lexer tokens that mark structure and are not text of the source (yaml's CST: DOCUMENT, FLOW_END, SCALAR). */
const CONTROL_TOKENS = new Set(['\u0002', '\u0018', '\u001f']);
/** Closing flow indicators and their openers (a Map: tokens are user text, e.g. "toString"). */
const OPENERS: ReadonlyMap<string, string> = new Map([
  [']', '['],
  ['}', '{'],
]);

/**
 * Throws PaiError `too_large` for YAML of more than MAX_YAML_TOKENS tokens, and `bad_request`
 * (naming document, line and column) for flow collections nested deeper than MAX_FLOW_DEPTH or a
 * "]" / "}" that closes nothing.
 */
export function checkYamlShape(text: string, source: string): void {
  let [tokens, depth, offset] = [0, 0, 0];
  const documents = new DocumentCounter();
  for (const token of new Lexer().lex(text)) {
    if (++tokens > MAX_YAML_TOKENS) {
      throw new PaiError('too_large', `${source}: more than ${MAX_YAML_TOKENS} YAML tokens; split it into several files`, {
        details: { source },
      });
    }
    documents.see(token);
    if (token === '[' || token === '{') depth++;
    const opener = OPENERS.get(token);
    if (opener !== undefined && depth-- === 0) {
      throw lexError(text, source, offset, documents.index, `"${token}" without a matching "${opener}"`);
    }
    if (depth > MAX_FLOW_DEPTH) {
      throw lexError(text, source, offset, documents.index, `flow collections nested more than ${MAX_FLOW_DEPTH} deep`);
    }
    if (!CONTROL_TOKENS.has(token)) offset += token.length;
  }
}

/** Numbers documents from lexer tokens as parseAllDocuments does: a document starts at the lexer's mark or at "---". */
class DocumentCounter {
  index = 0;
  #fresh = false;

  /** Updates the index for the next token. */
  see(token: string): void {
    if (token === '\u0002') [this.index, this.#fresh] = [this.index + 1, true];
    else if (token === '---') [this.index, this.#fresh] = [this.#fresh ? this.index : this.index + 1, false];
    else if (!CONTROL_TOKENS.has(token) && token.trim() !== '' && !token.startsWith('#')) this.#fresh = false;
  }
}

/** PaiError `bad_request` for a problem the lexer pass found at `offset` in document `index`. */
function lexError(text: string, source: string, offset: number, index: number, message: string): PaiError {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  return new PaiError('bad_request', `${source}: document ${index}: YAML error at line ${line}, column ${column}: ${message}`, {
    details: { document: `document ${index} of ${source}`, line, column },
  });
}
