// The two providers as the tests see them: the model name a client uses,
// the fake and its scenario key, and how to script an answer in that
// provider's own vocabulary, so that one test body runs against both.

import { CLAUDE } from './bridge.mjs';

function contentText(c) {
  if (typeof c === 'string') return c;
  return (c ?? []).map((p) => p.text ?? '').join('');
}

export const PROVIDERS = {
  openai: {
    name: 'openai',
    model: 'openai/gpt-4o-mini',
    key: 'gpt-4o-mini',
    // Another upstream model (its own breaker), from a short tag.
    other: (tag) => ({ model: `openai/${tag}`, key: tag }),
    fake: (b) => b.openai,
    text: (text, extra = {}) => ({ text, ...extra }),
    // calls: [{name, input (object), id?}]
    tools: (calls, extra = {}) => ({
      toolCalls: calls.map((c) => ({ id: c.id, name: c.name,
        arguments: c.raw ?? JSON.stringify(c.input ?? {}) })),
      ...extra,
    }),
    usage: (prompt, completion, cached = 0) => ({ usage: { prompt_tokens: prompt,
      completion_tokens: completion, cached_tokens: cached } }),
    // Tool names the fake was offered.
    offeredTools: (rec) => (rec.body.tools ?? []).map((t) => t.function.name),
    // The user texts the fake received, in order.
    userTexts: (rec) => rec.body.messages.filter((m) => m.role === 'user')
      .map((m) => contentText(m.content)),
    // Tool results the fake received: [{id, text}].
    toolResults: (rec) => rec.body.messages.filter((m) => m.role === 'tool')
      .map((m) => ({ id: m.tool_call_id, text: contentText(m.content) })),
    // Tool calls in the history the fake received: [{id, name, input}].
    historyCalls: (rec) => rec.body.messages.filter((m) => m.role === 'assistant')
      .flatMap((m) => m.tool_calls ?? []).map((c) => ({ id: c.id, name: c.function.name,
        input: JSON.parse(c.function.arguments) })),
  },
  bedrock: {
    name: 'bedrock',
    model: `bedrock/${CLAUDE}`,
    key: CLAUDE,
    other: (tag) => ({ model: `bedrock/${tag}.model-v1:0`, key: `${tag}.model-v1:0` }),
    fake: (b) => b.bedrock,
    text: (text, extra = {}) => ({ text, ...extra }),
    tools: (calls, extra = {}) => ({
      toolUses: calls.map((c) => ({ id: c.id, name: c.name, input: c.input ?? {},
        noInput: c.noInput })),
      ...extra,
    }),
    usage: (prompt, completion, cached = 0) => ({ usage: { inputTokens: prompt - cached,
      outputTokens: completion, cacheReadInputTokens: cached } }),
    offeredTools: (rec) => (rec.body.toolConfig?.tools ?? []).map((t) => t.toolSpec?.name),
    userTexts: (rec) => rec.body.messages.filter((m) => m.role === 'user')
      .map((m) => m.content.filter((c) => 'text' in c).map((c) => c.text).join(''))
      .filter((t) => t.length),
    toolResults: (rec) => rec.body.messages.flatMap((m) => m.content)
      .filter((c) => 'toolResult' in c).map((c) => ({ id: c.toolResult.toolUseId,
        text: c.toolResult.content.map((x) => x.text ?? JSON.stringify(x.json)).join('') })),
    historyCalls: (rec) => rec.body.messages.flatMap((m) => m.content)
      .filter((c) => 'toolUse' in c).map((c) => ({ id: c.toolUse.toolUseId,
        name: c.toolUse.name, input: c.toolUse.input })),
  },
};

export const BOTH = [PROVIDERS.openai, PROVIDERS.bedrock];

// The scenario step that calls the catalog search tool the model was
// offered (whatever prefix the bridge gives it).
export function callSearch(P, query, id) {
  return (rec) => {
    const name = P.offeredTools(rec).find((n) => /search_products$/.test(n));
    if (!name) return { text: `NO SEARCH TOOL OFFERED: ${P.offeredTools(rec).join(',')}` };
    return P.tools([{ id, name, input: { query } }]);
  };
}
