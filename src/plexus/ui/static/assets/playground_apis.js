// The four client APIs as the playground speaks them: where a request goes, its body, and
// where the answer's text is in a stream event or a whole answer. Written from each API's
// public reference, independently of the gateway's codecs.

const user = (prompt) => [{ role: "user", content: prompt }];
const texts = (parts) => (parts || []).filter((p) => typeof p.text === "string" && !p.thought).map((p) => p.text).join("");

export const CLIENT_APIS = {
  chat: {
    label: "Chat",
    path: () => "/v1/chat/completions",
    body: (model, prompt, stream) => ({
      model,
      messages: user(prompt),
      stream,
      ...(stream ? { stream_options: { include_usage: true } } : {}),
    }),
    delta: (event) => event.choices?.[0]?.delta?.content || "",
    whole: (answer) => answer.choices?.[0]?.message?.content || "",
    usage: (event) => event.usage && { input: event.usage.prompt_tokens, output: event.usage.completion_tokens },
  },
  messages: {
    label: "Messages",
    path: () => "/v1/messages",
    headers: { "anthropic-version": "2023-06-01" },
    body: (model, prompt, stream) => ({ model, max_tokens: 1024, messages: user(prompt), stream }),
    delta: (event) => (event.type === "content_block_delta" && event.delta?.type === "text_delta" ? event.delta.text : ""),
    whole: (answer) => texts((answer.content || []).filter((b) => b.type === "text")),
    usage: (event) => {
      const usage = event.usage || event.message?.usage;
      return usage && { input: usage.input_tokens, output: usage.output_tokens };
    },
  },
  responses: {
    label: "Responses",
    path: () => "/v1/responses",
    body: (model, prompt, stream) => ({ model, input: prompt, stream }),
    delta: (event) => (event.type === "response.output_text.delta" ? event.delta || "" : ""),
    whole: (answer) =>
      (answer.output || [])
        .filter((item) => item.type === "message")
        .flatMap((item) => item.content || [])
        .filter((part) => part.type === "output_text")
        .map((part) => part.text)
        .join(""),
    usage: (event) => {
      const usage = event.response?.usage;
      return usage && { input: usage.input_tokens, output: usage.output_tokens };
    },
  },
  gemini: {
    label: "Gemini",
    modelInUrl: true,
    path: (model, stream) => `/v1beta/models/${encodeURIComponent(model)}:${stream ? "streamGenerateContent?alt=sse" : "generateContent"}`,
    body: (model, prompt) => ({ contents: [{ role: "user", parts: [{ text: prompt }] }] }),
    delta: (event) => texts(event.candidates?.[0]?.content?.parts),
    whole: (answer) => texts(answer.candidates?.[0]?.content?.parts),
    usage: (event) => {
      const usage = event.usageMetadata;
      return usage && { input: usage.promptTokenCount, output: usage.candidatesTokenCount };
    },
  },
};

/** The error message in any of the four APIs' error bodies. */
export function errorMessage(body) {
  const error = body?.error;
  if (typeof error === "string") return error;
  return error?.message || body?.message || JSON.stringify(body);
}
