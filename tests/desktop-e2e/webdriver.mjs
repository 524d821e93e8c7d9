// A minimal W3C WebDriver client (Node's fetch): enough to drive the Tauri window through tauri-driver without
// pulling a browser-automation framework and its driver downloads.

export class WebDriver {
  constructor(base = "http://127.0.0.1:4444") {
    this.base = base;
    this.id = null;
  }

  async cmd(method, path, body) {
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json().catch(() => ({}));
    if (!res.ok || (json.value && json.value.error)) {
      const v = json.value || {};
      throw new Error(`WebDriver ${method} ${path}: ${v.error || res.status} ${v.message || ""}`);
    }
    return json.value;
  }

  s(path) {
    return `/session/${this.id}${path}`;
  }

  async start(application) {
    const v = await this.cmd("POST", "/session", {
      capabilities: { alwaysMatch: { browserName: "wry", "tauri:options": { application } } },
    });
    this.id = v.sessionId;
    return v;
  }

  async end() {
    if (this.id) await this.cmd("DELETE", `/session/${this.id}`).catch(() => {});
    this.id = null;
  }

  exec(script, args = []) {
    return this.cmd("POST", this.s("/execute/sync"), { script, args });
  }

  execAsync(script, args = []) {
    return this.cmd("POST", this.s("/execute/async"), { script, args });
  }

  async find(css) {
    const v = await this.cmd("POST", this.s("/element"), { using: "css selector", value: css });
    return Object.values(v)[0];
  }

  async findAll(css) {
    const v = await this.cmd("POST", this.s("/elements"), { using: "css selector", value: css });
    return v.map((e) => Object.values(e)[0]);
  }

  click(el) {
    return this.cmd("POST", this.s(`/element/${el}/click`), {});
  }

  async type(el, text) {
    await this.cmd("POST", this.s(`/element/${el}/clear`), {}).catch(() => {});
    return this.cmd("POST", this.s(`/element/${el}/value`), { text });
  }

  text(el) {
    return this.cmd("GET", this.s(`/element/${el}/text`));
  }

  /** Presses keys (WebDriver key codes, e.g. "\uE004" for Tab, "\uE007" for Enter) on the focused element. */
  keys(...keys) {
    const actions = keys.flatMap((k) => [{ type: "keyDown", value: k }, { type: "keyUp", value: k }]);
    return this.cmd("POST", this.s("/actions"), { actions: [{ type: "key", id: "keyboard", actions }] });
  }

  screenshot() {
    return this.cmd("GET", this.s("/screenshot"));
  }

  title() {
    return this.cmd("GET", this.s("/title"));
  }

  closeWindow() {
    return this.cmd("DELETE", this.s("/window"));
  }

  /** Polls `script` (returning a truthy value when done) until `timeoutMs`. */
  async waitFor(script, what, timeoutMs = 15000, args = []) {
    const end = Date.now() + timeoutMs;
    let last;
    while (Date.now() < end) {
      try {
        last = await this.exec(script, args);
        if (last) return last;
      } catch (e) {
        last = e.message;
      }
      await new Promise((r) => setTimeout(r, 150));
    }
    throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
  }
}
