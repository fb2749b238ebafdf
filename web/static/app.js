// A read-only tree browser over the REST API. The full explorer (live
// updates, editing) replaces it.
"use strict";

const api = (route, path) =>
  fetch("/v1/" + route + path.split("/").map(encodeURIComponent).join("/"))
    .then(async (r) => {
      const body = await r.json();
      if (!r.ok) throw new Error(body.error ? body.error.code + ": " + body.error.message : r.statusText);
      return body;
    });

function showError(err) {
  document.getElementById("status").textContent = String(err.message || err);
}

function item(path, name, numChildren) {
  const li = document.createElement("li");
  li.setAttribute("role", "treeitem");
  const b = document.createElement("button");
  b.className = "node";
  b.textContent = name;
  b.setAttribute("aria-label", path);
  const count = document.createElement("span");
  count.className = "count";
  count.textContent = numChildren ? " (" + numChildren + ")" : "";
  b.onclick = () => { select(path, b); if (numChildren) toggle(li, path); };
  li.append(b, count);
  return li;
}

async function toggle(li, path) {
  const open = li.querySelector("ul");
  if (open) { open.remove(); return; }
  try {
    const body = await api("children", path === "/" ? "" : path);
    const ul = document.createElement("ul");
    ul.setAttribute("role", "group");
    for (const c of body.children.map((x) => x)) {
      const child = path === "/" ? "/" + c : path + "/" + c;
      const st = await api("stat", child);
      ul.append(item(child, c, st.stat.numChildren));
    }
    li.append(ul);
  } catch (e) { showError(e); }
}

async function select(path, button) {
  document.querySelectorAll("button.node[aria-current]").forEach((b) => b.removeAttribute("aria-current"));
  if (button) button.setAttribute("aria-current", "true");
  try {
    const body = await api("nodes", path === "/" ? "" : path);
    document.getElementById("path").textContent = path;
    document.getElementById("data").textContent = body.encoding === "utf8" ? body.data : "(base64) " + body.data;
    const table = document.getElementById("stat");
    table.replaceChildren();
    for (const [k, v] of Object.entries(body.stat)) {
      const tr = table.insertRow();
      tr.insertCell().textContent = k;
      tr.insertCell().textContent = (k === "ctime" || k === "mtime") && v ? new Date(v).toISOString() : v;
    }
    location.hash = path;
  } catch (e) { showError(e); }
}

(async () => {
  const tree = document.getElementById("tree");
  const root = item("/", "/", 1);
  tree.append(root);
  await select(location.hash.slice(1) || "/", root.querySelector("button"));
  toggle(root, "/");
})();
