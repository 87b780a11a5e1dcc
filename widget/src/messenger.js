/*
 * The chat page, served at /messenger/{chatbot_id}: inside the loader's iframe, or standalone.
 *
 * The page runs under a strict CSP (no inline code or styles), and everything it shows that came
 * from visitors, bots or crawled pages is built with createElement and text nodes only, through
 * the small Markdown subset below. It speaks to the embedding page only by postMessage, checked
 * against the one origin named in the `parent` query parameter.
 */
(() => {
  "use strict";

  const HEX_COLOR = /^#(?:[0-9a-f]{3}){1,2}$/i;
  const DEFAULT_PRIMARY = "#6366f1";
  const MAX_SUGGESTIONS = 6;
  const NEAR_BOTTOM_PX = 80;
  const UUID = /^[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}$/i;

  const chatbotId = decodeURIComponent(
    (/\/messenger\/([^/]+)\/?$/.exec(location.pathname) || [])[1] || "",
  );
  const api = `/api/widget/${encodeURIComponent(chatbotId)}`;
  const parentOrigin = embeddingOrigin();

  const appRoot = document.querySelector(".vx-app");
  const header = {
    avatar: byTestId("avatar"),
    name: byTestId("header-name"),
    close: byTestId("close"),
  };
  const scroller = document.querySelector(".vx-scroll");
  const log = byTestId("messages");
  const suggestions = document.querySelector(".vx-suggestions");
  const shortcuts = document.querySelector(".vx-shortcuts");
  const composer = document.querySelector(".vx-composer");
  const input = byTestId("input");
  const sendButton = byTestId("send");

  // This page's own storage: framed on another site it is third-party, which browsers refuse, or
  // keep per site or per session; so it is only the fallback where the host page keeps nothing.
  const ownStorage = localStore();
  const storageKeys = {
    visitor: `voxtro:${chatbotId}:visitor`,
    conversation: `voxtro:${chatbotId}:conversation`,
  };
  let hostKeepsSession = false;
  let visitorId = null;
  let conversationId = null;
  let config = null;
  let identity = null;
  // Whether the host page has said who the visitor is (or that it will not), and handed over
  // what it keeps: a signed-in visitor's conversation is theirs only, so its history is asked
  // for with their identity.
  let identitySettled;
  const identityKnown = new Promise((resolve) => {
    identitySettled = (session) => {
      if (visitorId === null) settleSession(session);
      resolve();
    };
  });
  // Standalone, nobody will say; embedded by a loader too old to answer, not for long.
  if (!parentOrigin) identitySettled();
  else setTimeout(identitySettled, 1000);
  let busy = false;
  let visitorHasSpoken = false;
  let openForm = null;

  // ---- helpers ----------------------------------------------------------------------------

  function byTestId(testId) {
    return document.querySelector(`[data-testid="${testId}"]`);
  }

  /** An element with attributes and children; string children become text nodes, never HTML. */
  function el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value === false || value == null) continue;
      node.setAttribute(name, value === true ? "" : String(value));
    }
    node.append(...children.filter((child) => child != null));
    return node;
  }

  function svgIcon(path, className) {
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    if (className) svg.setAttribute("class", className);
    const shape = document.createElementNS("http://www.w3.org/2000/svg", "path");
    shape.setAttribute("d", path);
    svg.append(shape);
    return svg;
  }

  function isHttpUrl(value) {
    try {
      const url = new URL(value);
      return url.protocol === "http:" || url.protocol === "https:";
    } catch {
      return false;
    }
  }

  function embeddingOrigin() {
    if (window.parent === window) return null;
    const claimed = new URLSearchParams(location.search).get("parent");
    if (!claimed) return null;
    try {
      const url = new URL(claimed);
      const isWebOrigin = url.protocol === "http:" || url.protocol === "https:";
      return isWebOrigin && url.origin === claimed ? claimed : null;
    } catch {
      return null;
    }
  }

  function postToParent(type, fields = {}) {
    if (parentOrigin) window.parent.postMessage({ ...fields, type }, parentOrigin);
  }

  /**
   * Who the visitor is and which conversation they are in: from the host page's storage when
   * its loader keeps them (`session`, the loader's `{visitor_id, conversation_id}`), else from
   * this page's. Nothing of this page's storage is ever posted to the host: any page may frame
   * the chat and claim to be its host, and where a browser does not keep third-party storage
   * apart, this page's holds what the visitor said on other sites.
   */
  function settleSession(session) {
    const hosted = session && typeof session === "object" ? session : null;
    hostKeepsSession = Boolean(hosted);
    if (hosted) {
      const visitor = hosted.visitor_id;
      const conversation = hosted.conversation_id;
      visitorId = typeof visitor === "string" && visitor.length <= 200 ? visitor : null;
      conversationId =
        typeof conversation === "string" && UUID.test(conversation) ? conversation : null;
    } else {
      visitorId = ownStorage.get(storageKeys.visitor);
      conversationId = ownStorage.get(storageKeys.conversation);
    }
    if (!visitorId) {
      visitorId = newUuid();
      saveSession();
    }
  }

  function saveSession() {
    if (hostKeepsSession) {
      postToParent("voxtro:session", { visitor_id: visitorId, conversation_id: conversationId });
      return;
    }
    ownStorage.set(storageKeys.visitor, visitorId);
    if (conversationId) ownStorage.set(storageKeys.conversation, conversationId);
    else ownStorage.remove(storageKeys.conversation);
  }

  /** localStorage, or memory where a third-party iframe is denied it. */
  function localStore() {
    const memory = new Map();
    return {
      get(key) {
        try {
          return localStorage.getItem(key);
        } catch {
          return memory.get(key) ?? null;
        }
      },
      set(key, value) {
        try {
          localStorage.setItem(key, value);
        } catch {
          memory.set(key, value);
        }
      },
      remove(key) {
        try {
          localStorage.removeItem(key);
        } catch {
          memory.delete(key);
        }
      },
    };
  }

  function newUuid() {
    if (crypto.randomUUID) return crypto.randomUUID();
    // randomUUID exists only in secure contexts (a plain-http development host is not one).
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  // ---- colours ----------------------------------------------------------------------------

  function luminance(hex) {
    const digits = hex.length === 4 ? hex.replace(/\w/g, "$&$&") : hex;
    const channel = (i) => {
      const c = parseInt(digits.substr(i, 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
  }

  function contrast(a, b) {
    const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (light + 0.05) / (dark + 0.05);
  }

  function rgba(hex, alpha) {
    const digits = hex.length === 4 ? hex.replace(/\w/g, "$&$&") : hex;
    const channels = [1, 3, 5].map((i) => parseInt(digits.substr(i, 2), 16));
    return `rgba(${channels.join(",")},${alpha})`;
  }

  /** The brand colour as given, and readable partners for it chosen by contrast. */
  function applyTheme(theme) {
    const primary = HEX_COLOR.test(theme.primary_color || "")
      ? theme.primary_color
      : DEFAULT_PRIMARY;
    const secondary = HEX_COLOR.test(theme.secondary_color || "") ? theme.secondary_color : null;
    const onPrimary =
      secondary && contrast(primary, secondary) >= 4.5
        ? secondary
        : contrast(primary, "#ffffff") >= contrast(primary, "#111827")
          ? "#ffffff"
          : "#111827";
    // Links, chip borders and focus rings sit on white: a pale brand colour would vanish there.
    const accent = contrast(primary, "#ffffff") >= 3 ? primary : "#374151";
    const style = document.documentElement.style;
    style.setProperty("--vx-primary", primary);
    style.setProperty("--vx-on-primary", onPrimary);
    style.setProperty("--vx-accent", accent);
    style.setProperty("--vx-accent-soft", rgba(accent, 0.1));
    style.setProperty("--vx-ring", rgba(accent, 0.35));
  }

  // ---- Markdown subset --------------------------------------------------------------------
  // Paragraphs, line breaks, **bold**, *italic*, `code`, "- " lists, "#" headings (as bold
  // lines), [text](url) and bare URLs. Links only for http(s); everything else stays literal.

  const INLINE =
    /`([^`\n]+)`|\*\*(?=\S)(.*?\S)\*\*|\*(?=[^\s*])([^*\n]*?[^\s*])\*|\[([^\]\n]+)\]\(\s*(https?:\/\/(?:[^\s()]|\([^\s()]*\))+)\s*\)|(https?:\/\/[^\s<>"]+)/gi;

  function renderMarkdown(text) {
    const fragment = document.createDocumentFragment();
    let paragraph = null;
    let list = null;
    for (const line of String(text).replace(/\r\n?/g, "\n").split("\n")) {
      const listItem = /^\s*[-*•]\s+(.*)$/.exec(line);
      const heading = /^\s*#{1,6}\s+(.*)$/.exec(line);
      if (!line.trim()) {
        paragraph = list = null;
      } else if (listItem) {
        if (!list) list = fragment.appendChild(el("ul"));
        paragraph = null;
        list.append(appendInline(el("li"), listItem[1]));
      } else if (heading) {
        paragraph = list = null;
        fragment.append(appendInline(el("p", { class: "vx-md-heading" }), heading[1]));
      } else {
        list = null;
        if (paragraph) paragraph.append(el("br"));
        else paragraph = fragment.appendChild(el("p"));
        appendInline(paragraph, line);
      }
    }
    return fragment;
  }

  function appendInline(parent, text) {
    let consumed = 0;
    for (const match of text.matchAll(INLINE)) {
      const [whole, code, bold, italic, linkText, linkUrl, bareUrl] = match;
      parent.append(text.slice(consumed, match.index));
      consumed = match.index + whole.length;
      if (code) parent.append(el("code", {}, code));
      else if (bold) parent.append(appendInline(el("strong"), bold));
      else if (italic) parent.append(appendInline(el("em"), italic));
      else if (linkUrl) parent.append(safeLink(linkUrl, linkText) || whole);
      else {
        const url = trimUrl(bareUrl);
        consumed = match.index + url.length; // trailing punctuation goes back to the text
        parent.append(safeLink(url, url) || url);
      }
    }
    parent.append(text.slice(consumed));
    return parent;
  }

  /** "see https://x.io/a)." links https://x.io/a: closing punctuation is the sentence's. */
  function trimUrl(url) {
    for (;;) {
      const last = url.slice(-1);
      const unbalanced =
        (last === ")" && url.split("(").length < url.split(")").length) ||
        (last === "]" && url.split("[").length < url.split("]").length);
      if (/[.,;:!?'"*_]/.test(last) || unbalanced) url = url.slice(0, -1);
      else return url;
    }
  }

  function safeLink(url, text, attributes = {}) {
    if (!isHttpUrl(url)) return null;
    return el(
      "a",
      { href: new URL(url).href, target: "_blank", rel: "noopener noreferrer", ...attributes },
      text,
    );
  }

  // ---- the message list -------------------------------------------------------------------

  function isNearBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < NEAR_BOTTOM_PX;
  }

  /** Runs a change to the list, then keeps the newest message in view if it was in view. */
  function updateLog(change, { forceScroll = false } = {}) {
    const follow = forceScroll || isNearBottom();
    const result = change();
    if (follow) scroller.scrollTop = scroller.scrollHeight;
    return result;
  }

  function userRow(text) {
    return el(
      "div",
      { class: "vx-row vx-row-user" },
      el("div", { class: "vx-bubble", "data-testid": "message-user" }, text),
    );
  }

  function botRow(text, citations) {
    const bubble = el("div", { class: "vx-bubble", "data-testid": "message-bot" });
    const row = el("div", { class: "vx-row vx-row-bot" }, bubble);
    if (text != null) fillBotRow(row, bubble, text, citations);
    return { row, bubble };
  }

  // An answer's closing "Sources:" list, written for channels that show text only.
  const SOURCES_BLOCK = /\n\s*Sources:[ \t]*(?:\n[ \t]*[-*•][^\n]*)+\s*$/;

  function fillBotRow(row, bubble, text, citations) {
    row.querySelector(".vx-citations")?.remove();
    const sources = citationList(citations);
    // Shown once: below the bubble, as links, when the answer has them.
    const shown = sources ? String(text).replace(SOURCES_BLOCK, "") : text;
    bubble.replaceChildren(el("div", { class: "vx-md" }, renderMarkdown(shown)));
    if (sources) row.append(sources);
  }

  function citationList(citations) {
    const seen = new Set();
    const items = [];
    for (const citation of Array.isArray(citations) ? citations : []) {
      const url = citation && isHttpUrl(citation.url) ? citation.url : null;
      const title = citation && typeof citation.title === "string" ? citation.title.trim() : "";
      const key = url || title;
      if (!key || seen.has(key)) continue;
      seen.add(key);
      const label = title || new URL(url).hostname;
      items.push(
        el(
          "li",
          {},
          url
            ? safeLink(url, label, { "data-testid": "citation", title: url })
            : el("span", { "data-testid": "citation" }, label),
        ),
      );
    }
    if (!items.length) return null;
    return el(
      "div",
      { class: "vx-citations" },
      el("p", { class: "vx-citations-title" }, "Sources"),
      el("ul", {}, ...items),
    );
  }

  function typingRow() {
    const name = (config && config.name) || "The assistant";
    return el(
      "div",
      { class: "vx-row vx-row-bot" },
      el(
        "div",
        { class: "vx-bubble vx-typing", "data-testid": "typing" },
        el("span", { class: "vx-visually-hidden" }, `${name} is typing…`),
        el("span", { class: "vx-dot", "aria-hidden": "true" }),
        el("span", { class: "vx-dot", "aria-hidden": "true" }),
        el("span", { class: "vx-dot", "aria-hidden": "true" }),
      ),
    );
  }

  function showUnavailable(message, retry) {
    log.replaceChildren(
      el(
        "div",
        { class: "vx-notice", "data-testid": "error" },
        el("p", {}, message),
        retry
          ? el("button", { type: "button", class: "vx-button", "data-testid": "retry" }, "Retry")
          : null,
      ),
    );
    log.querySelector("[data-testid=retry]")?.addEventListener("click", retry);
    composer.hidden = true;
    suggestions.hidden = true;
    shortcuts.hidden = true;
  }

  // ---- talking to the backend -------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, code, message, { retryAfter = 0, errors = [] } = {}) {
      super(message);
      this.status = status;
      this.code = code;
      this.retryAfter = retryAfter;
      this.errors = errors;
    }
  }

  async function errorFrom(response) {
    let body = {};
    try {
      body = await response.json();
    } catch {
      // a proxy's HTML error page: the status says enough
    }
    return new ApiError(response.status, body.code || "", body.message || "", {
      retryAfter: Number(response.headers.get("Retry-After")) || 0,
      errors: Array.isArray(body.errors) ? body.errors : [],
    });
  }

  async function request(path, options = {}) {
    let response;
    try {
      response = await fetch(path, { credentials: "omit", ...options });
    } catch {
      throw new ApiError(0, "NETWORK_ERROR", "");
    }
    if (!response.ok) throw await errorFrom(response);
    return response;
  }

  function postJson(path, body, headers = {}) {
    return request(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
  }

  /** What to tell the visitor about a failed request. */
  function describeError(error) {
    if (error.status === 429 || error.code === "RATE_LIMITED") {
      const wait =
        error.retryAfter > 0 && error.retryAfter <= 120 ? ` (${error.retryAfter} s)` : "";
      return `You're sending messages too quickly. Please wait a moment${wait} and try again.`;
    }
    if (error.status === 402 || error.status === 503) {
      return "This assistant can't answer right now. Please try again later.";
    }
    if (error.status === 404) return "This chat is not available.";
    if (error.status === 0)
      return "We couldn't reach the server. Check your connection and try again.";
    if (error.status === 422 && error.message) return error.message;
    return "Something went wrong. Please try again.";
  }

  /** Server-sent events from a fetch body; an event may arrive split across any chunks. */
  async function* serverSentEvents(body) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let type = "";
    let data = [];
    try {
      for (;;) {
        const { value, done } = await reader.read();
        // The blank lines end a last event the server sent without its closing blank line.
        buffer += done ? `${decoder.decode()}\n\n` : decoder.decode(value, { stream: true });
        for (;;) {
          const lineEnd = buffer.search(/\r\n|\r|\n/);
          if (lineEnd < 0) break;
          // A "\r" that ends the chunk may be the first half of a "\r\n".
          if (!done && buffer[lineEnd] === "\r" && lineEnd === buffer.length - 1) break;
          const line = buffer.slice(0, lineEnd);
          buffer = buffer.slice(lineEnd + (buffer.startsWith("\r\n", lineEnd) ? 2 : 1));
          if (line === "") {
            if (data.length) yield { type: type || "message", data: data.join("\n") };
            type = "";
            data = [];
            continue;
          }
          if (line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          let fieldValue = colon < 0 ? "" : line.slice(colon + 1);
          if (fieldValue.startsWith(" ")) fieldValue = fieldValue.slice(1);
          if (field === "event") type = fieldValue;
          else if (field === "data") data.push(fieldValue);
        }
        if (done) return;
      }
    } finally {
      reader.cancel().catch(() => {});
    }
  }

  function parseJson(text) {
    try {
      return JSON.parse(text);
    } catch {
      return null;
    }
  }

  // ---- sending a message ------------------------------------------------------------------

  function setBusy(value) {
    busy = value;
    sendButton.disabled = value;
    log.setAttribute("aria-busy", String(value));
    for (const button of suggestions.querySelectorAll("button")) button.disabled = value;
  }

  function rememberConversation(id) {
    if (typeof id !== "string" || !id || id === conversationId) return;
    conversationId = id;
    saveSession();
  }

  function messageBody(text) {
    const body = {
      visitor_id: visitorId,
      message: text,
      conversation_id: conversationId,
      stream: true,
    };
    if (identity && identity.user_id && identity.user_hash) {
      body.user_id = identity.user_id;
      body.user_hash = identity.user_hash;
      if (identity.name) body.user_name = identity.name;
      if (identity.email) body.user_email = identity.email;
    }
    return body;
  }

  /**
   * The bot's answer as it arrives: a typing indicator until the first token, the streamed text
   * (hidden from screen readers, which would read every token), then the final text from `done`
   * as a new node, so that a polite live region announces the answer once.
   */
  function startReply() {
    const typing = updateLog(() => log.appendChild(typingRow()));
    let row = null;
    let bubble = null;
    let streamed = "";
    let pendingFrame = 0;

    const ensureBubble = () => {
      if (row) return;
      typing.remove();
      ({ row, bubble } = botRow(null));
      updateLog(() => log.append(row));
    };
    const renderStreamed = () => {
      pendingFrame = 0;
      updateLog(() =>
        bubble.replaceChildren(
          el("div", { class: "vx-md", "aria-hidden": "true" }, renderMarkdown(streamed)),
        ),
      );
    };

    return {
      token(text) {
        ensureBubble();
        streamed += text;
        if (!pendingFrame) pendingFrame = requestAnimationFrame(renderStreamed);
      },
      finish(message, citations) {
        cancelAnimationFrame(pendingFrame);
        ensureBubble();
        updateLog(() => fillBotRow(row, bubble, message ?? streamed, citations));
      },
      discard() {
        cancelAnimationFrame(pendingFrame);
        typing.remove();
        row?.remove();
      },
    };
  }

  async function fetchAnswer(text, reply) {
    const response = await postJson(`${api}/message`, messageBody(text), {
      Accept: "text/event-stream",
    });
    if (!(response.headers.get("Content-Type") || "").includes("text/event-stream")) {
      const result = await response.json();
      rememberConversation(result.conversation_id);
      reply.finish(result.message, result.citations);
      return;
    }
    for await (const event of serverSentEvents(response.body)) {
      const data = parseJson(event.data);
      if (!data) continue;
      if (event.type === "token" && typeof data.content === "string") {
        reply.token(data.content);
      } else if (event.type === "done") {
        rememberConversation(data.conversation_id);
        reply.finish(typeof data.message === "string" ? data.message : null, data.citations);
        return;
      } else if (event.type === "error") {
        throw new ApiError(200, data.code || "", data.message || "");
      }
    }
    throw new ApiError(0, "STREAM_ENDED", ""); // the connection dropped before the answer ended
  }

  async function answer(text) {
    setBusy(true);
    const reply = startReply();
    try {
      await fetchAnswer(text, reply);
    } catch (error) {
      reply.discard();
      showSendError(error instanceof ApiError ? error : new ApiError(0, "", ""), text);
    } finally {
      setBusy(false);
    }
  }

  function showSendError(error, text) {
    const retry = el(
      "button",
      { type: "button", class: "vx-retry", "data-testid": "retry" },
      "Retry",
    );
    const row = el(
      "div",
      { class: "vx-row vx-row-bot" },
      el(
        "div",
        { class: "vx-bubble vx-bubble-error", "data-testid": "error" },
        el("span", {}, describeError(error)),
        retry,
      ),
    );
    retry.addEventListener("click", () => {
      if (busy) return;
      row.remove();
      input.focus();
      answer(text);
    });
    updateLog(() => log.append(row), { forceScroll: true });
  }

  function ask(text) {
    if (busy || !config || !text.trim()) return false;
    visitorHasSpoken = true;
    suggestions.hidden = true;
    updateLog(() => log.append(userRow(text)), { forceScroll: true });
    answer(text);
    return true;
  }

  function resizeInput() {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 140)}px`;
  }

  // ---- suggestions and forms --------------------------------------------------------------

  function showSuggestions(faqs) {
    const buttons = (Array.isArray(faqs) ? faqs : [])
      .filter((faq) => faq && typeof faq.question === "string" && faq.question.trim())
      .slice(0, MAX_SUGGESTIONS)
      .map((faq) => {
        const button = el(
          "button",
          { type: "button", class: "vx-chip", "data-testid": "suggestion" },
          faq.question,
        );
        button.addEventListener("click", () => ask(faq.question));
        return button;
      });
    suggestions.replaceChildren(...buttons);
    suggestions.hidden = !buttons.length || visitorHasSpoken;
  }

  function showFormButtons(forms) {
    const buttons = (Array.isArray(forms) ? forms : [])
      .filter((form) => form && form.id && Array.isArray(form.fields))
      .map((form) => {
        const button = el(
          "button",
          { type: "button", class: "vx-chip vx-chip-form", "data-testid": "form-button" },
          svgIcon(
            "M7 3h7l5 5v13H7a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm6 1v5h5M8 13h8M8 17h6",
            "vx-chip-icon",
          ),
          form.title || form.name || "Form",
        );
        button.addEventListener("click", () => showForm(form));
        return button;
      });
    shortcuts.replaceChildren(...buttons);
    shortcuts.hidden = !buttons.length;
  }

  const INPUT_TYPES = {
    text: "text",
    email: "email",
    phone: "tel",
    number: "number",
    date: "date",
  };
  const AUTOCOMPLETE = { email: "email", phone: "tel" };

  function fieldControl(field, id) {
    const common = { id, name: field.name, required: Boolean(field.required) };
    if (field.type === "textarea") {
      return el("textarea", { ...common, rows: 3, placeholder: field.placeholder });
    }
    if (field.type === "select") {
      // Options are strings; {value, label} objects are taken too.
      const options = (Array.isArray(field.options) ? field.options : []).map((option) => {
        const value = String(option && typeof option === "object" ? option.value : option);
        const label = option && typeof option === "object" ? (option.label ?? value) : value;
        return el("option", { value }, String(label));
      });
      return el(
        "select",
        common,
        el("option", { value: "" }, field.placeholder || "Choose…"),
        ...options,
      );
    }
    if (field.type === "checkbox") {
      return el("input", { ...common, type: "checkbox", value: "true" });
    }
    return el("input", {
      ...common,
      type: INPUT_TYPES[field.type] || "text",
      placeholder: field.placeholder,
      autocomplete: AUTOCOMPLETE[field.type] || (/name/i.test(field.name) ? "name" : null),
      inputmode: field.type === "number" ? "decimal" : null,
      step: field.type === "number" ? "any" : null,
    });
  }

  /** Fills what the host page told us about a signed-in visitor into an empty field. */
  function prefill(control, field) {
    if (!identity || control.value) return;
    if (field.type === "email" && identity.email) control.value = identity.email;
    else if (/^(full_?)?name$/i.test(field.name) && identity.name) control.value = identity.name;
  }

  function showForm(form) {
    openForm?.remove();
    const formId = `vx-form-${String(form.id).replace(/[^\w-]/g, "")}`;
    const controls = new Map();
    const fieldNodes = form.fields.map((field, index) => {
      const id = `${formId}-${index}`;
      const control = fieldControl(field, id);
      const errorNode = el("p", { class: "vx-field-error", id: `${id}-error`, hidden: true });
      control.setAttribute("aria-describedby", errorNode.id);
      prefill(control, field);
      controls.set(field.name, { field, control, errorNode });
      const requiredMark = field.required
        ? el("span", { class: "vx-required", "aria-hidden": "true" }, " *")
        : null;
      const label = el("label", { for: id }, field.label || field.name, requiredMark);
      if (field.type === "checkbox") {
        return el("div", { class: "vx-field vx-field-checkbox" }, control, label, errorNode);
      }
      return el("div", { class: "vx-field" }, label, control, errorNode);
    });
    const formError = el("p", { class: "vx-form-error", role: "alert", hidden: true });
    const submit = el(
      "button",
      { type: "submit", class: "vx-button", "data-testid": "form-submit" },
      "Submit",
    );
    const cancel = el("button", { type: "button", class: "vx-button vx-button-quiet" }, "Cancel");
    const formNode = el(
      "form",
      {
        class: "vx-form",
        "data-testid": "form",
        novalidate: true,
        "aria-labelledby": `${formId}-title`,
      },
      el("p", { class: "vx-form-title", id: `${formId}-title` }, form.title || form.name || "Form"),
      form.description ? el("p", { class: "vx-form-description" }, form.description) : null,
      ...fieldNodes,
      formError,
      el("div", { class: "vx-form-actions" }, cancel, submit),
    );
    const row = el("div", { class: "vx-row vx-row-bot vx-row-wide" }, formNode);
    openForm = row;

    cancel.addEventListener("click", () => {
      row.remove();
      openForm = null;
      input.focus();
    });
    formNode.addEventListener("submit", (event) => {
      event.preventDefault();
      submitForm(form, row, { controls, formError, submit });
    });

    updateLog(() => log.append(row), { forceScroll: true });
    // A form taller than the list is shown from its top, not with its top under the header.
    const hidden = scroller.getBoundingClientRect().top - row.getBoundingClientRect().top;
    if (hidden > 0) {
      scroller.scrollTop -= hidden + parseFloat(getComputedStyle(scroller).paddingTop);
    }
    formNode.querySelector("input, textarea, select")?.focus({ preventScroll: true });
  }

  function setFieldError(entry, message) {
    entry.errorNode.textContent = message || "";
    entry.errorNode.hidden = !message;
    if (message) entry.control.setAttribute("aria-invalid", "true");
    else entry.control.removeAttribute("aria-invalid");
  }

  function localFieldError({ field, control }) {
    if (field.type === "checkbox") {
      return field.required && !control.checked ? "Please tick this box." : "";
    }
    if (control.validity.badInput) return "Please enter a valid value.";
    if (field.required && !control.value.trim()) return "This field is required.";
    return ""; // formats (e-mail, phone) are the server's to judge, in its own words
  }

  function submittedValue({ field, control }) {
    if (field.type === "checkbox") return control.checked;
    const value = control.value.trim();
    if (field.type === "number" && value !== "") return Number(value);
    return value;
  }

  async function submitForm(form, row, { controls, formError, submit }) {
    formError.hidden = true;
    let firstInvalid = null;
    const submittedData = {};
    for (const entry of controls.values()) {
      const message = localFieldError(entry);
      setFieldError(entry, message);
      if (message) firstInvalid ??= entry.control;
      const value = submittedValue(entry);
      if (value !== "") submittedData[entry.field.name] = value;
    }
    if (firstInvalid) {
      firstInvalid.focus();
      return;
    }

    submit.disabled = true;
    submit.textContent = "Sending…";
    try {
      const response = await postJson("/api/forms/submit", {
        form_id: form.id,
        conversation_id: conversationId,
        visitor_id: visitorId,
        submitted_data: submittedData,
      });
      const result = await response.json().catch(() => ({}));
      const thanks =
        result.message || form.submit_message || "Thank you! We received your details.";
      const { row: thanksRow } = botRow(thanks);
      row.replaceWith(thanksRow);
      openForm = null;
      input.focus();
    } catch (error) {
      const unmatched = [];
      for (const problem of error.errors || []) {
        const path = String(problem.field || "");
        const name = path.includes("submitted_data.") ? path.split("submitted_data.").pop() : path;
        const entry = controls.get(name);
        if (entry) setFieldError(entry, problem.message || "Please check this field.");
        else if (problem.message) unmatched.push(problem.message);
      }
      const invalid = [...controls.values()].find((entry) => !entry.errorNode.hidden);
      if (error.status !== 422 || !invalid || unmatched.length) {
        formError.textContent =
          error.status === 422 && unmatched.length ? unmatched.join(" ") : describeError(error);
        formError.hidden = false;
      }
      (invalid ? invalid.control : submit).focus();
    } finally {
      submit.disabled = false;
      submit.textContent = "Submit";
    }
  }

  // ---- header -----------------------------------------------------------------------------

  function showAvatar(url, name) {
    const initial = el("span", {
      class: "vx-avatar",
      "data-testid": "avatar",
      "aria-hidden": "true",
    });
    initial.textContent = (String(name || "").trim()[0] || "?").toUpperCase();
    if (!isHttpUrl(url)) {
      header.avatar.replaceWith(initial);
      header.avatar = initial;
      return;
    }
    const image = el("img", { class: "vx-avatar", "data-testid": "avatar", src: url, alt: "" });
    image.addEventListener("error", () => {
      image.replaceWith(initial);
      header.avatar = initial;
    });
    header.avatar.replaceWith(image);
    header.avatar = image;
  }

  // ---- start ------------------------------------------------------------------------------

  async function loadHistory() {
    await identityKnown;
    if (!conversationId) return [];
    const params = new URLSearchParams({ visitor_id: visitorId });
    if (identity && identity.user_id && identity.user_hash) {
      params.set("user_id", identity.user_id);
      params.set("user_hash", identity.user_hash);
    }
    const query = params.toString();
    try {
      const response = await request(
        `${api}/conversations/${encodeURIComponent(conversationId)}/messages?${query}`,
      );
      const data = await response.json();
      return Array.isArray(data.messages) ? data.messages : [];
    } catch (error) {
      if (error.status === 404) {
        conversationId = null;
        saveSession();
      }
      return [];
    }
  }

  async function start() {
    log.setAttribute("aria-busy", "true");
    const history = loadHistory();
    try {
      config = await (await request(`${api}/config`)).json();
    } catch (error) {
      log.setAttribute("aria-busy", "false");
      if (error.status === 404) showUnavailable("This chat is not available.");
      else showUnavailable("We couldn't load this chat.", () => location.reload());
      return;
    }

    document.title = config.name || "Chat";
    header.name.textContent = config.name || "Chat";
    showAvatar(config.theme && config.theme.avatar, config.name);
    applyTheme(config.theme || {});
    if (config.placeholder_text) input.placeholder = config.placeholder_text;
    if (config.first_message) log.append(botRow(config.first_message).row);

    for (const message of await history) {
      if (!message || typeof message.content !== "string") continue;
      if (message.role === "user") {
        visitorHasSpoken = true;
        log.append(userRow(message.content));
      } else {
        log.append(botRow(message.content, message.citations).row);
      }
    }
    showSuggestions(config.faqs);
    showFormButtons(config.forms);
    log.setAttribute("aria-busy", "false");
    input.disabled = false;
    sendButton.disabled = false;
    scroller.scrollTop = scroller.scrollHeight;
    if (!parentOrigin || document.hasFocus()) input.focus();
  }

  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    if (ask(input.value)) {
      input.value = "";
      resizeInput();
    }
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });
  input.addEventListener("input", resizeInput);

  if (parentOrigin) {
    header.close.hidden = false;
    header.close.addEventListener("click", () => postToParent("voxtro:close"));
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape") postToParent("voxtro:close");
    });
    window.addEventListener("message", (event) => {
      if (event.origin !== parentOrigin || event.source !== window.parent) return;
      const data = event.data;
      if (data && data.type === "voxtro:anonymous") identitySettled(data.session);
      if (!data || data.type !== "voxtro:identify") return;
      const user = data.payload && typeof data.payload === "object" ? data.payload : data;
      identity = {
        user_id: user.user_id == null ? null : String(user.user_id),
        user_hash: user.user_hash == null ? null : String(user.user_hash),
        name: typeof user.name === "string" ? user.name : null,
        email: typeof user.email === "string" ? user.email : null,
      };
      identitySettled(data.session);
    });
    // Reopened by the loader: put the visitor back in the input, unless they were elsewhere.
    window.addEventListener("focus", () => {
      if (document.activeElement === document.body && !input.disabled) input.focus();
    });
    postToParent("voxtro:ready");
  }
  if (composer.requestSubmit === undefined) {
    composer.requestSubmit = () =>
      composer.dispatchEvent(new Event("submit", { cancelable: true }));
  }

  appRoot.classList.toggle("vx-embedded", Boolean(parentOrigin));
  start();
})();
