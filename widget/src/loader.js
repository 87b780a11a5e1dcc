/*
 * Voxtro chat widget loader, served at {ORIGIN}/api/widget/{chatbot_id}/script.js (one file for
 * every bot: the bot and the origin are read from this script's own src).
 *
 * It runs on other people's pages, so it touches nothing of theirs: its UI lives in a closed
 * shadow root on one host element (#voxtro-widget), and its only global is window.Voxtro. The
 * messenger iframe is created only when the visitor opens the chat.
 */
(() => {
  "use strict";

  const OWN_SRC =
    /^https?:\/\/[^/]+\/api\/widget\/([0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12})\/script\.js(?:[?#]|$)/i;
  const HEX_COLOR = /^#(?:[0-9a-f]{3}){1,2}$/i;
  const HOST_ID = "voxtro-widget";
  const SVG_NS = "http://www.w3.org/2000/svg";

  const findOwnScript = () => {
    const current = document.currentScript;
    if (current && OWN_SRC.test(current.src)) return current;
    const scripts = document.querySelectorAll("script[src]");
    for (let i = scripts.length - 1; i >= 0; i--) {
      if (OWN_SRC.test(scripts[i].src)) return scripts[i];
    }
    return null;
  };

  const script = findOwnScript();
  // Pasted twice: the first copy owns the page.
  if (!script || document.getElementById(HOST_ID)) return;

  const origin = new URL(script.src).origin;
  const chatbotId = OWN_SRC.exec(script.src)[1];
  const colorOverride = HEX_COLOR.test(script.dataset.color || "") ? script.dataset.color : null;
  const positionOverride = /^bottom-(left|right)$/.test(script.dataset.position || "")
    ? script.dataset.position
    : null;

  // Perceived brightness (YIQ): dark text on pale brand colours, white on the rest.
  const isPale = (hex) => {
    const digits = hex.length === 4 ? hex.replace(/\w/g, "$&$&") : hex;
    const [r, g, b] = [1, 3, 5].map((i) => parseInt(digits.substr(i, 2), 16));
    return r * 0.299 + g * 0.587 + b * 0.114 > 186;
  };

  const CSS = `
:host{all:initial!important}
.launcher,.panel{position:fixed;z-index:2147483000;right:20px}
.left .launcher,.left .panel{right:auto;left:20px}
.launcher{bottom:20px;width:56px;height:56px;padding:0;border:0;border-radius:50%;cursor:pointer;display:grid;place-items:center;background:var(--primary);color:var(--on-primary);box-shadow:0 6px 20px rgba(15,23,42,.24);transition:transform .15s ease}
.launcher:hover{transform:scale(1.06)}
.launcher:focus-visible{outline:3px solid var(--primary);outline-offset:3px}
.launcher svg{width:28px;height:28px;fill:currentColor}
.launcher .x{display:none;width:22px;height:22px;fill:none;stroke:currentColor;stroke-width:2.5;stroke-linecap:round}
.open .launcher .bubble{display:none}
.open .launcher .x{display:block}
.panel{bottom:88px;width:400px;height:600px;max-width:calc(100vw - 40px);max-height:calc(100vh - 108px);border-radius:16px;overflow:hidden;background:#fff;box-shadow:0 16px 48px rgba(15,23,42,.28);opacity:0;visibility:hidden;transform:translateY(12px);transition:opacity .2s,transform .2s,visibility 0s .2s}
.open .panel{opacity:1;visibility:visible;transform:none;transition:opacity .2s,transform .2s}
iframe{display:block;width:100%;height:100%;border:0}
@media (max-width:479px){.panel,.left .panel{inset:0;width:100%;height:100%;max-width:none;max-height:none;border-radius:0}.open .launcher{display:none}}
@media (prefers-reduced-motion:reduce){.launcher,.panel,.open .panel{transition:none}}`;

  const icon = (className, path) => {
    const svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("class", className);
    const shape = document.createElementNS(SVG_NS, "path");
    shape.setAttribute("d", path);
    svg.append(shape);
    return svg;
  };

  const host = document.createElement("div");
  host.id = HOST_ID;
  const shadow = host.attachShadow({ mode: "closed" });
  // A constructed stylesheet passes host pages whose CSP forbids inline <style>.
  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    shadow.adoptedStyleSheets = [sheet];
  } catch {
    const style = document.createElement("style");
    style.textContent = CSS;
    shadow.append(style);
  }

  const root = document.createElement("div");
  const launcher = document.createElement("button");
  launcher.type = "button";
  launcher.className = "launcher";
  launcher.dataset.testid = "launcher";
  launcher.setAttribute("aria-label", "Open chat");
  launcher.setAttribute("aria-expanded", "false");
  launcher.append(
    icon(
      "bubble",
      "M5 3h14a3 3 0 0 1 3 3v9a3 3 0 0 1-3 3h-8l-5 4v-4H5a3 3 0 0 1-3-3V6a3 3 0 0 1 3-3z",
    ),
    icon("x", "M6 6l12 12M18 6L6 18"),
  );
  const panel = document.createElement("div");
  panel.className = "panel";
  root.append(launcher, panel);
  shadow.append(root);

  const applyTheme = (primary, secondary, position) => {
    if (HEX_COLOR.test(primary || "")) {
      const readable = HEX_COLOR.test(secondary || "") && isPale(primary) !== isPale(secondary);
      root.style.setProperty("--primary", primary);
      root.style.setProperty(
        "--on-primary",
        readable ? secondary : isPale(primary) ? "#111" : "#fff",
      );
    }
    root.classList.toggle("left", position === "bottom-left");
  };
  applyTheme(colorOverride || "#6366f1", null, positionOverride);

  let frame = null;
  let frameReady = false;
  let focusWhenReady = false;
  let isOpen = false;
  let identity = null;

  // The visitor id and conversation live in this page's storage: the chat's own is third-party
  // here, which browsers refuse, or keep per site or per session. A signed-in user's
  // conversation is kept under a short digest of their hash (never the hash itself, which would
  // let the next user of this browser sign in as them) and handed to them only.
  const STORE_KEY = `voxtro:${chatbotId}`;
  const owner = () => {
    if (!identity) return "";
    let digest = 0;
    for (const c of identity.user_hash) digest = (Math.imul(digest, 31) + c.charCodeAt(0)) | 0;
    return `u${digest >>> 0}`;
  };
  // null: this page has no storage to offer (the chat then keeps its own).
  const loadSession = () => {
    let saved;
    try {
      saved = localStorage.getItem(STORE_KEY);
    } catch {
      return null;
    }
    try {
      saved = JSON.parse(saved);
    } catch {} // written by something else: start over
    saved = saved && typeof saved === "object" ? saved : {};
    if (!saved.conversations || typeof saved.conversations !== "object") saved.conversations = {};
    return saved;
  };
  const saveSession = ({ visitor_id, conversation_id }) => {
    const saved = loadSession();
    if (!saved) return;
    if (typeof visitor_id === "string") saved.visitor_id = visitor_id;
    if (typeof conversation_id === "string") saved.conversations[owner()] = conversation_id;
    else delete saved.conversations[owner()];
    try {
      localStorage.setItem(STORE_KEY, JSON.stringify(saved));
    } catch {} // full or refused: the conversation lasts as long as this page
  };

  // Answers the chat's "ready" either way, so that it need not wait to learn there is nobody.
  const sendIdentity = () => {
    if (!frameReady) return;
    const message = identity ? { type: "voxtro:identify", ...identity } : { type: "voxtro:anonymous" };
    const saved = loadSession();
    if (saved) {
      message.session = {
        visitor_id: saved.visitor_id || null,
        conversation_id: saved.conversations[owner()] || null,
      };
    }
    frame.contentWindow.postMessage(message, origin);
  };

  const show = (open) => {
    isOpen = open;
    root.classList.toggle("open", open);
    launcher.setAttribute("aria-expanded", open);
  };

  const open = (takeFocus = true) => {
    if (!frame) {
      frame = document.createElement("iframe");
      frame.src = `${origin}/messenger/${chatbotId}?parent=${encodeURIComponent(location.origin)}`;
      frame.title = "Chat";
      // No top navigation; popups (the answers' links) open as ordinary tabs.
      frame.setAttribute(
        "sandbox",
        "allow-scripts allow-same-origin allow-forms allow-popups allow-popups-to-escape-sandbox",
      );
      panel.append(frame);
    }
    show(true);
    if (takeFocus) frame.focus();
    focusWhenReady = takeFocus && !frameReady;
  };

  const close = () => {
    const focusWasInChat = shadow.activeElement === frame;
    show(false);
    if (focusWasInChat) launcher.focus();
  };

  const toggle = () => (isOpen ? close() : open());

  const identify = (user) => {
    if (!user || user.user_id == null || !user.user_hash) return;
    const { user_id, user_hash, name, email } = user;
    identity = { user_id: String(user_id), user_hash: String(user_hash), name, email };
    sendIdentity();
  };

  launcher.addEventListener("click", toggle);

  addEventListener("message", (event) => {
    if (!frame || event.origin !== origin || event.source !== frame.contentWindow) return;
    const type = event.data && event.data.type;
    if (type === "voxtro:ready") {
      frameReady = true;
      sendIdentity();
      // Focus given to the iframe before its page loaded does not reach the page's input.
      if (focusWhenReady && isOpen) frame.contentWindow.focus();
      focusWhenReady = false;
    } else if (type === "voxtro:session") {
      saveSession(event.data);
    } else if (type === "voxtro:close") {
      close();
    }
  });

  fetch(`${origin}/api/widget/${chatbotId}/config`, { credentials: "omit" })
    .then((response) => {
      // An unknown or switched-off bot shows nothing on the page at all.
      if (response.status === 404) host.remove();
      return response.ok ? response.json() : null;
    })
    .then((config) => {
      const theme = (config && config.theme) || {};
      applyTheme(
        colorOverride || theme.primary_color,
        colorOverride ? null : theme.secondary_color,
        positionOverride || theme.position,
      );
    })
    .catch(() => {}); // unreachable config: the launcher keeps its default look

  // Calls made before this async script arrived: window.Voxtro = {q: [["identify", {...}]]}.
  const queued = window.Voxtro && window.Voxtro.q;
  const api = { open: () => open(), close, toggle, identify };
  window.Voxtro = api;

  const mount = () => {
    document.body.append(host);
    if (script.dataset.open === "true") open(false);
    if (Array.isArray(queued)) {
      for (const [method, ...args] of queued) {
        if (typeof api[method] === "function") api[method](...args);
      }
    }
  };
  if (document.body) mount();
  else addEventListener("DOMContentLoaded", mount);
})();
