// Shared by the end-to-end test (run.mjs) and the page-switch benchmark (scripts/bench/pages.mjs).

import net from "node:net";

// A virtual smartcard for vpcd (DESIGN.md, "pcscd and virtual cards"): a TCP client of the reader's port; frames
// are a 2-byte big-endian length then the payload; 1-byte frames are control (04 = send the ATR).
export function virtualCard(port, atrHex) {
  const atr = Buffer.from(atrHex.replace(/\s+/g, ""), "hex");
  // What happened, for the failure message: whether vpcd accepted us and asked for the ATR.
  const card = { connected: false, atrSent: 0, lastError: "", destroyed: false, sock: null };
  const connect = () => {
    if (card.destroyed) return;
    const sock = net.connect(port, "127.0.0.1");
    card.sock = sock;
    let buf = Buffer.alloc(0);
    const send = (payload) => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(payload.length);
      sock.write(Buffer.concat([len, payload]));
    };
    sock.on("connect", () => (card.connected = true));
    sock.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const n = buf.readUInt16BE(0);
        const frame = buf.subarray(2, 2 + n);
        buf = buf.subarray(2 + n);
        if (n === 1) {
          if (frame[0] === 4) {
            card.atrSent += 1;
            send(atr);
          }
        } else send(Buffer.from([0x6d, 0x00]));
      }
    });
    // vpcd listens only while pcscd runs its reader: retry until it accepts (or the test removes the card).
    sock.on("error", (e) => (card.lastError = e.code ?? e.message));
    sock.on("close", () => {
      if (!card.destroyed && !card.connected) setTimeout(connect, 200);
    });
  };
  connect();
  card.destroy = () => {
    card.destroyed = true;
    card.sock?.destroy();
  };
  card.describe = () => `vpcd port ${port}: ${card.connected ? "connected" : "never connected"}, ATR sent ${card.atrSent} time(s)${card.lastError ? `, last error ${card.lastError}` : ""}`;
  return card;
}
