// Generated from the command table in src/api/ by ts-rs (`cargo run -p trousseau-desktop -- --write-bindings`). Do not edit.

export type ApiError = { code: string, message: string, };

export type BicleAdd = { 
/**
 * Generate a new RSA-2048 key pair with a self-signed encryption certificate (`CN=designation`), installed in
 * the store, instead of using the certificate `sha256`.
 */
generate: boolean, 
/**
 * A certificate offered by `portal_bicle_candidates`: looked up in the store first, then on the tokens. Only
 * the public certificate is sent to the portal (no PIN is asked).
 */
sha256: string, designation: string, personal: boolean, backup: boolean, };

export type BicleCandidate = { sha256: string, 
/**
 * Holder's name (subject CN), or the subject.
 */
holder: string, 
/**
 * Issuer's short name (issuer CN), or the issuer.
 */
issuer_name: string, 
/**
 * RFC 3339 UTC.
 */
not_after: string, days_left: number, 
/**
 * `store` (the OS certificate store) or `token` (a smartcard or other PKCS#11 token).
 */
source: string, 
/**
 * The token's label when `source` is `token`.
 */
token: string | null, };

export type BicleKind = "personal" | "backup";

export type BicleRef = { id: number, };

export type BicleRow = { id: number, kind: BicleKind, designation: string, cn: string, issuer: string, serial: string, 
/**
 * RFC 3339 UTC.
 */
not_after: string, sha256: string, status: BicleStatus, 
/**
 * Expired certificates cannot decrypt new bids: the window warns.
 */
expired: boolean, };

export type BicleStatus = "actif" | "a_confirmer" | "suppression_a_confirmer" | "supprime";

export type Capabilities = { version: string, cards: boolean, tokens: boolean, store: boolean, pkcs12: boolean, csr: boolean, pending: boolean, portal: boolean, password: boolean, };

export type CardFamily = "luxtrust" | "lux-eid" | "cps3" | "cps4" | "unknown";

export type CardState = { 
/**
 * Uppercase hex.
 */
atr: string, 
/**
 * `luxtrust`, `lux-eid`, `cps3`, `cps4`, `unknown`.
 */
family: CardFamily, name: string, };

export type CertFile = { certificates: Array<CertSummary>, };

export type CertRef = { sha256: string, 
/**
 * Removal only: also forget the certificate's revocation code kept in the keyring (kept when absent).
 */
forget_revocation_code?: boolean, };

export type CertStatusRequest = { target: string, issuer: string | null, };

export type CertSummary = { 
/**
 * Holder's name (subject CN), or the subject when there is no CN.
 */
holder: string, 
/**
 * Issuer's short name (issuer CN), or the issuer.
 */
issuer_name: string, subject: string, issuer: string, serial: string, 
/**
 * RFC 3339 UTC (`…Z`); the window formats it in the user's locale.
 */
not_before: string, not_after: string, 
/**
 * Whole days until expiry (negative once expired).
 */
days_left: number, sha256: string, key_usage: Array<string>, ext_key_usage: Array<string>, encryption_capable: boolean, is_ca: boolean, has_private_key: boolean, };

export type Check = { 
/**
 * Stable identifier (`pcsc.service`, `card.module`…).
 */
id: string, status: CheckStatus, 
/**
 * What was found, in the user's language.
 */
message: string, 
/**
 * What to do, in the user's language (`null` when nothing is to be done).
 */
fix: string | null, };

export type CheckStatus = "ok" | "warn" | "fail" | "skip";

export type CsrResult = { 
/**
 * Vault entry id.
 */
id: string, out: string, subject: string, 
/**
 * Withdrawal deadline (RFC 3339 UTC), when the profile has one.
 */
deadline: string | null, };

export type Dashboard = { capabilities: Capabilities, portal: PortalState, readers: Array<ReaderState>, 
/**
 * Certificates expiring within 30 days (or expired), soonest first.
 */
expiring: Array<CertSummary>, pending: Array<PendingSummary>, 
/**
 * Parts of the summary that could not be read, as errors to show (the rest is still shown).
 */
problems: Array<ApiError>, 
/**
 * The last backup-key drill on this workstation, if any.
 */
drill: DrillLast | null, };

export type DoctorReport = { checks: Array<Check>, };

export type DrillLast = { 
/**
 * RFC 3339 UTC.
 */
checked_at: string, bicles: number, opened: number, all_open: boolean, };

export type DrillOutcome = "opens" | "key_absent" | "expired" | "removed_on_portal" | "failed";

export type DrillRequest = { pin: string | null, };

export type DrillRowView = { id: number, kind: BicleKind, designation: string, outcome: DrillOutcome, reachable: Reachable, token: string | null, error: ApiError | null, };

export type DrillView = { rows: Array<DrillRowView>, last: DrillLast, };

export type EnvelopeKind = "enveloped" | "auth_enveloped";

export type EnvelopeOpenRequest = { path: string, out: string, 
/**
 * Replace an existing file of the same name.
 */
force: boolean, pin: string | null, };

export type EnvelopeOpened = { out: string, size: number, recipient: EnvelopeRecipient, };

export type EnvelopeRecipient = { 
/**
 * Issuer (RFC 4514) and serial (hex), or the subject key identifier.
 */
issuer: string | null, serial: string | null, ski: string | null, 
/**
 * `None` with `unsupported` naming what it is.
 */
key_transport: KeyTransport | null, unsupported: string | null, reachable: Reachable, 
/**
 * Holder's name and the card's label when this workstation has the key.
 */
holder: string | null, token: string | null, };

export type EnvelopeView = { kind: EnvelopeKind, 
/**
 * `aes-256-cbc`, `aes-128-gcm`, `des-ede3-cbc`…
 */
content_cipher: string, encrypted_size: number, recipients: Array<EnvelopeRecipient>, can_open: boolean, };

export type ExportRequest = { sha256: string, path: string, password: string, policy: PasswordPolicy, 
/**
 * 3DES + SHA-1 MAC for older importers (Windows Server ≤ 2016, old macOS) instead of AES-256.
 */
legacy: boolean, 
/**
 * Replace `path` if it exists (the user confirmed); absent means no: the answer is then `file.exists`.
 */
force?: boolean, };

export type FileRequest = { path: string, };

export type GenericRequest = { subject: string, emails: Array<string>, dns: Array<string>, out: string, 
/**
 * Replace `out` if it exists (the user confirmed); absent means no.
 */
force?: boolean, };

export type IgcCheck = { fields: Array<IgcField>, 
/**
 * In the form's order; empty when the request can be made.
 */
problems: Array<IgcProblem>, };

export type IgcCheckRequest = { offer: IgcOffer, usage: IgcUsage, cn: string | null, sn: string | null, gn: string | null, title: string | null, ou: string | null, o: string | null, st: string | null, emails: Array<string>, upn: string | null, fqdns: Array<string>, 
/**
 * ORG/SERV only: the INSi service, whose common name is then exactly `INSI-AUTO` or `INSI-MANU` (leave `cn`
 * empty or equal to it).
 */
insi: IgcInsi | null, };

export type IgcField = "cn" | "sn" | "gn" | "title" | "ou" | "o" | "st" | "email" | "upn" | "fqdns";

export type IgcInsi = "INSI-AUTO" | "INSI-MANU";

export type IgcOffer = "PS" | "PRO" | "ORG" | "SERV";

export type IgcProblem = { field: IgcField, 
/**
 * What to do, in the user's language.
 */
message: string, };

export type IgcRequest = { 
/**
 * Where to write the CSR (PEM); it must not exist yet unless `force`.
 */
out: string, 
/**
 * Replace `out` if it exists (the user confirmed); absent means no.
 */
force?: boolean, offer: IgcOffer, usage: IgcUsage, cn: string | null, sn: string | null, gn: string | null, title: string | null, ou: string | null, o: string | null, st: string | null, emails: Array<string>, upn: string | null, fqdns: Array<string>, 
/**
 * ORG/SERV only: the INSi service, whose common name is then exactly `INSI-AUTO` or `INSI-MANU` (leave `cn`
 * empty or equal to it).
 */
insi: IgcInsi | null, };

export type IgcUsage = "AUTH" | "AUTH_CLI" | "SIGN" | "CONF" | "S/MIME" | "SSL_SERV";

export type InstallResult = { 
/**
 * Where it was installed (e.g. the NSS database).
 */
store: string, 
/**
 * Items newly installed (certificates, keys).
 */
installed: number, 
/**
 * The whole content was already there.
 */
already_present: boolean, 
/**
 * SHA-256 of the main certificate.
 */
sha256: string, };

export type KeyRole = "authentication" | "signature" | "encryption" | "ca" | "other";

export type KeyTransport = "rsa_pkcs1v15" | "rsa_oaep_sha1" | "rsa_oaep_sha256";

export type LiveChange = "readers" | "probe_started" | "probe_finished";

export type LiveEvent = { change: LiveChange, probing: boolean, 
/**
 * Probes finished since start.
 */
probes: number, };

export type P12Request = { path: string, password: string, };

export type P12Summary = { certificates: Array<CertSummary>, keys: number, };

export type PairCode = { user_code: string, verification_uri: string, verification_uri_complete: string | null, expires_in: number, device_name: string, };

export type PairRequest = { url: string, 
/**
 * What the agent sees on the approval page (default: this computer's name).
 */
device_name: string | null, };

export type PasswordCheck = { accepted: boolean, 
/**
 * 0 (guessed at once) … 4 (very hard to guess).
 */
score: number, 
/**
 * Rules still unmet, as sentences in the user's language.
 */
unmet: Array<string>, 
/**
 * Why it is refused, when it is.
 */
error: ApiError | null, };

export type PasswordCheckRequest = { password: string, policy: PasswordPolicy, 
/**
 * Words the password must not be built from (holder's name, e-mail).
 */
user_inputs: Array<string>, };

export type PasswordPolicy = "igc-sante" | "tcs";

export type PendingSummary = { id: string, 
/**
 * Who and what the request is for, e.g. "Jeanne Dupont — IGC-Santé PS — AUTH" (holder first, never a raw DN).
 */
label: string, 
/**
 * RFC 3339 UTC.
 */
created: string, 
/**
 * Withdrawal deadline (IGC-Santé: 10 days for an uploaded CSR), RFC 3339 UTC.
 */
deadline: string | null, days_left: number | null, };

export type PinChangeRequest = { 
/**
 * Token label, as the Cartes page shows it.
 */
token: string, current: string, new_pin: string, confirm: string, 
/**
 * The user confirmed that the PIN is on its final try.
 */
final_try_ok: boolean, };

export type PinState = "ok" | "count_low" | "final_try" | "locked" | "not_initialized";

export type PortalEntry = { name: string, url: string, };

export type PortalState = { 
/**
 * The portal's display name (e.g. "PMP" or "Portail de test (local)").
 */
name: string | null, url: string | null, paired: boolean, connected: boolean, };

export type Progress = { 
/**
 * The window command doing the work (`envelope_open`).
 */
operation: string, 
/**
 * Bytes done, out of `total`.
 */
done: number, total: number, };

export type Reachable = "store" | "token" | "absent";

export type ReaderState = { name: string, card: CardState | null, };

export type RevocationCodeRequest = { sha256: string, code: string, };

export type RevocationSource = "ocsp" | "crl" | "cache";

export type RevocationStatus = "good" | "revoked" | "unknown" | "unreachable";

export type Settings = { 
/**
 * `fr`, `en` or `de`.
 */
lang: string, 
/**
 * Start Trousseau at login (off by default).
 */
autostart: boolean, 
/**
 * Portals; the first is the one the assistant pairs with. Default: the local reference portal.
 */
portals: Array<PortalEntry>, 
/**
 * Extra PKCS#11 modules (absolute paths) tried besides those found automatically.
 */
pkcs11_modules: Array<string>, 
/**
 * Notifications for cards, portal state and deadlines.
 */
notifications: boolean, 
/**
 * Remind to run the backup-key drill when the last one is older than this many days (0: never).
 */
drill_reminder_days: number, };

export type StatusProblem = { code: string, message: string, };

export type StatusReport = { status: RevocationStatus, source: RevocationSource | null, 
/**
 * RFC 3339 UTC, when revoked.
 */
revoked_at: string | null, 
/**
 * RFC 5280 reason name (`keyCompromise`, `superseded`…), when revoked and given.
 */
reason: string | null, 
/**
 * RFC 3339 UTC.
 */
checked_at: string, 
/**
 * Until when the answer holds (RFC 3339 UTC), when the responder says.
 */
next_update: string | null, 
/**
 * The verdict as one sentence in the user's language.
 */
message: string, 
/**
 * Answers that were not believed or services that did not answer, each with its stable code.
 */
problems: Array<StatusProblem>, };

export type TokenCertRow = { 
/**
 * Holder, issuer's short name, expiry and days left, SHA-256, usages, `encryption_capable`, and
 * `has_private_key`: a key object with the same `CKA_ID` is on the token.
 */
certificate: CertSummary, 
/**
 * What the certificate's key is for (a signature certificate may also be encryption-capable, as LuxTrust's
 * are).
 */
role: KeyRole, 
/**
 * `CKA_ID`, lowercase hex: the link between the certificate and its keys.
 */
key_id: string, 
/**
 * `CKA_LABEL` of the certificate object.
 */
object_label: string, 
/**
 * Usable as an encryption bi-clé: encryption-capable, private key on the token, not expired.
 */
bicle_capable: boolean, };

export type TokenCerts = { token: TokenRow, certificates: Array<TokenCertRow>, error: ApiError | null, };

export type TokenCertsView = { tokens: Array<TokenCerts>, problems: Array<ApiError>, 
/**
 * The tokens are being read in the background (see [`TokensView::probing`]).
 */
probing: boolean, };

export type TokenRow = { label: string, manufacturer: string, model: string, serial: string, 
/**
 * The reader (slot) description.
 */
slot: string, module: string, pin_state: PinState, 
/**
 * The PIN state as a sentence (retries left, what to do).
 */
pin_message: string, removable: boolean, 
/**
 * The reader has a PIN pad (protected authentication path): codes are typed there, not in the window.
 */
pin_pad: boolean, };

export type TokensView = { tokens: Array<TokenRow>, problems: Array<ApiError>, 
/**
 * The tokens are being read in the background (a card came or went): the list may change, and a
 * `live-state` event tells when it is current.
 */
probing: boolean, };

export type TrayIcon = "connected" | "disconnected" | "card-inserted";

export type TrayView = { icon: TrayIcon, 
/**
 * "● Connecté — PMP" / "○ Déconnecté".
 */
portal_line: string, 
/**
 * "Carte insérée : LuxTrust …" / "Aucune carte".
 */
card_line: string, };

/** Every command: its request and response types. */
export type Commands = {
  capabilities: { req: null; res: Capabilities };
  dashboard: { req: null; res: Dashboard };
  password_check: { req: PasswordCheckRequest; res: PasswordCheck };
  settings_get: { req: null; res: Settings };
  settings_set: { req: Settings; res: Settings };
  cards_list: { req: null; res: Array<ReaderState> };
  tokens_list: { req: null; res: TokensView };
  token_certificates: { req: null; res: TokenCertsView };
  store_list: { req: null; res: Array<CertSummary> };
  cert_inspect: { req: FileRequest; res: CertFile };
  p12_inspect: { req: P12Request; res: P12Summary };
  p12_import: { req: P12Request; res: InstallResult };
  ca_install: { req: FileRequest; res: InstallResult };
  store_remove: { req: CertRef; res: CertSummary };
  store_export: { req: ExportRequest; res: InstallResult };
  pending_list: { req: null; res: Array<PendingSummary> };
  portal_state: { req: null; res: PortalState };
  portal_pair_start: { req: PairRequest; res: PairCode };
  portal_pair_finish: { req: null; res: PortalState };
  csr_igc_check: { req: IgcCheckRequest; res: IgcCheck };
  csr_igc_new: { req: IgcRequest; res: CsrResult };
  csr_generic_new: { req: GenericRequest; res: CsrResult };
  pending_install: { req: FileRequest; res: InstallResult };
  portal_bicles: { req: null; res: Array<BicleRow> };
  portal_bicle_candidates: { req: null; res: Array<BicleCandidate> };
  portal_bicle_add: { req: BicleAdd; res: Array<BicleRow> };
  portal_bicle_remove: { req: BicleRef; res: BicleStatus };
  envelope_inspect: { req: FileRequest; res: EnvelopeView };
  envelope_open: { req: EnvelopeOpenRequest; res: EnvelopeOpened };
  portal_drill: { req: DrillRequest; res: DrillView };
  token_pin_change: { req: PinChangeRequest; res: TokenRow };
  token_pin_unblock: { req: PinChangeRequest; res: TokenRow };
  revocation_code_kept: { req: CertRef; res: boolean };
  revocation_code_reveal: { req: CertRef; res: string | null };
  revocation_code_keep: { req: RevocationCodeRequest; res: boolean };
  cert_status: { req: CertStatusRequest; res: StatusReport };
  doctor: { req: null; res: DoctorReport };
};

/** The shell's own commands (`shell()`): their request and response types. */
export type ShellCommands = {
  shell_tray_state: { req: null; res: TrayView };
  shell_tray_lines: { req: null; res: [string, string] | null };
  shell_take_link: { req: null; res: string | null };
  shell_settings_changed: { req: null; res: null };
  shell_portal_connect: { req: null; res: null };
};

/** The shell's events: their payload. */
export type Events = {
  "tray-state": TrayView;
  "navigate": string;
  "deep-link": string;
  "progress": Progress;
  "live-state": LiveEvent;
  "portal-state": PortalState;
};
