//! Readers and cards (PC/SC), PKCS#11 tokens, their certificates and PINs.

use super::*;

/// The family a card belongs to (the card module's `Family`, as the window receives it).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, TS)]
#[serde(rename_all = "kebab-case")]
pub enum CardFamily {
    /// LuxTrust smartcard.
    Luxtrust,
    /// Luxembourg identity card carrying a LuxTrust certificate.
    LuxEid,
    /// French health professional card, 3rd and 4th generation.
    Cps3,
    Cps4,
    /// A card the table does not know.
    Unknown,
}

impl From<crate::card::atr::Family> for CardFamily {
    fn from(f: crate::card::atr::Family) -> Self {
        use crate::card::atr::Family as F;
        match f {
            F::LuxTrust => CardFamily::Luxtrust,
            F::LuxEid => CardFamily::LuxEid,
            F::Cps3 => CardFamily::Cps3,
            F::Cps4 => CardFamily::Cps4,
            _ => CardFamily::Unknown,
        }
    }
}

/// What the token's flags say about the user PIN (the token module's `PinState`, as the window receives it).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, TS)]
#[serde(rename_all = "snake_case")]
pub enum PinState {
    /// No failed attempt recorded.
    Ok,
    /// At least one wrong PIN was entered since the last success.
    CountLow,
    /// One more wrong PIN will lock the card.
    FinalTry,
    /// Locked: unblock with the PUK or the issuer.
    Locked,
    /// The token has no user PIN yet.
    NotInitialized,
}

impl From<crate::token::PinState> for PinState {
    fn from(s: crate::token::PinState) -> Self {
        use crate::token::PinState as P;
        match s {
            P::Ok => PinState::Ok,
            P::CountLow => PinState::CountLow,
            P::FinalTry => PinState::FinalTry,
            P::Locked => PinState::Locked,
            P::NotInitialized => PinState::NotInitialized,
        }
    }
}

/// What a certificate's key is for (the token module's `KeyRole`, as the window receives it).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, TS)]
#[serde(rename_all = "snake_case")]
pub enum KeyRole {
    Authentication,
    Signature,
    Encryption,
    Ca,
    Other,
}

impl From<crate::token::KeyRole> for KeyRole {
    fn from(r: crate::token::KeyRole) -> Self {
        use crate::token::KeyRole as R;
        match r {
            R::Authentication => KeyRole::Authentication,
            R::Signature => KeyRole::Signature,
            R::Encryption => KeyRole::Encryption,
            R::Ca => KeyRole::Ca,
            R::Other => KeyRole::Other,
        }
    }
}

/// A PKCS#11 token (a card seen through its module, or a software token) and its PIN state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct TokenRow {
    pub label: String,
    pub manufacturer: String,
    pub model: String,
    pub serial: String,
    /// The reader (slot) description.
    pub slot: String,
    pub module: String,
    pub pin_state: PinState,
    /// The PIN state as a sentence (retries left, what to do).
    pub pin_message: String,
    pub removable: bool,
    /// The reader has a PIN pad (protected authentication path): codes are typed there, not in the window.
    pub pin_pad: bool,
}

/// Tokens of every PKCS#11 module found (LuxTrust, CPS, OpenSSL, p11-kit, configured), and the modules that
/// failed, as errors to show.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct TokensView {
    pub tokens: Vec<TokenRow>,
    pub problems: Vec<ApiError>,
    /// The tokens are being read in the background (a card came or went): the list may change, and a
    /// `live-state` event tells when it is current.
    pub probing: bool,
}

/// The tokens as the window shows them: the live state when the desktop keeps one (answered at once, even while
/// a slow module is read), else read now; the readers they were read with.
fn token_state(
    certificates: bool,
) -> (Option<std::sync::Arc<crate::live::TokenProbe>>, Vec<crate::card::ReaderState>, bool) {
    match crate::live::running() {
        Some(live) => {
            let s = live.snapshot();
            (s.tokens, s.readers, s.probing)
        }
        None => (
            Some(std::sync::Arc::new(crate::live::probe(certificates))),
            crate::card::list().unwrap_or_default(),
            false,
        ),
    }
}

/// Lists the tokens (module discovery, then each module's slots).
pub fn tokens_list(_req: (), lang: Lang) -> Result<TokensView, ApiError> {
    let (probe, readers, probing) = token_state(false);
    let probe = probe.unwrap_or_default();
    let problems = token_problems(&probe, &readers, lang);
    let tokens = probe.tokens.iter().map(|t| token_row(&t.token, lang)).collect();
    Ok(TokensView { tokens, problems, probing })
}

/// What keeps tokens from being read: a recognised card whose software is missing (what it is and where it comes
/// from), then the modules that failed (discovery or listing), as errors naming the module file.
fn token_problems(probe: &crate::live::TokenProbe, readers: &[crate::card::ReaderState], lang: Lang) -> Vec<ApiError> {
    let cards = readers.iter().filter_map(|r| r.card.as_ref().map(|c| (r, c)));
    let missing = cards.filter_map(|(r, c)| {
        crate::doctor::software_missing(c, lang).map(|(message, fix)| ApiError {
            code: "card.software_missing".into(),
            message: format!("{} : {message} {fix}", r.reader),
        })
    });
    let modules = probe.problems.iter().map(|p| {
        let r = p.report(lang);
        ApiError { code: r.code.into(), message: format!("{} ({})", r.message, r.path.display()) }
    });
    missing.chain(modules).collect()
}

pub(super) fn token_row(t: &crate::token::Token, lang: Lang) -> TokenRow {
    let pin = crate::live::pin_in(&t.pin, lang);
    let t = t.clone();
    TokenRow {
        pin_state: pin.state.into(),
        pin_message: pin.message,
        label: t.label,
        manufacturer: t.manufacturer,
        model: t.model,
        serial: t.serial,
        slot: t.slot_description,
        module: t.module.display().to_string(),
        removable: t.removable,
        pin_pad: t.pin.protected_path,
    }
}

/// A certificate on a token (public object, read without the PIN), with what its key is for.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct TokenCertRow {
    /// Holder, issuer's short name, expiry and days left, SHA-256, usages, `encryption_capable`, and
    /// `has_private_key`: a key object with the same `CKA_ID` is on the token.
    pub certificate: CertSummary,
    /// What the certificate's key is for (a signature certificate may also be encryption-capable, as LuxTrust's
    /// are).
    pub role: KeyRole,
    /// `CKA_ID`, lowercase hex: the link between the certificate and its keys.
    pub key_id: String,
    /// `CKA_LABEL` of the certificate object.
    pub object_label: String,
    /// Usable as an encryption bi-clé: encryption-capable, private key on the token, not expired.
    pub bicle_capable: bool,
}

/// A token and its certificates; `error` when they could not be read (card pulled out, module failing): the token
/// is still shown.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct TokenCerts {
    pub token: TokenRow,
    pub certificates: Vec<TokenCertRow>,
    pub error: Option<ApiError>,
}

/// Every token with its certificates, and the modules that failed, as errors to show.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct TokenCertsView {
    pub tokens: Vec<TokenCerts>,
    pub problems: Vec<ApiError>,
    /// The tokens are being read in the background (see [`TokensView::probing`]).
    pub probing: bool,
}

pub(super) fn token_cert_row(c: &crate::token::TokenCertificate, now: time::OffsetDateTime) -> TokenCertRow {
    let certificate = CertSummary::from_cert(&c.certificate, c.has_private_key, now);
    TokenCertRow {
        role: c.role.into(),
        key_id: c.key_id.clone(),
        object_label: c.object_label.clone(),
        bicle_capable: c.has_private_key && c.certificate.encryption_capable && c.certificate.not_after > now,
        certificate,
    }
}

/// The certificates of every token (public objects only: no PIN is asked), each token read on its own so that a
/// card pulled out or a failing module hides nothing else. Pairing with keys and roles come from the token module
/// (the same reading as `trousseau token certs`).
pub fn token_certificates(_req: (), lang: Lang) -> Result<TokenCertsView, ApiError> {
    let (probe, readers, probing) = token_state(true);
    let probe = probe.unwrap_or_default();
    let problems = token_problems(&probe, &readers, lang);
    let now = time::OffsetDateTime::now_utc();
    let tokens = probe
        .tokens
        .iter()
        .map(|t| {
            let (certificates, error) = match &t.certificates {
                Some(Ok(certs)) => (certs.iter().map(|c| token_cert_row(c, now)).collect(), None),
                Some(Err(e)) => (Vec::new(), Some(ApiError::from_coded(e, lang))),
                None => (Vec::new(), None),
            };
            TokenCerts { token: token_row(&t.token, lang), certificates, error }
        })
        .collect();
    Ok(TokenCertsView { tokens, problems, probing })
}

/// Readers and the cards in them (PC/SC). No service or no reader is an empty list, not an error: the window says
/// "branchez votre lecteur".
pub fn cards_list(_req: (), lang: Lang) -> Result<Vec<ReaderState>, ApiError> {
    if let Some(live) = crate::live::running() {
        return Ok(live.snapshot().readers.into_iter().map(|r| reader_state(r, lang)).collect());
    }
    match crate::card::list() {
        Ok(list) => Ok(list.into_iter().map(|r| reader_state(r, lang)).collect()),
        Err(crate::card::CardError::ServiceUnavailable { .. }) => Ok(Vec::new()),
        Err(e) => Err(ApiError::from_coded(&e, lang)),
    }
}

/// The command surface's view of a reader, the card named in `lang`.
pub fn reader_state(r: crate::card::ReaderState, lang: Lang) -> ReaderState {
    ReaderState {
        name: r.reader,
        card: r.card.map(|c| CardState { name: card_name(&c, lang), atr: c.atr, family: c.family.into() }),
    }
}

/// A card's display name in `lang`: the card table's names are French; those that are not a product's own name
/// (an unknown card, the Luxembourg identity card) are said in English and German too.
pub(super) fn card_name(c: &crate::card::CardInfo, lang: Lang) -> String {
    use crate::card::atr::Family;
    match c.family {
        Family::Unknown => lang.pick3(c.name, "Unrecognised card", "Unbekannte Karte"),
        Family::LuxEid => lang.pick3(
            c.name,
            "Luxembourg identity card (eID, LuxTrust certificate)",
            "Luxemburgischer Personalausweis (eID, LuxTrust-Zertifikat)",
        ),
        Family::LuxTrust | Family::Cps3 | Family::Cps4 => c.name.to_string(),
    }
}

/// Change a card's PIN (`current` is the PIN now), or unblock it (`current` is then the unblocking code, PUK / SO
/// PIN); `new_pin` typed twice (`confirm`).
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct PinChangeRequest {
    /// Token label, as the Cartes page shows it.
    pub token: String,
    #[ts(type = "string")]
    pub current: password::Password,
    #[ts(type = "string")]
    pub new_pin: password::Password,
    #[ts(type = "string")]
    pub confirm: password::Password,
    /// The user confirmed that the PIN is on its final try.
    pub final_try_ok: bool,
}

pub(super) fn pin_of(p: &password::Password) -> crate::token::Pin {
    crate::token::Pin::new(zeroize::Zeroizing::new(p.expose().to_string()))
}

/// A reader with a PIN pad and no code typed in the window: the reader's pad asks for them.
pub(super) fn on_pad(t: &crate::token::Token, req: &PinChangeRequest) -> bool {
    t.uses_pin_pad(!req.current.expose().is_empty() || !req.new_pin.expose().is_empty())
}

/// Changes a card's PIN: refused without trying when it is locked, or on its final try unless confirmed.
pub fn token_pin_change(req: PinChangeRequest, lang: Lang) -> Result<TokenRow, ApiError> {
    let _reread = crate::live::ProbeAfter;
    let discovery = crate::token::discover();
    let t = crate::token::find_token(&discovery, &req.token, lang).map_err(|e| ApiError::from_coded(&e, lang))?;
    crate::pin_guard::may_change_pin(&t, req.final_try_ok).map_err(|e| ApiError::from_coded(&e, lang))?;
    let changed = if on_pad(&t, &req) {
        crate::token::change_pin_on_pad(&t)
    } else {
        crate::token::change_pin(&t, pin_of(&req.current), pin_of(&req.new_pin), Some(pin_of(&req.confirm)))
    };
    changed.map_err(|e| ApiError::from_coded(&e, lang))?;
    let t = crate::token::find_token(&discovery, &req.token, lang).map_err(|e| ApiError::from_coded(&e, lang))?;
    Ok(token_row(&t, lang))
}

/// Unblocks a card's PIN with its unblocking code (`current`), setting `new_pin`.
pub fn token_pin_unblock(req: PinChangeRequest, lang: Lang) -> Result<TokenRow, ApiError> {
    let _reread = crate::live::ProbeAfter;
    let discovery = crate::token::discover();
    let t = crate::token::find_token(&discovery, &req.token, lang).map_err(|e| ApiError::from_coded(&e, lang))?;
    let unblocked = if on_pad(&t, &req) {
        crate::token::unblock_pin_on_pad(&t)
    } else {
        crate::token::unblock_pin(&t, pin_of(&req.current), pin_of(&req.new_pin), Some(pin_of(&req.confirm)))
    };
    unblocked.map_err(|e| ApiError::from_coded(&e, lang))?;
    let t = crate::token::find_token(&discovery, &req.token, lang).map_err(|e| ApiError::from_coded(&e, lang))?;
    Ok(token_row(&t, lang))
}
