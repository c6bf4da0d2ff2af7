// The reply editor (templates/tickets/editor.html): a Markdown toolbar, pictures pasted or
// dropped into the text, @mention autocomplete in notes, and the preview. Our own code, no
// library; everything is delegated from the document because htmx swaps the editor's text
// box (a canned response) and the whole conversation (after a send).
(() => {
  const textOf = (target) => target.closest("[data-editor]")?.querySelector("[data-editor-text]");

  // Wrap the selection in `before`/`after`, or insert them around a placeholder.
  const wrap = (box, before, after, placeholder) => {
    const start = box.selectionStart;
    const end = box.selectionEnd;
    const chosen = box.value.slice(start, end) || placeholder;
    box.setRangeText(before + chosen + after, start, end, "end");
    box.setSelectionRange(start + before.length, start + before.length + chosen.length);
    box.dispatchEvent(new Event("input", { bubbles: true }));
    box.focus();
  };

  // Prefix every selected line (lists, quotes), starting on a line of its own.
  const prefixLines = (box, prefixFor) => {
    const text = box.value;
    const start = text.lastIndexOf("\n", box.selectionStart - 1) + 1;
    let end = text.indexOf("\n", box.selectionEnd);
    if (end === -1) end = text.length;
    const lines = text.slice(start, end).split("\n");
    const block = lines.map((line, i) => prefixFor(i) + line).join("\n");
    const gap = start > 0 && text[start - 2] !== "\n" && text.slice(0, start).trim() ? "\n" : "";
    box.setRangeText(gap + block, start, end, "end");
    box.dispatchEvent(new Event("input", { bubbles: true }));
    box.focus();
  };

  const FORMATS = {
    bold: (box) => wrap(box, "**", "**", "bold text"),
    italic: (box) => wrap(box, "_", "_", "italic text"),
    code: (box) => {
      const chosen = box.value.slice(box.selectionStart, box.selectionEnd);
      if (chosen.includes("\n")) wrap(box, "\n```\n", "\n```\n", "");
      else wrap(box, "`", "`", "code");
    },
    link: (box) => {
      const chosen = box.value.slice(box.selectionStart, box.selectionEnd);
      if (/^https?:\/\/\S+$/.test(chosen)) wrap(box, "[link text](", ")", "");
      else wrap(box, "[", "](https://)", "link text");
    },
    bullets: (box) => prefixLines(box, () => "- "),
    numbers: (box) => prefixLines(box, (i) => `${i + 1}. `),
    quote: (box) => prefixLines(box, () => "> "),
  };

  document.addEventListener("click", (event) => {
    const tool = event.target.closest("[data-format]");
    if (tool) {
      const box = textOf(tool);
      if (box && FORMATS[tool.dataset.format]) FORMATS[tool.dataset.format](box);
      return;
    }
    const preview = event.target.closest("[data-preview]");
    if (preview) {
      // The button toggles: on, htmx fetches the preview into the panel; off, back to writing.
      const panel = document.getElementById(`${textOf(preview).id}-preview`);
      const showing = preview.getAttribute("aria-pressed") === "true";
      preview.setAttribute("aria-pressed", String(!showing));
      panel.hidden = showing;
      if (showing) event.stopImmediatePropagation();
    }
  }, true);

  document.addEventListener("keydown", (event) => {
    const box = event.target.closest?.("[data-editor-text]");
    if (!box) return;
    if (mentionKeys(box, event)) return;
    if (!(event.ctrlKey || event.metaKey) || event.altKey) return;
    const key = event.key.toLowerCase();
    const format = { b: "bold", i: "italic", k: "link" }[key];
    if (format) {
      event.preventDefault();
      FORMATS[format](box);
    }
  }, true); // before the page's own keys (Enter in the mention list must not send)

  // --- Pictures: pasted or dropped into the text ---------------------------------------
  // A refused send (a bad Cc, a reply that crossed the customer's) comes back with the
  // text still naming its pictures, but no server can fill a file input again: each
  // picture is kept by name, in memory and in this tab's sessionStorage (a refused New
  // ticket form is a whole new page), and put back into the picture input of any editor
  // whose text still names it. Pictures no editor names any more are forgotten.
  const pictures = new Map();
  const STORED = "editor-picture:";
  const keepPicture = (file) => {
    pictures.set(file.name, file);
    const reader = new FileReader();
    reader.onload = () => {
      try {
        sessionStorage.setItem(STORED + file.name, reader.result);
      } catch {
        // Over the storage quota: kept in memory only, which an htmx send still finds.
      }
    };
    reader.readAsDataURL(file);
  };
  const storedPicture = (name) => {
    const url = sessionStorage.getItem(STORED + name);
    const match = url && /^data:([^;,]+);base64,(.*)$/.exec(url);
    if (!match) return null;
    const bytes = Uint8Array.from(atob(match[2]), (c) => c.charCodeAt(0));
    return new File([bytes], name, { type: match[1] });
  };
  const restorePictures = () => {
    const named = new Set();
    document.querySelectorAll("[data-editor-text]").forEach((box) => {
      const input = document.getElementById(`${box.id}-images`);
      if (!input) return;
      const names = [...box.value.matchAll(/\]\(cid:(pasted-[\w.-]+)\)/g)].map((m) => m[1]);
      names.forEach((name) => named.add(name));
      const present = new Set([...input.files].map((file) => file.name));
      const missing = names.filter((name) => !present.has(name));
      if (!missing.length) return;
      const files = new DataTransfer();
      [...input.files].forEach((file) => files.items.add(file));
      missing.forEach((name) => {
        const file = pictures.get(name) || storedPicture(name);
        if (file) files.items.add(file);
      });
      input.files = files.files;
    });
    [...pictures.keys()].filter((name) => !named.has(name)).forEach((name) => pictures.delete(name));
    Object.keys(sessionStorage)
      .filter((key) => key.startsWith(STORED) && !named.has(key.slice(STORED.length)))
      .forEach((key) => sessionStorage.removeItem(key));
  };
  // After every htmx swap (the conversation after a send, refused or not) and on each page.
  document.addEventListener("htmx:load", restorePictures);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", restorePictures);
  else restorePictures();
  let pasted = 0;
  const addPictures = (box, files) => {
    const input = document.getElementById(`${box.id}-images`);
    if (!input) return false;
    const images = [...files].filter((file) => file.type.startsWith("image/"));
    if (!images.length) return false;
    const kept = new DataTransfer();
    [...input.files].forEach((file) => kept.items.add(file));
    const references = images.map((file) => {
      pasted += 1;
      const extension = (file.type.split("/")[1] || "png").replace(/[^a-z0-9]/gi, "").slice(0, 5);
      const name = `pasted-${Date.now().toString(36)}-${pasted}.${extension}`;
      const picture = new File([file], name, { type: file.type });
      kept.items.add(picture);
      keepPicture(picture);
      return `![${name}](cid:${name})`;
    });
    input.files = kept.files;
    box.setRangeText(references.join("\n"), box.selectionStart, box.selectionEnd, "end");
    box.dispatchEvent(new Event("input", { bubbles: true }));
    return true;
  };
  const addAttachments = (box, files) => {
    const input = box.form?.querySelector("input[type=file][name=attachments]");
    const others = [...files].filter((file) => !file.type.startsWith("image/"));
    if (!input || !others.length) return;
    const kept = new DataTransfer();
    [...input.files, ...others].forEach((file) => kept.items.add(file));
    input.files = kept.files;
  };
  document.addEventListener("paste", (event) => {
    const box = event.target.closest?.("[data-editor-text]");
    const files = event.clipboardData?.files;
    if (box && files && files.length && addPictures(box, files)) event.preventDefault();
  });
  document.addEventListener("dragover", (event) => {
    if (event.target.closest?.("[data-editor-text]")) event.preventDefault();
  });
  document.addEventListener("drop", (event) => {
    const box = event.target.closest?.("[data-editor-text]");
    const files = event.dataTransfer?.files;
    if (!box || !files || !files.length) return;
    event.preventDefault();
    box.focus();
    addPictures(box, files);
    addAttachments(box, files);
  });

  // --- @mentions in notes ----------------------------------------------------------------
  const isNote = (box) => {
    const note = box.form?.querySelector("input[name=kind][value=note]");
    return note ? note.checked : false;
  };
  const mentionAt = (box) => {
    const before = box.value.slice(0, box.selectionStart);
    const match = /(^|\s)@([\w.-]*)$/.exec(before);
    return match ? { query: match[2].toLowerCase(), start: box.selectionStart - match[2].length - 1 } : null;
  };
  const listOf = (box) => document.getElementById(`${box.id}-mentions`);
  const closeMentions = (box) => {
    const list = listOf(box);
    if (list) {
      list.hidden = true;
      list.replaceChildren();
    }
  };
  const choose = (box, option) => {
    const at = mentionAt(box);
    if (!at) return closeMentions(box);
    box.setRangeText(`@${option.dataset.handle} `, at.start, box.selectionStart, "end");
    closeMentions(box);
    box.focus();
  };
  document.addEventListener("input", (event) => {
    const box = event.target.closest?.("[data-editor-text]");
    if (!box) return;
    const list = listOf(box);
    const people = document.getElementById(`${box.id}-people`);
    const at = isNote(box) ? mentionAt(box) : null;
    if (!list || !people || !at) return closeMentions(box);
    const found = [...people.content.querySelectorAll("li")]
      .filter((li) => li.dataset.handle.toLowerCase().startsWith(at.query)
        || li.textContent.toLowerCase().split(/\s+/).some((word) => word.startsWith(at.query)))
      .slice(0, 8)
      .map((li) => li.cloneNode(true));
    if (!found.length) return closeMentions(box);
    found[0].setAttribute("aria-selected", "true");
    list.replaceChildren(...found);
    list.hidden = false;
  });
  const mentionKeys = (box, event) => {
    const list = listOf(box);
    if (!list || list.hidden) return false;
    const options = [...list.children];
    const current = options.findIndex((o) => o.getAttribute("aria-selected") === "true");
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const next = (current + (event.key === "ArrowDown" ? 1 : -1) + options.length) % options.length;
      options.forEach((o, i) => o.setAttribute("aria-selected", String(i === next)));
      return true;
    }
    if (event.key === "Enter" || event.key === "Tab") {
      event.preventDefault();
      event.stopPropagation();
      choose(box, options[Math.max(current, 0)]);
      return true;
    }
    if (event.key === "Escape") {
      event.stopPropagation();
      closeMentions(box);
      return true;
    }
    return false;
  };
  document.addEventListener("mousedown", (event) => {
    const option = event.target.closest(".mention-list [data-handle]");
    if (!option) return;
    event.preventDefault(); // keep the caret in the text box
    const box = document.getElementById(option.parentElement.id.replace(/-mentions$/, ""));
    if (box) choose(box, option);
  });

  // Enter in the "add follower" box adds them; it must not send the reply around it.
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.target.id !== "follower-add") return;
    event.preventDefault();
    document.getElementById("follower-add-button")?.click();
  });
})();
