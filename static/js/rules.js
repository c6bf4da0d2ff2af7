// The workflow rules page (/settings/rules/): reorder by drag and drop, and the rule
// builder's rows (add, remove, the operator and value controls that fit the field or
// action). Without this script the page still works: the arrow buttons reorder, and
// "Add condition" / "Remove" are form buttons the server answers.
(() => {
  "use strict";

  const csrf = () => document.body.dataset.csrf || "";
  const vocabularyNode = document.getElementById("rule-vocabulary");
  const vocabulary = vocabularyNode ? JSON.parse(vocabularyNode.textContent) : null;

  // --- Reordering ---------------------------------------------------------------------
  const status = (text) => {
    const node = document.getElementById("rule-order-status");
    if (node) node.textContent = text;
  };

  const ruleIds = (list) => [...list.querySelectorAll("li[data-rule-id]")].map((li) => li.dataset.ruleId);

  const saveOrder = async (list) => {
    const body = new FormData();
    ruleIds(list).forEach((id) => body.append("ids", id));
    status("Saving the order…");
    try {
      const response = await fetch(list.dataset.reorderUrl, {
        method: "POST",
        body,
        headers: { "X-CSRFToken": csrf(), "HX-Request": "true" },
        credentials: "same-origin",
      });
      const text = await response.text();
      if (!response.ok) {
        status(text || "The order could not be saved; reload the page.");
        return;
      }
      const holder = document.createElement("div");
      holder.innerHTML = text;
      const fresh = holder.querySelector("#rule-list");
      if (fresh) {
        list.replaceWith(fresh);
        bindList(fresh);
      }
      status("Order saved.");
    } catch (error) {
      status("The order could not be saved; reload the page.");
    }
  };

  const bindList = (list) => {
    let dragged = null;
    let before = [];
    list.addEventListener("dragstart", (event) => {
      const item = event.target.closest && event.target.closest("li[data-rule-id]");
      if (!item) return;
      dragged = item;
      before = ruleIds(list);
      item.classList.add("dragging");
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", item.dataset.ruleId);
    });
    list.addEventListener("dragover", (event) => {
      if (!dragged) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "move";
      const over = event.target.closest && event.target.closest("li[data-rule-id]");
      if (!over || over === dragged) return;
      const box = over.getBoundingClientRect();
      const after = event.clientY > box.top + box.height / 2;
      list.insertBefore(dragged, after ? over.nextSibling : over);
    });
    list.addEventListener("drop", (event) => {
      if (dragged) event.preventDefault();
    });
    list.addEventListener("dragend", () => {
      if (!dragged) return;
      dragged.classList.remove("dragging");
      dragged = null;
      const after = ruleIds(list);
      if (after.join() !== before.join()) saveOrder(list);
    });
  };

  // --- The rule builder ---------------------------------------------------------------
  const CUSTOM_PREFIX = "custom_fields.";
  const selectKinds = new Set(vocabulary ? vocabulary.select_kinds : []);

  const conditionSpec = (field) => {
    if (!vocabulary || !field) return null;
    if (field.startsWith(CUSTOM_PREFIX)) {
      return { value: "custom", operators: vocabulary.custom_field_operators };
    }
    return vocabulary.conditions.find((spec) => spec.field === field) || null;
  };
  const actionSpec = (action) =>
    (vocabulary && vocabulary.actions.find((spec) => spec.action === action)) || null;

  const choiceOptions = (kind) => {
    const template = document.getElementById(`rule-choice-${kind}`);
    return template ? template.innerHTML : "";
  };

  const element = (tag, attributes) => {
    const node = document.createElement(tag);
    Object.entries(attributes || {}).forEach(([name, value]) => {
      if (value !== null && value !== undefined) node.setAttribute(name, value);
    });
    return node;
  };

  const label = (forId, text) => {
    const node = element("label", { for: forId, class: "visually-hidden" });
    node.textContent = text;
    return node;
  };

  // The value control of a row: a select for ids and choices, a text box otherwise.
  const valueControl = (group, index, kind, multiple, number) => {
    const holder = element("span", { class: "rule-value", "data-role": "value" });
    const id = `${group}-${index}-value`;
    const name = id;
    const what = group === "conditions" ? `Condition ${number} value` : `Action ${number} value`;
    holder.append(label(id, what));
    if (selectKinds.has(kind)) {
      const select = element("select", { id, name });
      if (multiple) select.multiple = true;
      select.innerHTML = choiceOptions(kind);
      holder.append(select);
    } else if (kind === "none") {
      holder.append(element("input", { type: "hidden", id, name, value: "" }));
    } else if (kind === "note") {
      holder.append(element("textarea", { id, name, rows: "3" }));
    } else if (kind === "custom" && group === "actions") {
      const key = element("select", { name: `${group}-${index}-key`, "aria-label": `Action ${number} field` });
      key.innerHTML = choiceOptions("custom_key");
      holder.append(key, element("input", { type: "text", id, name }));
    } else {
      holder.append(element("input", { type: "text", id, name }));
    }
    return holder;
  };

  const rowNumber = (row) => [...row.parentNode.querySelectorAll(".rule-row-edit")].indexOf(row) + 1;

  const refreshCondition = (row, fieldChanged) => {
    const field = row.querySelector('[data-role="field"]').value;
    const operator = row.querySelector('[data-role="operator"]');
    const spec = conditionSpec(field);
    if (fieldChanged) {
      operator.innerHTML = "";
      (spec ? spec.operators : []).forEach((op) => {
        const option = element("option", { value: op.value });
        option.textContent = op.label;
        operator.append(option);
      });
    }
    const chosen = operator.value;
    let kind = spec ? spec.value : "text";
    if (chosen === "is_set" || chosen === "not_set") kind = "none";
    const multiple = chosen === "in" || chosen === "not_in";
    const old = row.querySelector('[data-role="value"]');
    const index = row.dataset.index;
    const keep = old.querySelector("input[type=text]");
    const fresh = valueControl("conditions", index, kind, multiple, rowNumber(row));
    const text = fresh.querySelector("input[type=text]");
    if (keep && text && !fieldChanged) text.value = keep.value;
    old.replaceWith(fresh);
  };

  const refreshAction = (row) => {
    const spec = actionSpec(row.querySelector('[data-role="field"]').value);
    const old = row.querySelector('[data-role="value"]');
    old.replaceWith(valueControl("actions", row.dataset.index, spec ? spec.value : "text", false, rowNumber(row)));
  };

  const nextIndex = (fieldset) =>
    Math.max(-1, ...[...fieldset.querySelectorAll(".rule-row-edit")].map((row) => Number(row.dataset.index))) + 1;

  const newRow = (fieldset, group) => {
    const index = nextIndex(fieldset);
    const row = element("div", { class: "rule-row-edit", "data-group": group, "data-index": String(index) });
    const number = fieldset.querySelectorAll(".rule-row-edit").length + 1;
    const fieldId = group === "conditions" ? `${group}-${index}-field` : `${group}-${index}-action`;
    const field = element("select", { id: fieldId, name: fieldId, "data-role": "field" });
    field.innerHTML = document.getElementById(group === "conditions" ? "rule-condition-fields" : "rule-action-names").innerHTML;
    row.append(label(fieldId, group === "conditions" ? `Condition ${number} field` : `Action ${number}`), field);
    if (group === "conditions") {
      const operatorId = `${group}-${index}-operator`;
      row.append(
        label(operatorId, `Condition ${number} operator`),
        element("select", { id: operatorId, name: operatorId, "data-role": "operator" }),
      );
    }
    row.append(valueControl(group, index, "text", false, number));
    const remove = element("button", {
      type: "submit",
      class: "secondary rule-remove",
      name: "remove",
      value: `${group}-${index}`,
      "aria-label": `Remove ${group === "conditions" ? "condition" : "action"} ${number}`,
    });
    remove.textContent = "Remove";
    row.append(remove);
    const adder = fieldset.querySelector("[data-add]").closest("p");
    fieldset.insertBefore(row, adder);
    field.focus();
    return row;
  };

  const bindBuilder = (form) => {
    form.addEventListener("change", (event) => {
      const row = event.target.closest(".rule-row-edit");
      if (!row) return;
      const role = event.target.dataset.role;
      if (row.dataset.group === "conditions" && (role === "field" || role === "operator")) {
        refreshCondition(row, role === "field");
      } else if (row.dataset.group === "actions" && role === "field") {
        refreshAction(row);
      }
    });
    form.addEventListener("click", (event) => {
      const button = event.target.closest("button");
      if (!button) return;
      if (button.dataset.add) {
        event.preventDefault();
        newRow(button.closest("fieldset"), button.dataset.add);
      } else if (button.name === "remove") {
        event.preventDefault();
        const row = button.closest(".rule-row-edit");
        const fieldset = row.closest("fieldset");
        row.remove();
        if (!fieldset.querySelector(".rule-row-edit")) newRow(fieldset, fieldset.id === "condition-rows" ? "conditions" : "actions");
      }
    });
  };

  document.addEventListener("DOMContentLoaded", () => {
    const list = document.getElementById("rule-list");
    if (list) bindList(list);
    const form = document.getElementById("rule-form");
    if (form && vocabulary) bindBuilder(form);
  });
})();
