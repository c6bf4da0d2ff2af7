// Small progressive enhancements; every page works without them.
document.addEventListener("DOMContentLoaded", () => {
  const toggle = document.querySelector(".nav-toggle");
  const nav = document.getElementById("main-nav");
  if (toggle && nav) {
    toggle.addEventListener("click", () => {
      const open = nav.classList.toggle("open");
      toggle.setAttribute("aria-expanded", String(open));
    });
  }
  // Phone inbox: the views and filters wait behind a button, so tickets fill the screen.
  const views = document.querySelector("[data-views-toggle]");
  if (views) {
    views.addEventListener("click", () => {
      const open = document.querySelector(".inbox-layout").classList.toggle("views-open");
      views.setAttribute("aria-expanded", String(open));
    });
  }
  // Remote images in customer mail load only when the agent asks (tracking pixels): the
  // "Load remote images" link reloads the page with a policy that lets this one mail's
  // images load (helpdesk/core/csp.py), and marks its body.
  document.querySelectorAll('[data-remote-images="allowed"] img[data-remote-src]').forEach((img) => {
    if (/^https?:\/\//i.test(img.dataset.remoteSrc)) img.src = img.dataset.remoteSrc;
    img.removeAttribute("data-remote-src");
  });
});

// --- Inbox: bulk selection ------------------------------------------------------------
document.addEventListener("DOMContentLoaded", () => {
  const list = document.getElementById("ticket-list");
  if (!list) return;
  const action = document.getElementById("bulk-action");
  const value = document.getElementById("bulk-value");
  const tag = document.getElementById("bulk-tag");
  const count = document.getElementById("selected-count");
  const boxes = () => [...list.querySelectorAll("input[name=tickets]")];
  const syncValue = () => {
    if (!action) return;
    const wanted = action.value;
    const needsTag = wanted === "tag";
    const none = ["merge", "spam", "not_spam"].includes(wanted);
    tag.hidden = tag.disabled = !needsTag;
    value.hidden = value.disabled = needsTag || none;
    [...value.querySelectorAll("optgroup")].forEach((group) => {
      group.hidden = group.dataset.for !== wanted;
      group.disabled = group.dataset.for !== wanted;
    });
    const first = value.querySelector(`optgroup[data-for="${wanted}"] option`);
    if (first) value.value = first.value;
  };
  const syncCount = () => {
    if (!count) return;
    const n = boxes().filter((b) => b.checked).length;
    list.classList.toggle("has-selection", n > 0); // a phone shows the bulk bar only then
    count.textContent = n ? `${n} selected` : "Select tickets to act on them";
  };
  if (action) action.addEventListener("change", syncValue);
  syncValue();
  // On a phone the checkbox's cell is its tap target (40 px), not just the small box.
  list.addEventListener("click", (event) => {
    const cell = event.target.closest("td.cell-select");
    if (!cell || event.target.matches("input")) return;
    const box = cell.querySelector("input[type=checkbox]");
    if (box) box.click();
  });
  list.addEventListener("change", (event) => {
    if (event.target.id === "select-all") boxes().forEach((b) => (b.checked = event.target.checked));
    syncCount();
  });
  // Remember the list so j/k on a ticket page can walk it.
  const urls = [...list.querySelectorAll("tr[data-href]")].map((row) => row.dataset.href);
  if (urls.length) sessionStorage.setItem("helpdesk.inbox", JSON.stringify(urls));
  sessionStorage.setItem("helpdesk.inboxUrl", location.pathname + location.search);
});

// --- Ticket page: presence state and leaving ------------------------------------------
window.helpdeskPresenceState = "viewing";
// What each presence ping sends (no hx-vals="js:…": htmx runs without eval).
document.addEventListener("htmx:configRequest", (event) => {
  if (event.detail.elt.id !== "presence") return;
  const seen = document.querySelector("[name=seen_up_to]");
  event.detail.parameters.state = window.helpdeskPresenceState || "viewing";
  event.detail.parameters.seen_up_to = seen ? seen.value : "";
});
document.addEventListener("DOMContentLoaded", () => {
  const body = document.getElementById("reply-body");
  const presence = document.getElementById("presence");
  if (!presence) return;
  const update = () => {
    const editor = document.getElementById("reply-body");
    const typing = editor && (editor.value.trim() !== "" || document.activeElement === editor);
    const state = typing ? "replying" : "viewing";
    if (state === window.helpdeskPresenceState) return;
    window.helpdeskPresenceState = state;
    htmx.trigger(presence, "presence-change"); // tell the others now, not at the next ping
  };
  document.addEventListener("focusin", update);
  document.addEventListener("focusout", () => setTimeout(update, 0));
  document.addEventListener("input", update);
  if (body) update();
  window.addEventListener("pagehide", () => {
    const url = presence.getAttribute("hx-post");
    const data = new FormData();
    data.append("state", "left");
    data.append("csrfmiddlewaretoken", document.body.dataset.csrf || "");
    navigator.sendBeacon(url, data);
  });
});

// --- Keyboard shortcuts (listed in the "?" overlay) -----------------------------------
document.addEventListener("DOMContentLoaded", () => {
  const dialog = document.getElementById("shortcuts");
  document.querySelectorAll("[data-open-shortcuts]").forEach((button) =>
    button.addEventListener("click", () => dialog && dialog.showModal())
  );
  let pending = "";
  let selected = -1;
  const rows = () => [...document.querySelectorAll("#ticket-list tr[data-href]")];
  const select = (index) => {
    const all = rows();
    if (!all.length) return;
    selected = Math.max(0, Math.min(index, all.length - 1));
    all.forEach((row, i) => row.classList.toggle("selected", i === selected));
    all[selected].scrollIntoView({ block: "nearest" });
  };
  const walk = (step) => {
    const urls = JSON.parse(sessionStorage.getItem("helpdesk.inbox") || "[]");
    const here = urls.indexOf(location.pathname);
    const next = urls[here + step];
    if (here >= 0 && next) location.href = next;
  };
  const fields = () => document.getElementById("fields-form");
  const setStatus = (value) => {
    const form = fields();
    if (!form || !editable(form)) return;
    form.querySelector("#f-status").value = value;
    form.requestSubmit();
  };
  // Take: the ticket becomes this agent's (viewing it does not, unless the tenant turned
  // on "open it and you own it").
  // A shortcut this member may not use says why, in the page's own style (the ticket's
  // fields are a disabled fieldset for light agents; data-refusal carries the reason).
  const refuse = (form) => {
    let note = document.getElementById("shortcut-refusal");
    if (!note) {
      note = document.createElement("p");
      note.id = "shortcut-refusal";
      note.className = "toast";
      note.setAttribute("role", "alert");
      document.body.append(note);
    }
    note.textContent = form.dataset.refusal || "You may not do this here.";
    clearTimeout(note.hideTimer);
    note.hidden = false;
    note.hideTimer = setTimeout(() => { note.hidden = true; }, 6000);
  };
  const editable = (form) => {
    if (form.querySelector("fieldset[disabled]")) { refuse(form); return false; }
    return true;
  };
  const take = () => {
    const form = fields();
    const me = document.body.dataset.memberId;
    if (form && me && editable(form)) { form.querySelector("#f-assignee").value = me; form.requestSubmit(); }
  };
  document.addEventListener("click", (event) => {
    if (event.target.closest && event.target.closest("[data-take]")) { event.preventDefault(); take(); }
  });
  const startEditor = (kind) => {
    const radio = document.getElementById(kind === "note" ? "kind-note" : "kind-reply");
    if (radio) radio.checked = true;
    const editor = document.getElementById("reply-body");
    if (editor) editor.focus();
  };
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    const typing = target.closest && target.closest("input, textarea, select, [contenteditable]");
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && target.id === "reply-body") {
      event.preventDefault();
      target.form.requestSubmit();
      return;
    }
    if (event.key === "Escape" && typing) {
      target.blur();
      return;
    }
    if (typing || event.altKey || event.ctrlKey || event.metaKey) return;
    const key = event.key;
    if (pending === "s") {
      pending = "";
      const statuses = { o: "open", w: "waiting", h: "on_hold", s: "solved", c: "closed" };
      if (statuses[key]) { event.preventDefault(); setStatus(statuses[key]); }
      return;
    }
    if (pending === "g") {
      pending = "";
      if (key === "i") location.href = sessionStorage.getItem("helpdesk.inboxUrl") || "/inbox/";
      return;
    }
    const onTicket = !!fields();
    switch (key) {
      case "?": if (dialog) { event.preventDefault(); dialog.showModal(); } break;
      case "/": {
        const search = document.getElementById("q");
        if (search) { event.preventDefault(); search.focus(); }
        break;
      }
      case "j": if (onTicket) walk(1); else select(selected + 1); break;
      case "k": if (onTicket) walk(-1); else select(selected - 1); break;
      case "o":
      case "Enter": {
        const all = rows();
        if (selected >= 0 && all[selected]) location.href = all[selected].dataset.href;
        break;
      }
      case "x": {
        const row = rows()[selected];
        const box = row && row.querySelector("input[name=tickets]");
        if (box) { box.checked = !box.checked; box.dispatchEvent(new Event("change", { bubbles: true })); }
        break;
      }
      case "r": if (onTicket) { event.preventDefault(); startEditor("reply"); } break;
      case "n": if (onTicket) { event.preventDefault(); startEditor("note"); } break;
      case "a": take(); break;
      case "s": if (onTicket) pending = "s"; break;
      case "g": pending = "g"; break;
      default: break;
    }
  });
});

// --- Reply editor: insert a knowledge-base article (its public link or its text) ---------
// The form carries the article's id (name "articles"): the ticket records the articles a
// sent reply still contains, and the knowledge base counts them.
document.addEventListener("click", (event) => {
  const button = event.target.closest(".insert-article");
  if (!button) return;
  const editor = document.getElementById("reply-body");
  if (!editor) return;
  const text = button.dataset.text;
  editor.value = editor.value.trimEnd() ? `${editor.value.trimEnd()}\n\n${text}` : text;
  const form = editor.form;
  const id = button.dataset.articleId;
  if (form && id && !form.querySelector(`input[name="articles"][value="${CSS.escape(id)}"]`)) {
    const input = document.createElement("input");
    Object.assign(input, { type: "hidden", name: "articles", value: id });
    form.append(input);
  }
  editor.dispatchEvent(new Event("input", { bubbles: true }));
  editor.focus();
});

// --- Relative times ("5 minutes ago") for <time class="relative">; the server sends dates --
document.addEventListener("DOMContentLoaded", () => {
  const format = new Intl.RelativeTimeFormat(document.documentElement.lang || "en", { numeric: "auto" });
  const steps = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400], ["hour", 3600], ["minute", 60]];
  const render = () => document.querySelectorAll("time.relative[datetime]").forEach((node) => {
    const seconds = (new Date(node.getAttribute("datetime")) - Date.now()) / 1000;
    const [unit, size] = steps.find(([, s]) => Math.abs(seconds) >= s) || ["second", 1];
    node.title = node.title || node.textContent;
    node.textContent = format.format(Math.round(seconds / size), unit);
  });
  render();
  document.body.addEventListener("htmx:afterSwap", render);
});

// --- Destructive forms ask first: <form data-confirm="Delete …?"> ------------------------
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
}, true);

// A bulk merge cannot be undone: it names the ticket the others go into and asks first.
document.addEventListener("submit", (event) => {
  const action = event.target.querySelector && event.target.querySelector("#bulk-action");
  if (!action || action.value !== "merge") return;
  const chosen = [...event.target.querySelectorAll("input[name=tickets]:checked")].map((box) => box.value);
  if (chosen.length < 2) return;
  const others = chosen.slice(1).map((n) => `#${n}`).join(", ");
  if (!window.confirm(`Merge ${others} into #${chosen[0]}? This cannot be undone.`)) event.preventDefault();
}, true);

// The ticket sidebar remembers how it was shown, so saving sends only what this agent
// changed and never puts back what another agent saved meanwhile (tickets/views/ticket.py).
const rememberSidebar = () => {
  const form = document.getElementById("fields-form");
  const original = form && form.querySelector("input[name=original]");
  if (!original || original.value) return;
  const shown = new URLSearchParams();
  for (const [name, value] of new FormData(form)) {
    if (name !== "csrfmiddlewaretoken" && name !== "original") shown.append(name, value);
  }
  original.value = shown.toString();
};
document.addEventListener("DOMContentLoaded", rememberSidebar);
document.addEventListener("htmx:load", rememberSidebar);

// --- Copy buttons: <button data-copy="#field"> copies that field's value (or text) ---------
document.addEventListener("click", (event) => {
  const button = event.target.closest && event.target.closest("button[data-copy]");
  if (!button) return;
  const source = document.querySelector(button.dataset.copy);
  if (!source) return;
  const text = "value" in source ? source.value : source.textContent.trim();
  const label = button.dataset.label || button.textContent;
  button.dataset.label = label;
  const said = (word) => {
    button.textContent = word;
    window.setTimeout(() => { button.textContent = label; }, 2000);
  };
  const byHand = () => {
    // No clipboard API (a page not served securely): select it, so Ctrl+C copies it.
    if (source.select) source.select();
    else window.getSelection().selectAllChildren(source);
    said(document.execCommand && document.execCommand("copy") ? "Copied" : "Selected");
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(() => said("Copied"), byHand);
  } else {
    byHand();
  }
});
