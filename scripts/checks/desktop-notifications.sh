#!/usr/bin/env bash
# Desktop notifications as the desktop receives them (issue 6): a real notification server (dunst) owns
# org.freedesktop.Notifications on the test session's bus under Xvfb, dbus-monitor records every Notify call and its
# arguments, and the real trousseau-desktop (started in the tray, TROUSSEAU_HOME in a temporary directory) must send,
# in French:
#   - "Carte insérée" / "Carte retirée" for a vpcd virtual card (pcscd with vsmartcard-vpcd);
#   - "Trousseau est connecté" / "Trousseau est déconnecté" for the channel to the reference portal (sandbox paired
#     through the CLI, then stopped);
#   - "Certificat bientôt expiré" at J-30 and at J-5 for store certificates with their key (NSS database);
#   - "Certificat à retirer" for a pending request 2 days before its withdrawal deadline (a real vault entry made
#     8 days ago with libfaketime: IGC-Santé gives 10 days);
#   - "Exercice des bi-clés": paired and no backup-key drill yet (monthly by default);
# each reminder once: a restart sends none again (data/reminders.json), while the card still notifies. With the
# setting off (desktop.json "notifications": false) nothing reaches the server; switched back on, it does again.
# dunst's own history is read at the end as a second witness. Run inside scripts/in-session.sh (a session bus).
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${TROUSSEAU_NOTIFY_XVFB:-}" ]; then
  [ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ] || { echo "no session bus: run inside scripts/in-session.sh" >&2; exit 1; }
  for tool in dunst dunstctl dbus-monitor faketime xvfb-run; do
    command -v "$tool" >/dev/null 2>&1 || { echo "$tool missing: run scripts/deps.sh test" >&2; exit 1; }
  done
  exec env TROUSSEAU_NOTIFY_XVFB=1 xvfb-run -a -s "-screen 0 1024x768x24" bash "$0" "$@"
fi
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
[ -f ui/dist/index.html ] || (cd ui && { [ -d node_modules ] || npm install --no-audit --no-fund; } && npm run build)
# The same build as desktop-e2e.sh (no other feature set, so nothing is compiled twice); the CLI when missing.
cargo build --locked -p trousseau-desktop -p trousseau-sandbox
target=${CARGO_TARGET_DIR:-$PWD/target}/debug
[ -x "$target/trousseau" ] || cargo build --locked -p trousseau --bin trousseau
t0=$(date +%s)

work=$(mktemp -d /tmp/trousseau-notifications.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL desktop notifications: $*" >&2
  echo "-- notifications received (summary | body):" >&2
  { [ -f "$work/bus.log" ] && notes >&2; } || true
  echo "-- app log (last lines):" >&2
  tail -n 30 "$work/app.log" >&2 2>/dev/null || true
  exit 1
}
ok() { echo "ok   $* ($(($(date +%s) - t0)) s)"; }
# Nothing may hang the test session: every command below is bounded, and a watchdog fails the check after 180 s.
( trap 'kill "$nap" 2>/dev/null; exit 0' TERM; sleep 180 & nap=$!; wait "$nap"; kill -USR1 $$ ) 2>/dev/null &
pids+=("$!")
trap 'fail "no result within 180 s"' USR1
cli() { timeout 60 "$target/trousseau" "$@"; }

mkdir -p "$work/home/config" "$work/nssdb"
export TROUSSEAU_HOME=$work/home TROUSSEAU_NSSDB=$work/nssdb TROUSSEAU_LANG=fr TROUSSEAU_PKCS11_SYSTEM=0
certutil -N -d "sql:$work/nssdb" --empty-password

# pcscd with vpcd's readers; the card goes into the first reader ("Virtual PCD 00 00", TCP 35963).
pcscd_pid=$(bash scripts/pcscd-up.sh --wait-readers 2)
[ -n "$pcscd_pid" ] && pids+=("$pcscd_pid")
READER="Virtual PCD 00 00"
cat > "$work/vcard.py" <<'PY'
# A virtual card on vpcd's socket (DESIGN.md "pcscd and virtual cards"): connected = inserted; killed = removed.
# vpcd listens only while pcscd runs the reader: connect again whenever pcscd (re)starts.
import socket, struct, sys, time
atr = bytes.fromhex(sys.argv[2])
def read(s, n):
    b = b""
    while len(b) < n:
        chunk = s.recv(n - len(b))
        if not chunk:
            raise OSError("closed")
        b += chunk
    return b
while True:
    try:
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
        while True:
            frame = read(s, struct.unpack(">H", read(s, 2))[0])
            if len(frame) == 1 and frame[0] == 4:
                s.sendall(struct.pack(">H", len(atr)) + atr)
            elif len(frame) > 1:
                s.sendall(b"\x00\x02\x6d\x00")
    except OSError:
        time.sleep(0.2)
PY
card_pid=""
card_in() {
  # Others on this machine may stop the pcscd this check found running: make sure one runs (and stop ours at the end).
  local p
  p=$(bash scripts/pcscd-up.sh --wait-readers 2) || fail "pcscd with vpcd's readers is not available"
  [ -n "$p" ] && pids+=("$p")
  python3 "$work/vcard.py" 35963 3B7F96000080318065B085050011120FFF829000 &
  card_pid=$!
  pids+=("$card_pid")
}
card_out() { kill "$card_pid" 2>/dev/null || true; wait "$card_pid" 2>/dev/null || true; }

# Store certificates with their keys: one expiring in 20 days (J-30), one in 4 days (J-5).
for spec in "Agent Trente:20" "Agent Cinq:4"; do
  name=${spec%:*} days=${spec#*:}
  printf 'Notif-%s!' "$(openssl rand -hex 6)" > "$work/pw"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" -days "$days" \
    -subj "/CN=$name/O=Trousseau/C=LU" -addext "keyUsage=digitalSignature,keyEncipherment" 2>/dev/null
  openssl pkcs12 -export -inkey "$work/key.pem" -in "$work/cert.pem" -name "$name" -out "$work/c.p12" \
    -passout "file:$work/pw"
  cli p12 import --password-stdin "$work/c.p12" < "$work/pw" >/dev/null
done
rm -f "$work/pw" "$work/key.pem"
# A pending IGC-Santé request made 8 days ago: its 10-day withdrawal deadline is 2 days away.
# Only the wall clock moves back (a monotonic clock 8 days in the past would upset timers).
FAKETIME_DONT_FAKE_MONOTONIC=1 timeout 60 faketime -f '-8d' "$target/trousseau" csr new --profile igc-sante --offer PS --usage AUTH --cn 810012345678 \
  --sn Dupont --gn Jeanne --title Médecin --upn jeanne.dupont@sante.fr --out "$work/demande.csr" >/dev/null
left=$(cli pending list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["days_left"])')
[ "$left" = 2 ] || fail "the pending request has $left day(s) left, expected 2"

# The reference portal on a free port, paired through the CLI and approved by script.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
PORTAL="Portail de test (notifications)"
printf '{"portals":[{"name":"%s","url":"%s"}]}\n' "$PORTAL" "$url" > "$work/home/config/portals.json"
settings() {
  printf '{"lang":"fr","autostart":false,"notifications":%s,"pkcs11_modules":[],"portals":[]}\n' "$1" \
    > "$work/home/config/desktop.json"
}
settings true
sandbox_pid=""
sandbox_up() {
  "$target/trousseau-sandbox" serve --listen "127.0.0.1:$port" --db "$work/sandbox.sqlite" >>"$work/sandbox.log" 2>&1 &
  sandbox_pid=$!
  pids+=("$sandbox_pid")
  for _ in $(seq 100); do curl -fsS -o /dev/null "$url/" 2>/dev/null && return 0; sleep 0.1; done
  fail "the sandbox did not answer on $url"
}
sandbox_down() { kill "$sandbox_pid" 2>/dev/null || true; wait "$sandbox_pid" 2>/dev/null || true; }
pair() { # `trousseau portal pair` in a shell, approved by script
  cli --json portal pair "$url" --device-name poste-notifications > "$work/pair.out" 2>"$work/pair.err" &
  local pair_pid=$! code=""
  pids+=("$pair_pid")
  for _ in $(seq 100); do
    code=$(head -n1 "$work/pair.out" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["user_code"])' 2>/dev/null) && break
    sleep 0.1
  done
  [ -n "$code" ] || fail "no pairing code: $(cat "$work/pair.err")"
  timeout 30 "$target/trousseau-sandbox" approve "$code" --agent jean.dupont --db "$work/sandbox.sqlite" >/dev/null
  for _ in $(seq 300); do kill -0 "$pair_pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pair_pid" 2>/dev/null && fail "pairing did not complete within 30 s of the approval"
  wait "$pair_pid" || fail "pairing did not complete: $(cat "$work/pair.err")"
}
sandbox_up
pair
ok "fixtures: 2 certificates (J-30, J-5), a request 2 days from its deadline, paired with $url"

# The notification server, and a recorder of every call made to it.
cat > "$work/dunstrc" <<'RC'
[global]
    monitor = 0
    follow = none
    notification_limit = 0
    stack_duplicates = false
    history_length = 100
    sticky_history = yes
    font = Monospace 8
RC
dbus-monitor --session "interface='org.freedesktop.Notifications'" > "$work/bus.log" 2>&1 &
pids+=("$!")
dunst -config "$work/dunstrc" > "$work/dunst.log" 2>&1 &
pids+=("$!")
owner() {
  dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.GetNameOwner string:org.freedesktop.Notifications >/dev/null 2>&1
}
for _ in $(seq 100); do owner && break; sleep 0.1; done
owner || fail "dunst did not take org.freedesktop.Notifications: $(cat "$work/dunst.log")"
# The recorder is ready once it has seen this call (which also names the server).
for _ in $(seq 50); do
  dbus-send --session --print-reply --dest=org.freedesktop.Notifications /org/freedesktop/Notifications \
    org.freedesktop.Notifications.GetServerInformation > "$work/server.txt"
  grep -q "member=GetServerInformation" "$work/bus.log" && break
  sleep 0.1
done
grep -q "member=GetServerInformation" "$work/bus.log" || fail "dbus-monitor records nothing"
grep -q '"dunst"' "$work/server.txt" || fail "the notification server is not dunst: $(cat "$work/server.txt")"

# Every Notify call seen on the bus, one line each: "summary | body".
cat > "$work/notes.py" <<'PY'
import re, sys
calls, cur = [], None
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    if not line.startswith(" "):
        cur = None
        if "member=Notify" in line and line.startswith("method call"):
            cur = []
            calls.append(cur)
        continue
    m = re.match(r'^   string "(.*)"$', line.rstrip("\n"))
    if cur is not None and m:
        cur.append(m.group(1))
for c in calls:  # app_name, app_icon, summary, body are the call's first top-level strings
    print(f"{c[2]} | {c[3]}" if len(c) >= 4 else f"(unreadable call: {c})")
PY
notes() { python3 "$work/notes.py" "$work/bus.log"; }
count() { notes | grep -cE "$1" || true; }
wait_count() { # REGEX N SECONDS WHAT
  local deadline=$(($(date +%s) + $3))
  while [ "$(count "$1")" -lt "$2" ]; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "$4: expected $2 notification(s) matching /$1/ within $3 s"
    sleep 0.1
  done
}
expect_count() { # REGEX N WHAT
  local n
  n=$(count "$1")
  [ "$n" = "$2" ] || fail "$3: $n notification(s) match /$1/, expected $2"
}

app_pid=""
app_start() { # [--tray]
  : > "$work/app.log"
  "$target/trousseau-desktop" "$@" >> "$work/app.log" 2>&1 &
  app_pid=$!
  pids+=("$app_pid")
  local deadline=$(($(date +%s) + 30))
  until grep -q "reminders: " "$work/app.log"; do
    kill -0 "$app_pid" 2>/dev/null || fail "trousseau-desktop exited"
    [ "$(date +%s)" -lt "$deadline" ] || fail "trousseau-desktop did not check its reminders within 30 s"
    sleep 0.1
  done
}
app_stop() { kill "$app_pid" 2>/dev/null || true; wait "$app_pid" 2>/dev/null || true; }

J30='^Certificat bientôt expiré \| Le certificat de Agent Trente \(Agent Trente\) expire dans (19|20) jour\(s\) : pensez à le renouveler\.$'
J5='^Certificat bientôt expiré \| Le certificat de Agent Cinq \(Agent Cinq\) expire dans [34] jour\(s\) : pensez à le renouveler\.$'
PENDING='^Certificat à retirer \| Jeanne Dupont .*: plus que 2 jour\(s\) pour retirer le certificat, sinon la demande est perdue\.$'
DRILL='^Exercice des bi-clés \| Vérifiez que vos bi-clés \(personnel et de secours\) ouvrent toujours les plis'
PORTAL_RE=${PORTAL//[()]/.}
CONNECTED="^Trousseau est connecté \| Le portail $PORTAL_RE voit votre assistant : « Connecté »\.$"
DISCONNECTED="^Trousseau est déconnecté \| La liaison avec $PORTAL_RE est coupée ; Trousseau réessaie automatiquement\."
INSERTED="^Carte insérée \| LuxTrust.* dans $READER$"
REMOVED="^Carte retirée \| LuxTrust.* retirée de $READER$"

# 1. First start, with the window (as a user starts it: the window checks the reminders too), then as autostart
# does (in the tray): the reminders, the portal connected, a card in and out, the portal gone.
app_start
wait_count "$J30" 1 10 "J-30 reminder"
wait_count "$J5" 1 10 "J-5 reminder"
wait_count "$PENDING" 1 10 "pending request reminder"
wait_count "$DRILL" 1 10 "bi-clé drill reminder (paired, no drill yet)"
wait_count "$CONNECTED" 1 20 "portal connected"
ok "reminders J-30, J-5, pending request, bi-clé drill, and portal connected"
card_in
wait_count "$INSERTED" 1 20 "card inserted"
card_out
wait_count "$REMOVED" 1 20 "card removed"
ok "card inserted, then removed"
sandbox_down
wait_count "$DISCONNECTED" 1 20 "portal disconnected"
sleep 2 # the channel keeps retrying: still one "déconnecté", and no second "connecté"
expect_count "$DISCONNECTED" 1 "portal disconnected"
expect_count "$CONNECTED" 1 "portal connected"
ok "portal disconnected when the sandbox stopped"
app_stop
first=$(notes | wc -l)
[ "$first" = 8 ] || fail "first run: $first notifications, expected 8"

# 2. Restart: the reminders are not sent again (reminders.json); the app still notifies (a card).
app_start --tray
card_in
wait_count "$INSERTED" 2 20 "card inserted after the restart"
card_out
wait_count "$REMOVED" 2 20 "card removed after the restart"
app_stop
for re in "$J30" "$J5" "$PENDING" "$DRILL"; do expect_count "$re" 1 "reminder after a restart"; done
[ "$(notes | wc -l)" = $((first + 2)) ] || fail "after the restart: expected only the card's 2 notifications"
ok "restart: no reminder sent twice; the card still notified"

# 3. Setting off: reminders due again (reminders.json removed), portal back, a card inserted — nothing is sent.
settings false
rm -f "$work/home/data/reminders.json"
sandbox_up
before=$(notes | wc -l)
app_start --tray
grep -q "reminders: notifications are off" "$work/app.log" || fail "the app did not read the setting off"
# Meanwhile the portal came back (the channel state the app publishes, read by `trousseau status`) and the card went
# in (pcscd lists it); the app's own view of the card shows below: its removal is notified once the setting is on.
status_has() { # PYTHON-EXPRESSION on the status JSON `s`
  cli status --json > "$work/status.json" 2>/dev/null || true
  python3 -c "import json,sys; s=json.load(open(sys.argv[1])); sys.exit(0 if ($1) else 1)" "$work/status.json" 2>/dev/null
}
waited=0
until status_has 's["portal"]["connected"]'; do
  [ $((waited += 1)) -le 100 ] || fail "setting off: the app did not connect to the portal"
  sleep 0.2
done
card_in
waited=0
until status_has "any(r['name'] == '$READER' and r['card'] for r in s['readers'])"; do
  [ $((waited += 1)) -le 100 ] || fail "setting off: pcscd does not list the card"
  sleep 0.2
done
sleep 1.5 # pcscd saw it: the app's card monitor (same pcscd event) has had ample time
[ "$(notes | wc -l)" = "$before" ] || fail "setting off: notifications were sent"
[ ! -e "$work/home/data/reminders.json" ] || fail "setting off: reminders were recorded as shown"
# Switched back on (read at each event): the card's removal is notified, and only it.
settings true
card_out
wait_count "$REMOVED" 3 20 "card removed with the setting back on"
sleep 1
[ "$(notes | wc -l)" = $((before + 1)) ] || fail "setting back on: expected only the card's removal"
app_stop
ok "setting off: nothing sent; back on: notified again"

# Second witness: dunst's own history holds what it displayed.
timeout 10 dunstctl close-all
sleep 0.3
timeout 10 dunstctl history > "$work/history.json"
python3 - "$work/history.json" <<'PY' || fail "dunst's history does not hold the notifications"
import json, sys
h = json.load(open(sys.argv[1]))["data"][0]
summaries = [n["summary"]["data"] for n in h]
want = {"Certificat bientôt expiré": 2, "Certificat à retirer": 1, "Exercice des bi-clés": 1, "Trousseau est connecté": 1,
        "Trousseau est déconnecté": 1, "Carte insérée": 2, "Carte retirée": 3}
for s, n in want.items():
    if summaries.count(s) != n:
        sys.exit(f"dunst history: {summaries.count(s)} × {s!r}, expected {n}; all: {summaries}")
if len(summaries) != sum(want.values()):
    sys.exit(f"dunst history: {len(summaries)} notifications, expected {sum(want.values())}: {summaries}")
PY
# 4. A pairing removed and made again in a shell while the app runs in the tray (issue 11): the app follows the
# pairing file and connects with the new pairing within seconds, without a restart.
app_start --tray
waited=0
until status_has 's["portal"]["connected"]'; do
  [ $((waited += 1)) -le 100 ] || fail "pairing from a shell: the app did not connect first"
  sleep 0.2
done
connected_before=$(count "$CONNECTED")
cli portal unpair >/dev/null 2>&1 || fail "portal unpair failed"
pair
paired_at=$(date +%s.%N)
wait_count "$CONNECTED" $((connected_before + 1)) 10 "connected after pairing from a shell while the app runs"
picked=$(python3 -c "import time; print(f'{time.time() - $paired_at:.1f}')")
app_stop
ok "pairing made in a shell while the app runs: the app connected $picked s after the pairing"

echo "desktop notifications: $(notes | wc -l) notifications received by dunst, all in French, in $(($(date +%s) - t0)) s"
notes | sed 's/^/    /'
